#!/usr/bin/env python3
"""Golden renderings for Hearth's chat template engine, made by the references themselves.

1. tests/fixtures/chat-goldens/<template>.json: every template in tests/fixtures/chat-templates
   rendered over a set of conversations by transformers' apply_chat_template(tokenize=False) on a
   PreTrainedTokenizerFast that carries the model's bos/eos tokens (no download, no torch).
   strftime_now is pinned to 2025-03-14 15:09:26 so date-dependent templates are reproducible.
   A conversation the template rejects is recorded as {"error": message}.
2. tests/fixtures/chat-goldens/jinja_features.json: small snippets rendered with the same jinja2
   environment transformers builds (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
   its tojson/raise_exception/strftime_now/namespace), so the engine is compared with jinja2.

Run: /work/main/.venv/bin/python tests/reference/make_chat_goldens.py
"""
import datetime as _dt
import json
import pathlib

import transformers
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast
from transformers.utils import chat_template_utils

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "tests/fixtures/chat-templates"
OUT = ROOT / "tests/fixtures/chat-goldens"


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2025, 3, 14, 15, 9, 26)


chat_template_utils.datetime = _FixedDatetime

# bos/eos as each model's tokenizer_config.json sets them (None: the variable is undefined).
TOKENS = {
    "qwen3": (None, "<|im_end|>"),
    "qwen2_5-instruct": (None, "<|im_end|>"),
    "llama3_1-npm": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3_1-instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3_2-instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "deepseek_v3": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-r1-distill": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "mistral-v0_3-instruct": ("<s>", "</s>"),
    "gemma2-it": ("<bos>", "<eos>"),
    "gemma3-it": ("<bos>", "<eos>"),
    "chatml-fallback": (None, None),  # Hearth's own fallback, core/chat/chat_template.cpp
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "description": "Current time in a time zone", "parameters": {
        "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}},
}


def tool_conversation(args_as_string, call_content=None):
    args = {"city": "Paris", "unit": "celsius"}
    return [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": call_content, "tool_calls": [{
            "id": "call12345", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps(args) if args_as_string else args}}]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
        {"role": "user", "content": "Thanks! 谢谢"},
    ]


CONVERSATIONS = [
    ("plain", [{"role": "user", "content": "Hello!"}], None, {}),
    ("system_multi", [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ], None, {}),
    ("no_system_multi", [
        {"role": "user", "content": "  Tell me a joke.  "},
        {"role": "assistant", "content": "Why did the chicken cross the road?\n"},
        {"role": "user", "content": "Why?"},
    ], None, {}),
    ("chinese", [
        {"role": "system", "content": "你是一个乐于助人的助手。"},
        {"role": "user", "content": "你好，世界！请用一句话介绍你自己。"},
        {"role": "assistant", "content": "我是一个人工智能助手 🤖。"},
        {"role": "user", "content": "日本語も話せますか？ 🎉"},
    ], None, {}),
    ("tools_dict_args", tool_conversation(False), [WEATHER_TOOL, TIME_TOOL], {}),
    ("tools_str_args", tool_conversation(True), [WEATHER_TOOL], {}),
    # OpenAI clients send content None (dropped by transformers) or "" with tool calls.
    ("tools_empty_content", tool_conversation(True, ""), [WEATHER_TOOL, TIME_TOOL], {}),
    ("tools_dict_empty_content", tool_conversation(False, ""), [WEATHER_TOOL], {}),
    ("tools_first_turn", [{"role": "user", "content": "Weather in Oslo?"}], [WEATHER_TOOL], {}),
    ("two_tool_calls", [
        {"role": "user", "content": "Weather and time in Tokyo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "callAAAAA", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}},
            {"id": "callBBBBB", "type": "function", "function": {"name": "get_time", "arguments": {"tz": "Asia/Tokyo"}}}]},
        {"role": "tool", "tool_call_id": "callAAAAA", "content": "sunny"},
        {"role": "tool", "tool_call_id": "callBBBBB", "content": "09:00"},
    ], [WEATHER_TOOL, TIME_TOOL], {}),
    ("reasoning", [
        {"role": "user", "content": "What is 17*3?"},
        {"role": "assistant", "reasoning_content": "17*3 = 51.", "content": "51"},
        {"role": "user", "content": "And 17*4?"},
        {"role": "assistant", "content": "<think>\n17*4 = 68.\n</think>\n\n68"},
        {"role": "user", "content": "Thanks."},
    ], None, {}),
    ("reasoning_last", [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>greeting</think>Hello there!"},
    ], None, {}),
    ("extra_vars", [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Date?"},
    ], None, {"enable_thinking": False, "date_string": "01 Jan 2025", "custom_flag": True}),
    ("system_only", [{"role": "system", "content": "Just a system prompt."}], None, {}),
]


