// Ranges follow the OpenAI API reference; extensions (top_k, min_p, repetition_penalty) follow
// vLLM's and llama.cpp's names so Open WebUI's custom parameters arrive as they send them.
#include "server/request_params.h"

#include <cmath>
#include <limits>

namespace hearth::server {

namespace {

const char* jsonTypeName(const nlohmann::ordered_json& v)
{
    if (v.is_string()) return "a string";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number()) return "a number";
    if (v.is_array()) return "an array";
    if (v.is_object()) return "an object";
    return "null";
}

const nlohmann::ordered_json* field(const nlohmann::ordered_json& body, const char* key)
{
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return nullptr;
    return &*it;
}

std::optional<ApiError> readStop(const nlohmann::ordered_json& body, std::vector<std::string>& out)
{
    const auto* v = field(body, "stop");
    if (!v) return std::nullopt;
    if (v->is_string()) {
        if (!v->get_ref<const std::string&>().empty()) out.push_back(v->get<std::string>());
        return std::nullopt;
    }
    if (!v->is_array()) return typeError("stop", "a string or an array of strings", *v);
    if (v->size() > 16) return invalidRequest("'stop' accepts at most 16 strings", "stop");
    for (const auto& s : *v) {
        if (!s.is_string()) return typeError("stop", "a string or an array of strings", s);
        if (!s.get_ref<const std::string&>().empty()) out.push_back(s.get<std::string>());
    }
    return std::nullopt;
}

std::optional<ApiError> readLogitBias(const nlohmann::ordered_json& body, SamplingParams& sampling)
{
    const auto* v = field(body, "logit_bias");
    if (!v) return std::nullopt;
    if (!v->is_object()) return typeError("logit_bias", "an object", *v);
    for (auto it = v->begin(); it != v->end(); ++it) {
        char* end = nullptr;
        long id = std::strtol(it.key().c_str(), &end, 10);
        if (it.key().empty() || *end != '\0' || id < 0 || id > std::numeric_limits<std::int32_t>::max()) {
            return invalidRequest("'logit_bias' keys must be token ids, got '" + it.key() + "'", "logit_bias");
        }
        if (!it->is_number()) return typeError("logit_bias", "numbers as values", *it);
        double bias = it->get<double>();
        if (!(bias >= -100.0 && bias <= 100.0)) return invalidRequest("'logit_bias' values must be in [-100, 100]", "logit_bias");
        sampling.logitBias[static_cast<std::int32_t>(id)] = static_cast<float>(bias);
    }
    return std::nullopt;
}

std::optional<ApiError> readLora(const nlohmann::ordered_json& body, CommonParams& out)
{
    for (const char* key : {"lora", "adapter"}) {
        const auto* v = field(body, key);
        if (!v) continue;
        if (v->is_string()) {
            out.lora = v->get<std::string>();
        } else if (v->is_object()) {
            auto name = v->find("name");
            if (name == v->end() || !name->is_string()) return invalidRequest(std::string("'") + key + ".name' must be a string", key);
            out.lora = name->get<std::string>();
            auto scale = v->find("scale");
            if (scale != v->end() && !scale->is_null()) {
                if (!scale->is_number() || !std::isfinite(scale->get<double>())) {
                    return invalidRequest(std::string("'") + key + ".scale' must be a finite number", key);
                }
                out.loraScale = scale->get<float>();
            }
        } else {
            return typeError(key, "a string or {\"name\", \"scale\"}", *v);
        }
    }
    return std::nullopt;
}

}  // namespace

ApiError typeError(const std::string& key, const char* expected, const nlohmann::ordered_json& got)
{
    return invalidRequest("Invalid type for '" + key + "': expected " + expected + ", but got " + jsonTypeName(got) +
                              " instead.",
                          key);
}

std::optional<ApiError> parseBodyObject(const std::string& text, nlohmann::ordered_json& out)
{
    if (text.empty()) return invalidRequest("The request body is empty; send a JSON object");
    out = nlohmann::ordered_json::parse(text, nullptr, false);
    if (out.is_discarded()) return invalidRequest("The request body is not valid JSON");
    if (!out.is_object()) return invalidRequest("The request body must be a JSON object");
    return std::nullopt;
}

std::optional<ApiError> readBool(const nlohmann::ordered_json& body, const char* key, bool& out)
{
    const auto* v = field(body, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) return typeError(key, "a boolean", *v);
    out = v->get<bool>();
    return std::nullopt;
}

std::optional<ApiError> readInt(const nlohmann::ordered_json& body, const char* key, std::int64_t lo, std::int64_t hi,
                                std::optional<std::int64_t>& out)
{
    const auto* v = field(body, key);
    if (!v) return std::nullopt;
    std::int64_t value = 0;
    if (v->is_number_integer()) {
        value = v->is_number_unsigned() && v->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max())
                    ? std::numeric_limits<std::int64_t>::max()
                    : v->get<std::int64_t>();
    } else if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
               std::fabs(v->get<double>()) < 9e18) {
        value = static_cast<std::int64_t>(v->get<double>());
    } else {
        return typeError(key, "an integer", *v);
    }
    if (value < lo || value > hi) {
        return invalidRequest("'" + std::string(key) + "' must be between " + std::to_string(lo) + " and " +
                                  std::to_string(hi) + ", got " + std::to_string(value),
                              key);
    }
    out = value;
    return std::nullopt;
}

