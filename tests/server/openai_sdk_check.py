#!/usr/bin/env python3
"""Black-box check of `hearth-cli serve` with the official `openai` Python SDK (from PyPI).

Starts the real server on a loopback port over the synthetic reference model (generated with
`hearth-cli gen-reference` when missing), then drives it only through the SDK: model list,
chat (non-streaming, streaming with include_usage), stop strings, seeds, logprobs, a tools
round trip, legacy completions, a LoRA adapter served as a model id, and the SDK's typed
exceptions for bad key, unknown model and invalid parameters. Finally Ctrl-C must stop it.

Exit code 77 (ctest SKIP_RETURN_CODE) when the SDK is not installed: CI has only Debian
packages. Usage:
  openai_sdk_check.py --cli build/bin/hearth-cli --workdir build --tokenizer tests/fixtures/tokenizers/qwen3
"""
import argparse
import concurrent.futures
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_harness  # noqa: E402

try:
    import openai
except ImportError:
    print("SKIP: the openai Python package is not installed (pip install openai)")
    sys.exit(77)

API_KEY = "sk-hearth-sdk-check"
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def start_server(cli, model, lora):
    server = serve_harness.start_server(cli, model, ["--api-key", API_KEY, "--lora", "sql=" + lora], wait=False)
    saw_loading = False
    while not server.ready.is_set() and server.proc.poll() is None:
        try:
            with urllib.request.urlopen(server.root + "/health", timeout=5) as r:
                if r.status == 200:
                    break
        except urllib.error.HTTPError as e:
            body = json.loads(e.read())
            if not saw_loading:
                check(e.code == 503 and "error" in body, "health is 503 with an error envelope while loading")
                saw_loading = True
        except OSError:
            pass
        time.sleep(0.2)
    # Adapters are attached just after the load finishes; serve says 'model ready' after that.
    server.wait_ready()
    return server


def run_checks(base):
    client = openai.OpenAI(base_url=base, api_key=API_KEY, max_retries=0, timeout=120)
    ids = [m.id for m in client.models.list().data]
    check("ref-qwen2-d64" in ids and "sql" in ids, "models.list has the base model and the adapter: %s" % ids)
    check(client.models.retrieve("ref-qwen2-d64").id == "ref-qwen2-d64", "models.retrieve")

    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello"}]
    whole = client.chat.completions.create(model="ref-qwen2-d64", messages=messages, max_tokens=12, temperature=0)
    text = whole.choices[0].message.content
    check(isinstance(text, str) and whole.choices[0].finish_reason in ("stop", "length"), "chat non-streaming")
    check(whole.usage.completion_tokens >= 1 and whole.usage.total_tokens ==
          whole.usage.prompt_tokens + whole.usage.completion_tokens, "usage adds up")

    stream = client.chat.completions.create(model="ref-qwen2-d64", messages=messages, max_tokens=12, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    pieces, usage, finish, roles = [], None, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    check("".join(pieces) == text, "greedy stream reassembles to the non-streamed reply")
    check(roles[:1] == ["assistant"], "the stream starts with the assistant role")
    check(usage is not None and usage.completion_tokens == whole.usage.completion_tokens, "include_usage chunk")
    check(finish == whole.choices[0].finish_reason, "stream finish_reason")

    if len(text) > 3:
        stop = text[len(text) // 2]
        stopped = client.chat.completions.create(model="ref-qwen2-d64", messages=messages, max_tokens=12,
                                                 temperature=0, stop=[stop])
        check(stopped.choices[0].message.content == text[: text.index(stop)] and
              stopped.choices[0].finish_reason == "stop", "stop string %r cuts the reply before it" % stop)

    seeded = [client.chat.completions.create(model="ref-qwen2-d64", messages=messages, max_tokens=10,
                                             temperature=1.0, seed=1234).choices[0].message.content for _ in range(2)]
    check(seeded[0] == seeded[1], "same seed, same reply")

    lp = client.chat.completions.create(model="ref-qwen2-d64", messages=messages, max_tokens=4, temperature=0,
                                        logprobs=True, top_logprobs=2)
    content = lp.choices[0].logprobs.content
    check(len(content) == lp.usage.completion_tokens and all(len(c.top_logprobs) == 2 and c.logprob <= 0 for c in content),
          "logprobs with top_logprobs")

    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    first = client.chat.completions.create(model="ref-qwen2-d64", messages=[{"role": "user", "content": "Paris?"}],
                                           tools=tools, max_tokens=8, temperature=0)
    check(first.choices[0].finish_reason in ("stop", "length", "tool_calls"), "chat with tools")
    follow = client.chat.completions.create(model="ref-qwen2-d64", tools=tools, max_tokens=4, temperature=0, messages=[
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22C"}])
    check(follow.choices[0].message.role == "assistant", "tool round trip (assistant tool_calls + tool result) accepted")

    comp = client.completions.create(model="ref-qwen2-d64", prompt="Once upon a time", max_tokens=5, temperature=0)
    check(comp.object == "text_completion" and comp.usage.completion_tokens >= 1, "legacy completions")
    comp_stream = client.completions.create(model="ref-qwen2-d64", prompt="Once upon a time", max_tokens=5,
                                            temperature=0, stream=True)
    check("".join(c.choices[0].text for c in comp_stream if c.choices) == comp.choices[0].text, "completions stream")

    # Concurrent greedy streams go through continuous batching and must match the sequential reply.
    def greedy_stream(_):
        out = client.chat.completions.create(model="ref-qwen2-d64", messages=messages, max_tokens=12,
                                             temperature=0, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in out if c.choices)
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(greedy_stream, range(16)))
    check(all(r == text for r in replies), "16 concurrent greedy streams equal the sequential reply")

    lora = client.chat.completions.create(model="sql", messages=messages, max_tokens=6, temperature=0)
    check(lora.model == "sql" and lora.usage.completion_tokens >= 1, "adapter served as a model id")

    def raises(exc, fn, what):
        try:
            fn()
        except exc as e:
            check(True, "%s raises %s (%s)" % (what, exc.__name__, getattr(e, "status_code", "")))
            return
        except Exception as e:  # noqa: BLE001 - report the wrong type
            check(False, "%s raised %s instead of %s: %s" % (what, type(e).__name__, exc.__name__, e))
            return
        check(False, "%s did not raise" % what)

    bad_key = openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0)
    raises(openai.AuthenticationError, lambda: bad_key.models.list(), "a wrong key")
    raises(openai.NotFoundError, lambda: client.chat.completions.create(
        model="no-such-model", messages=messages, max_tokens=2), "an unknown model")
    raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model="ref-qwen2-d64", messages=messages, max_tokens=2, n=2), "n=2")
    raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model="ref-qwen2-d64", messages=messages, max_tokens=2, extra_body={"temperature": "hot"}), "a string temperature")
    context = client.models.retrieve("ref-qwen2-d64").model_extra["meta"]["context_length"]
    raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model="ref-qwen2-d64", messages=[{"role": "user", "content": "x " * (context + 10)}], max_tokens=2),
        "a prompt over the %d-token context" % context)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--models", help="folder with ref-qwen2-d64 and ref-qwen2-d64-lora (default: generate)")
    args = parser.parse_args()
    models = args.models or serve_harness.ensure_models(args.cli, args.workdir, args.tokenizer, "sdk-reference-models")
    server = start_server(args.cli, os.path.join(models, "ref-qwen2-d64"), os.path.join(models, "ref-qwen2-d64-lora"))
    try:
        run_checks(server.base)
    finally:
        code = server.stop()
        check(code == 0, "Ctrl-C stops the server cleanly (exit code %s)" % code)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