def make_tokenizer(bos, eos):
    backend = Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>"))
    kwargs = {"tokenizer_object": backend, "unk_token": "<unk>"}
    if bos is not None:
        kwargs["bos_token"] = bos
    if eos is not None:
        kwargs["eos_token"] = eos
    tok = PreTrainedTokenizerFast(**kwargs)
    tok.unk_token = None  # only bos/eos reach the template, as renderChat passes them
    return tok


def render_template_goldens():
    for path in sorted(TEMPLATES.glob("*.jinja")):
        name = path.stem
        bos, eos = TOKENS[name]
        tok = make_tokenizer(bos, eos)
        tok.chat_template = path.read_text(encoding="utf-8")
        cases = []
        for case, messages, tools, extra in CONVERSATIONS:
            for agp in (True, False):
                entry = {"case": case, "messages": messages, "tools": tools, "add_generation_prompt": agp,
                         "extra": extra, "bos_token": bos, "eos_token": eos}
                try:
                    entry["prompt"] = tok.apply_chat_template(
                        messages, tools=tools, add_generation_prompt=agp, tokenize=False, **extra)
                except Exception as e:  # the template's own raise_exception, or a jinja2 error
                    entry["error"] = str(e)
                cases.append(entry)
        (OUT / f"{name}.json").write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(name, sum("prompt" in c for c in cases), "rendered,", sum("error" in c for c in cases), "errors")