std::optional<ApiError> readNumber(const nlohmann::ordered_json& body, const char* key, double lo, double hi,
                                   std::optional<double>& out)
{
    const auto* v = field(body, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) return typeError(key, "a number", *v);
    double value = v->get<double>();
    if (!(value >= lo && value <= hi)) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "'%s' must be between %g and %g, got %g", key, lo, hi, value);
        return invalidRequest(buf, key);
    }
    out = value;
    return std::nullopt;
}

std::optional<ApiError> readMaxTokens(const nlohmann::ordered_json& body, const char* key,
                                      std::optional<std::int32_t>& out)
{
    std::optional<std::int64_t> value;
    if (auto e = readInt(body, key, 1, std::numeric_limits<std::int32_t>::max(), value)) return e;
    if (value) out = static_cast<std::int32_t>(*value);
    return std::nullopt;
}

std::optional<ApiError> parseCommonParams(const nlohmann::ordered_json& body, CommonParams& out)
{
    if (const auto* m = field(body, "model")) {
        if (!m->is_string()) return typeError("model", "a string", *m);
        out.model = m->get<std::string>();
    }
    if (auto e = readBool(body, "stream", out.stream)) return e;
    if (const auto* so = field(body, "stream_options")) {
        if (!so->is_object()) return typeError("stream_options", "an object", *so);
        if (auto e = readBool(*so, "include_usage", out.includeUsage)) {
            e->param = "stream_options.include_usage";
            return e;
        }
    }
    std::optional<std::int64_t> n;
    if (auto e = readInt(body, "n", 1, 128, n)) return e;
    if (n && *n > 1) return invalidRequest("Only one choice per request is supported (n must be 1)", "n");
    std::optional<std::int64_t> bestOf;
    if (auto e = readInt(body, "best_of", 1, 128, bestOf)) return e;
    if (bestOf && *bestOf > 1) return invalidRequest("best_of > 1 is not supported", "best_of");

    SamplingParams& s = out.sampling;
    std::optional<double> number;
    if (auto e = readNumber(body, "temperature", 0.0, 2.0, number)) return e;
    if (number) s.temperature = static_cast<float>(*number);
    number.reset();
    if (auto e = readNumber(body, "top_p", 0.0, 1.0, number)) return e;
    if (number) {
        // top_p = 0 keeps only the most likely token: greedy, which the sampler spells temperature 0.
        if (*number == 0.0) s.temperature = 0.0f;
        else s.topP = static_cast<float>(*number);
    }
    std::optional<std::int64_t> topK;
    if (auto e = readInt(body, "top_k", -1, std::numeric_limits<std::int32_t>::max(), topK)) return e;
    if (topK) s.topK = *topK < 0 ? 0 : static_cast<std::int32_t>(*topK);  // -1: off (llama.cpp)
    number.reset();
    if (auto e = readNumber(body, "min_p", 0.0, 1.0, number)) return e;
    if (number) {
        if (*number >= 1.0) return invalidRequest("'min_p' must be below 1", "min_p");
        s.minP = static_cast<float>(*number);
    }
    for (const char* key : {"presence_penalty", "frequency_penalty"}) {
        number.reset();
        if (auto e = readNumber(body, key, -2.0, 2.0, number)) return e;
        if (number) (std::string(key) == "presence_penalty" ? s.presencePenalty : s.frequencyPenalty) = float(*number);
    }
    for (const char* key : {"repetition_penalty", "repeat_penalty"}) {
        number.reset();
        if (auto e = readNumber(body, key, 0.0, 100.0, number)) return e;
        if (number) {
            if (*number <= 0.0) return invalidRequest(std::string("'") + key + "' must be above 0", key);
            s.repetitionPenalty = static_cast<float>(*number);
        }
    }
    if (const auto* seed = field(body, "seed")) {
        if (!seed->is_number_integer()) return typeError("seed", "an integer", *seed);
        // Negative seeds are valid for OpenAI; any 64-bit pattern is a fine sampler seed.
        s.seed = seed->is_number_unsigned() ? seed->get<std::uint64_t>()
                                            : static_cast<std::uint64_t>(seed->get<std::int64_t>());
    }
    if (auto e = readLogitBias(body, s)) return e;
    if (auto e = readStop(body, out.stop)) return e;
    if (auto e = readLora(body, out)) return e;
    if (const auto* rf = field(body, "response_format")) {
        if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string()) {
            return invalidRequest("'response_format' must be an object like {\"type\": \"text\"}", "response_format");
        }
        std::string type = (*rf)["type"].get<std::string>();
        if (type != "text") {
            return invalidRequest("response_format type '" + type +
                                      "' is not supported yet (no structured output); use {\"type\": \"text\"}",
                                  "response_format");
        }
    }
    return std::nullopt;
}

}  // namespace hearth::server
