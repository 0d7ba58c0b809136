// Feeds arbitrary bytes to the config.json and generation_config.json parsers. Any accepted
// config must also survive the arithmetic built on it (parameter count, KV bytes) without
// overflow, which UBSan would report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto config = hearth::parseModelConfig(text, "fuzz/config.json");
    if (config.isOk()) {
        volatile std::int64_t sink = config->parameterCount() + config->kvBytesPerToken(4);
        (void)sink;
    }
    auto generation = hearth::parseGenerationConfig(text, "fuzz/generation_config.json");
    (void)generation.isOk();
    return 0;
}
