// POST /v1/completions (legacy text completions: Continue, Cody autocomplete, base models).
// max_tokens defaults to 16, as in OpenAI's API (docs/SERVER.md says so); one prompt per request.
#include <httplib.h>

#include <algorithm>
#include <ctime>

#include "server/generation.h"
#include "server/request_params.h"
#include "server/server_context.h"

namespace hearth::server {

namespace {

using OJson = nlohmann::ordered_json;

constexpr std::int32_t kDefaultMaxTokens = 16;

bool isTokenList(const OJson& v)
{
    return v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const OJson& x) { return x.is_number_integer(); });
}

// The prompt as text or token ids: a string, [string], [ids] or [[ids]].
std::optional<ApiError> readPrompt(const OJson& body, std::string& text, std::vector<TokenId>& ids, bool& isIds)
{
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) return invalidRequest("'prompt' is required", "prompt");
    const OJson* p = &*it;
    if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || isTokenList((*p)[0]))) p = &(*p)[0];
    if (p->is_string()) {
        text = p->get<std::string>();
        isIds = false;
        if (text.empty()) return invalidRequest("'prompt' must not be empty", "prompt");
        return std::nullopt;
    }
    if (isTokenList(*p)) {
        for (const OJson& id : *p) {
            if (id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > std::numeric_limits<TokenId>::max()) {
                return invalidRequest("'prompt' holds a token id out of range", "prompt");
            }
            ids.push_back(static_cast<TokenId>(id.get<std::int64_t>()));
        }
        isIds = true;
        return std::nullopt;
    }
    if (p->is_array() && p->size() > 1) return invalidRequest("Only one prompt per request is supported", "prompt");
    return typeError("prompt", "a string, an array of token ids, or a one-element array of either", *p);
}

}  // namespace

void handleCompletions(ServerContext& ctx, const httplib::Request& request, httplib::Response& response)
{
    OJson body;
    if (auto e = parseBodyObject(request.body, body)) return writeError(response, *e);
    CommonParams common;
    if (auto e = parseCommonParams(body, common)) return writeError(response, *e);
    std::optional<std::int32_t> maxTokens;
    if (auto e = readMaxTokens(body, "max_tokens", maxTokens)) return writeError(response, *e);
    std::optional<std::int64_t> logprobs;
    if (auto e = readInt(body, "logprobs", 0, 5, logprobs)) return writeError(response, *e);
    bool echo = false;
    if (auto e = readBool(body, "echo", echo)) return writeError(response, *e);
    if (auto suffix = body.find("suffix"); suffix != body.end() && !suffix->is_null()) {
        if (!suffix->is_string()) return writeError(response, typeError("suffix", "a string", *suffix));
        if (!suffix->get_ref<const std::string&>().empty()) {
            return writeError(response, invalidRequest("'suffix' (fill-in-the-middle) is not supported", "suffix"));
        }
    }
    std::string promptText;
    std::vector<TokenId> promptIds;
    bool isIds = false;
    if (auto e = readPrompt(body, promptText, promptIds, isIds)) return writeError(response, *e);

    auto target = resolveTarget(ctx, common);
    if (!target) return writeError(response, target.error());
    if (auto e = ctx.checkReady()) return writeError(response, *e);
    auto tokenizer = ctx.engine().tokenizer();
    auto info = ctx.engine().modelInfo();
    if (!tokenizer || !info) return writeError(response, modelNotLoaded("No model is loaded"));

    GenerateRequest generate;
    if (isIds) {
        for (TokenId id : promptIds) {
            if (static_cast<std::size_t>(id) >= tokenizer->vocabSize()) {
                return writeError(response, invalidRequest("Token id " + std::to_string(id) + " is outside the vocabulary", "prompt"));
            }
        }
        generate.promptIds = promptIds;
        promptText = tokenizer->decode(promptIds);
    } else {
        // Plain text for a base model: the tokenizer's own BOS/EOS rules apply, as in vLLM.
        generate.promptIds = tokenizer->encode(promptText, {.parseSpecial = true, .addSpecialTokens = true});
    }
    std::int64_t promptTokens = static_cast<std::int64_t>(generate.promptIds.size());
    std::int64_t contextLength = info->contextLength;
    if (contextLength > 0 && promptTokens >= contextLength) {
        ApiError e = contextLengthExceeded(generate.promptIds.size(), contextLength);
        e.param = "prompt";
        return writeError(response, e);
    }
    std::int32_t wanted = maxTokens.value_or(kDefaultMaxTokens);
    generate.maxTokens = contextLength > 0 ? static_cast<std::int32_t>(std::min<std::int64_t>(wanted, contextLength - promptTokens)) : wanted;
    generate.sampling = common.sampling;
    generate.sampling.topLogprobs = static_cast<std::int32_t>(logprobs.value_or(0));
    generate.stopStrings = common.stop;
    generate.adapter = target->adapter;
    generate.adapterScale = target->adapterScale;

    ReplySpec spec;
    spec.kind = ReplyKind::Text;
    spec.id = randomId("cmpl-");
    spec.createdS = static_cast<std::int64_t>(std::time(nullptr));
    spec.model = target->id;
    spec.fingerprint = ctx.fingerprint();
    spec.stream = common.stream;
    spec.includeUsage = common.stream && common.includeUsage;
    spec.logprobs = logprobs.has_value();
    spec.topLogprobs = generate.sampling.topLogprobs;
    spec.echoText = echo ? promptText : std::string();
    spec.promptTokens = promptTokens;
    spec.tokenizer = tokenizer;
    runGeneration(ctx, std::move(spec), std::move(generate), request, response);
}

}  // namespace hearth::server
