// Fuzzes the chat template engine: the input is parsed as a template and rendered over a small
// fixed conversation. Any input must end in a string or an Error, within the render limits,
// without crashing, hanging or growing memory without bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/chat_template.h"

namespace {

const nlohmann::ordered_json& context()
{
    static const nlohmann::ordered_json c = nlohmann::ordered_json::parse(R"({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello 你好 🎉"},
            {"role": "assistant", "content": "<think>\nhm\n</think>\n\nHi", "reasoning_content": "hm",
             "tool_calls": [{"id": "call12345", "type": "function",
                             "function": {"name": "f", "arguments": {"x": 1, "y": [true, null, 2.5]}}}]},
            {"role": "tool", "tool_call_id": "call12345", "content": "{\"ok\": 1}"}
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "add_generation_prompt": true,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "enable_thinking": false
    })");
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    auto tmpl = hearth::ChatTemplate::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    if (!tmpl)
        return 0;
    hearth::jinja::RenderLimits limits;
    limits.maxLoopIterations = 20000;
    limits.maxSteps = 300000;
    limits.maxOutputBytes = 1u << 20;
    tmpl->setLimits(limits);
    tmpl->setClock([] { return std::tm{}; });
    auto out = tmpl->render(context());
    (void)out;
    return 0;
}