FEATURES = [
    ("text", "Hello world", {}),
    ("var", "{{ name }}!", {"name": "Ann"}),
    ("undefined_prints_empty", "[{{ nothing }}]", {}),
    ("none_prints_None", "{{ x }}", {"x": None}),
    ("bools_ints_floats", "{{ true }} {{ false }} {{ 3 }} {{ 2.5 }} {{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ 1e-5 }}", {}),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2**3**2 }} {{ -3 + 1 }} {{ 10 - 2 * 3 }}", {}),
    ("concat", "{{ 'a' ~ 1 ~ none ~ true }} {{ 'x' + 'y' }} {{ [1] + [2, 3] }} {{ 'ab' * 3 }}", {}),
    ("compare", "{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1, 2] == [1, 2] }}", {}),
    ("logic", "{{ 1 and 'x' }} {{ 0 or 'y' }} {{ not 0 }} {{ none or [] }} {{ 'a' if x else 'b' }} [{{ 'a' if x }}]", {"x": 0}),
    ("in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'z' not in d }} {{ 3 not in [1] }}", {"d": {"k": 1}}),
    ("if_elif_else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    ("for_prev_next", "{% for x in [1, 2, 3] %}[{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}]{% endfor %}", {}),
    ("for_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}", {}),
    ("for_else", "{% for x in [] %}{{ x }}{% else %}empty{% endfor %} {% for x in undefined_list %}x{% else %}none{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.index }} {% endfor %}", {}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2, "c": 3}}),
    ("for_dict_values", "{{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} {{ d.get('z', 'dflt') }} {{ d.get('z') }}", {"d": {"b": 1, "a": 2}}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("set_scoping", "{% set a = 1 %}{% for i in [1] %}{% set a = 2 %}{{ a }}{% endfor %}{{ a }}{% if true %}{% set a = 3 %}{% endif %}{{ a }}", {}),
    ("set_per_iteration", "{% for i in [1, 2, 3] %}{% if loop.first %}{% set a = 5 %}{% endif %}[{{ a }}]{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(count=0, last='') %}{% for x in ['a', 'b'] %}{% set ns.count = ns.count + 1 %}{% set ns.last = x %}{% endfor %}{{ ns.count }}{{ ns.last }}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = [3, 4] %}{{ c }}{{ d }}", {}),
    ("set_block", "{% set block %}Hi {{ name }}!{% endset %}[{{ block }}]", {"name": "Bo"}),
    ("macro", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('A') }} {{ greet('B', 'Hi') }} {{ greet(greeting='Yo', name='C') }}", {}),
    ("macro_sees_globals", "{% set x = 1 %}{% macro m() %}{{ x }}{{ y }}{% endmacro %}{% set x = 2 %}{{ m() }}", {"y": "Y"}),
    ("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("whitespace_control", "a  {{- ' b ' -}}  c\n  {%- if true %}  d  {%- endif %}\n e", {}),
    ("trim_lstrip_blocks", "<ul>\n    {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>\n", {}),
    ("lstrip_plus", "  {%+ if true %}x{% endif %}\n  {% if true +%}\ny{% endif %}", {}),
    ("comments", "a{# comment #}b\n  {# own line #}\nc{#- strip -#}  d", {}),
    ("raw", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}!", {}),
    ("trailing_newline", "line\n", {}),
    ("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e' }}{{ \"q\\\"r\" }}{{ '\\u00e9\\x41' }}{{ 'adj' 'acent' }}", {}),
    ("subscripts", "{{ l[0] }}{{ l[-1] }}{{ l[1:] }}{{ l[:-1] }}{{ l[::-1] }}{{ l[::2] }}{{ l[-2:] }}{{ s[1:3] }}{{ s[::-1] }}{{ d['k'] }}{{ d.k }}{{ l.0 }}", {"l": [1, 2, 3, 4], "s": "héllo", "d": {"k": "v"}}),
    ("unicode_len_index", "{{ s|length }} {{ s[0] }} {{ s[-1] }} {{ s[-9:] }} {{ s|reverse }}", {"s": "你好世界🎉abc"}),
    ("attr_missing", "[{{ d.missing }}][{{ d['missing'] }}][{{ l[10] }}] {{ d.missing is defined }} {{ d.k is defined }}", {"d": {"k": 1}, "l": [1]}),
    ("tests", "{{ x is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ d is mapping }} {{ l is sequence }} {{ s is iterable }} {{ n is none }} {{ u is undefined }} {{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 'a' is in 'abc' }} {{ true is true }} {{ false is false }} {{ x is equalto 'x' }}", {"x": "x", "d": {}, "l": [], "s": "s", "n": None}),
    ("undefined_tests", "{{ u is iterable }} {{ u is sequence }} {{ u|length }} {{ 'x' in u }} {{ u == none }} {{ u is none }} {{ not u }}", {}),
    ("filters_str", "{{ '  x  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'abc'|upper }}|{{ 'ABC'|lower }}|{{ 'hello world-foo(bar'|title }}|{{ 'hELLO'|capitalize }}|{{ 'a-b-c'|replace('-', '+') }}|{{ 'aaa'|replace('a', 'b', 2) }}", {}),
    ("filters_default", "{{ u|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|default('d') }} {{ u|d('dd') }}", {}),
    ("filters_seq", "{{ l|first }} {{ l|last }} {{ l|join(',') }} {{ l|length }} {{ l|count }} {{ l|sort }} {{ l|sort(reverse=true) }} {{ l|unique|list }} {{ l|reverse|list }} {{ l|sum }} {{ l|min }} {{ l|max }} {{ 'abc'|list }}", {"l": [3, 1, 2, 3]}),
    ("filters_map_select", "{{ users|map(attribute='name')|join(', ') }} {{ users|selectattr('admin')|map(attribute='name')|list }} {{ users|rejectattr('admin')|list|length }} {{ users|selectattr('role', 'equalto', 'user')|list|length }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('even')|list }} {{ ['a', 'B']|map('upper')|list }}", {"users": [{"name": "a", "admin": True, "role": "admin"}, {"name": "b", "admin": False, "role": "user"}]}),
    ("filters_num", "{{ '42'|int }} {{ '3.7'|int }} {{ 'x'|int }} {{ 3.9|int }} {{ '2.5'|float }} {{ 3|float }} {{ -3|abs }} {{ -2.5|abs }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 7|round }} {{ 2.1|round(0, 'ceil') }}", {}),
    ("filters_misc", "{{ 3|string ~ 'x' }} {{ d|dictsort }} {{ d|items|list }} {{ 'one two  three'|wordcount }} {{ 'a\\nb'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ '<&>'|e }} {{ 'x'|safe }}", {"d": {"b": 1, "a": 2}}),
    ("tojson", "{{ d|tojson }}\n{{ d|tojson(indent=2) }}\n{{ l|tojson }} {{ 'é\"\\n'|tojson }} {{ none|tojson }} {{ 1.5|tojson }} {{ {}|tojson }} {{ []|tojson(indent=4) }}", {"d": {"b": [1, {"x": None}], "a": "ü", "c": {}, "e": True}, "l": [1, "2", 3.0]}),
    ("tojson_sort", "{{ d|tojson(sort_keys=true) }} {{ d|tojson(indent=1, sort_keys=true) }}", {"d": {"b": 1, "a": {"z": 1, "y": 2}}}),
    ("repr_output", "{{ l }} {{ d }} {{ (1, 2) | list }} {{ ['it\\'s', \"q\"] }}", {"l": [1, "a", None, True, 1.5], "d": {"k": [1], "j": "v"}}),
    ("str_methods", "{{ s.startswith('He') }} {{ s.endswith(('x', 'ld')) }} {{ s.split() }} {{ s.split('o') }} {{ s.split('o', 1) }} {{ s.rsplit('o', 1) }} {{ '  pad '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '\\n\\nhi\\n'.lstrip('\\n') }}|{{ 'hi  '.rstrip() }}|{{ s.replace('l', 'L') }} {{ s.upper() }} {{ s.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ s.count('l') }} {{ s.find('o') }} {{ s.find('z') }} {{ '-'.join(['a', 'b']) }}", {"s": "Hello World"}),
    ("str_format", "{{ '{} and {}'.format('a', 'b') }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='N') }}", {}),
    ("split_think", "{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}", {"c": "<think>\nreasoning here\n</think>\n\nfinal answer"}),
    ("dict_literal_and_global", "{% set d = {'a': 1, 'b': [2, 3]} %}{{ d.b[1] }} {{ dict(x=1, y=2)|tojson }} {{ range(2, 8, 3)|list }}", {}),
    ("filter_block", "{% filter upper %}hello {{ name }}{% endfilter %}", {"name": "bob"}),
    ("generation_block", "{% generation %}inside{% endgeneration %}", {}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M:%S') }} {{ strftime_now('%A %B %j %I%p') }}", {}),
    ("loop_over_messages", "{% for m in messages %}{{ m.role }}:{{ m['content'] }};{% endfor %}{{ messages|length }}{{ messages[-1].role }}", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}),
    ("message_equality", "{% set users = messages|selectattr('role', 'equalto', 'user')|list %}{% for m in messages %}{{ m == users[-1] }}{% endfor %}", {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}),
    # Errors: the reference raises; the engine must too.
    ("err_raise", "{{ raise_exception('Bad role: ' ~ role) }}", {"role": "robot"}),
    ("err_undefined_attr", "{{ x.y.z }}", {"x": {}}),
    ("err_undefined_add", "{{ 'a' + nope }}", {}),
    ("err_type_add", "{{ 1 + 'a' }}", {}),
    ("err_call_undefined", "{{ nope() }}", {}),
    ("err_list_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("err_div_zero", "{{ 1 / 0 }}", {}),
    ("err_tojson_undefined", "{{ nope|tojson }}", {}),
    ("err_namespace_underscore", "{% set ns = namespace(_x=1) %}", {}),
    ("err_big_range", "{% for i in range(200000) %}{% endfor %}", {}),
]


def render_feature_goldens():
    results = []
    for name, source, context in FEATURES:
        entry = {"name": name, "template": source, "context": context}
        try:
            template = chat_template_utils._compile_jinja_template(source)
            entry["output"] = template.render(**context)
        except Exception as e:
            entry["error"] = f"{type(e).__name__}: {e}"
        results.append(entry)
    (OUT / "jinja_features.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print("features:", sum("output" in r for r in results), "rendered,", sum("error" in r for r in results), "errors")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    print("transformers", transformers.__version__)
    render_template_goldens()
    render_feature_goldens()
