// `hearth-cli run` (one prompt, streamed) and `hearth-cli chat` (interactive, with the model's
// chat template and the conversation kept), both on the Engine facade, like every other front end.
//
// `run --json` prints one object:
//   {"ids": [generated ids], "text": "...", "finish_reason": "stop|length|eos|cancelled",
//    "stats": {"prompt_tokens", "cached_prompt_tokens", "generated_tokens", "ttft_ms",
//              "decode_tokens_per_s", "total_ms"}}
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/model_chat_template.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "engine/lora.h"

namespace hearth::cli {

namespace {

struct GenerateArgs {
    std::string model;
    std::string prompt;
    std::string promptIds;
    std::vector<std::string> loras;  // PATH[:SCALE]
    std::string backend = "auto";
    int nThreads = 0;
    std::int32_t maxTokens = 256;
    float temperature = 0.7f;
    float topP = 1.0f;
    std::int32_t topK = 0;
    float minP = 0.0f;
    float repetitionPenalty = 1.0f;
    std::int64_t seed = -1;
    std::vector<std::string> stop;
    bool greedy = false;
    bool json = false;
    bool raw = false;  // run: the prompt is sent as text without the chat template
    std::string system;
    std::string templatePath;
};

std::atomic<bool> g_interrupted{false};

void onSigint(int) { g_interrupted.store(true); }

void addCommonOptions(CLI::App* cmd, GenerateArgs& a)
{
    cmd->add_option("model", a.model, "Model folder")->required();
    cmd->add_option("--lora", a.loras, "PEFT adapter folder, PATH[:SCALE]; applied unmerged to this request");
    cmd->add_option("--backend", a.backend, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
    cmd->add_option("--threads", a.nThreads, "CPU backend threads (0: one per core)");
    cmd->add_option("-n,--max-tokens", a.maxTokens, "Most tokens to generate")->capture_default_str();
    cmd->add_option("--temperature", a.temperature, "0 is greedy")->capture_default_str();
    cmd->add_option("--top-p", a.topP, "Nucleus sampling mass in (0, 1]")->capture_default_str();
    cmd->add_option("--top-k", a.topK, "Keep the k most likely tokens (0: off)")->capture_default_str();
    cmd->add_option("--min-p", a.minP, "Drop tokens below min-p times the top probability")->capture_default_str();
    cmd->add_option("--repetition-penalty", a.repetitionPenalty, "1 is off")->capture_default_str();
    cmd->add_option("--seed", a.seed, "Same seed, same output (-1: random)");
    cmd->add_option("--stop", a.stop, "Stop string (repeatable); not included in the output");
    cmd->add_flag("--greedy", a.greedy, "Always pick the most likely token (same as --temperature 0)");
    cmd->add_option("--system", a.system, "System prompt");
    cmd->add_option("--template", a.templatePath, "Chat template file overriding the model's own");
}

Result<std::vector<TokenId>> parseIds(const std::string& text)
{
    std::vector<TokenId> ids;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            std::size_t used = 0;
            const long v = std::stol(item, &used);
            if (used != item.size() || v < 0 || v > INT32_MAX)
                throw std::invalid_argument(item);
            ids.push_back(static_cast<TokenId>(v));
        } catch (const std::exception&) {
            return makeError(ErrorCode::InvalidArgument, "--prompt-ids: '" + item + "' is not a token id");
        }
    }
    if (ids.empty())
        return makeError(ErrorCode::InvalidArgument, "--prompt-ids is empty");
    return ids;
}

// Creates the engine, loads the model (progress on stderr unless quiet) and attaches adapters.
Result<std::unique_ptr<Engine>> startEngine(const GenerateArgs& a, std::string* adapterName, float* adapterScale, bool quiet)
{
    EngineOptions options;
    options.backend = a.backend == "cpu" ? BackendChoice::Cpu : a.backend == "cuda" ? BackendChoice::Cuda : BackendChoice::Auto;
    options.nThreads = a.nThreads;
    if (!quiet) {
        options.onLoadProgress = [](const LoadProgress& p) {
            if (p.bytesTotal > 0)
                std::fprintf(stderr, "\r%-10s %5.1f%%  %.0f MB/s  ETA %.1f s   ", p.stage.c_str(),
                             100.0 * static_cast<double>(p.bytesDone) / static_cast<double>(p.bytesTotal),
                             p.rateBytesPerS / 1e6, p.etaS);
        };
    }
    HEARTH_TRY_ASSIGN(std::unique_ptr<Engine> engine, Engine::create(options));
    HEARTH_TRY_STATUS(engine->load(a.model));
    HEARTH_TRY_STATUS(engine->waitUntilLoaded());
    if (!quiet)
        std::fprintf(stderr, "\rready on %s%s\n", engine->state().backendName.c_str(),
                     engine->state().reason.empty() ? "" : (" (" + engine->state().reason + ")").c_str());
    if (a.loras.size() > 1)
        return makeError(ErrorCode::InvalidArgument, "one --lora per request (serve attaches several)");
    if (!a.loras.empty()) {
        HEARTH_TRY_ASSIGN(auto spec, parseLoraSpec(a.loras.front()));
        HEARTH_TRY_STATUS(engine->attachAdapter("cli", spec.first));
        *adapterName = "cli";
        *adapterScale = spec.second;
    }
    return engine;
}

GenerateRequest makeRequest(const GenerateArgs& a, std::vector<TokenId> ids, const std::string& adapter, float adapterScale)
{
    GenerateRequest r;
    r.promptIds = std::move(ids);
    r.maxTokens = a.maxTokens;
    r.sampling.temperature = a.greedy ? 0.0f : a.temperature;
    r.sampling.topP = a.topP;
    r.sampling.topK = a.topK;
    r.sampling.minP = a.minP;
    r.sampling.repetitionPenalty = a.repetitionPenalty;
    if (a.seed >= 0)
        r.sampling.seed = static_cast<std::uint64_t>(a.seed);
    r.stopStrings = a.stop;
    r.adapter = adapter;
    r.adapterScale = adapterScale;
    return r;
}

struct Outcome {
    std::vector<TokenId> ids;
    std::string text;
    FinishedEvent finished;
};

// Streams one request; prints text deltas as they come unless `quietText`. Ctrl-C cancels.
Result<Outcome> stream(Engine& engine, GenerateRequest request, bool quietText)
{
    HEARTH_TRY_ASSIGN(std::unique_ptr<RequestHandle> handle, engine.submit(std::move(request)));
    Outcome out;
    while (true) {
        if (g_interrupted.exchange(false))
            handle->cancel();
        std::optional<GenerationEvent> ev = handle->nextEvent(std::chrono::milliseconds(100));
        if (!ev)
            continue;
        if (auto* t = std::get_if<TokenEvent>(&*ev)) {
            out.ids.push_back(t->token);
            out.text += t->textDelta;
            if (!quietText && !t->textDelta.empty()) {
                std::fwrite(t->textDelta.data(), 1, t->textDelta.size(), stdout);
                std::fflush(stdout);
            }
        } else if (auto* f = std::get_if<FinishedEvent>(&*ev)) {
            out.text += f->textDelta;
            if (!quietText)
                std::fwrite(f->textDelta.data(), 1, f->textDelta.size(), stdout);
            out.finished = *f;
            return out;
        } else {
            return std::get<FailedEvent>(*ev).error;
        }
    }
}

Result<std::vector<TokenId>> renderAndEncode(Engine& engine, const GenerateArgs& a, const nlohmann::ordered_json& messages)
{
    std::shared_ptr<const Tokenizer> tok = engine.tokenizer();
    if (!tok)
        return makeError(ErrorCode::Unavailable, "the model has no tokenizer");
    HEARTH_TRY_ASSIGN(ModelChatTemplate found, findModelChatTemplate(a.model, a.templatePath, false, tok.get()));
    HEARTH_TRY_ASSIGN(ChatTemplate tmpl, ChatTemplate::parse(found.source, found.name));
    ChatRenderRequest req;
    req.messages = messages;
    req.addGenerationPrompt = true;
    req.bosToken = found.bos;
    req.eosToken = found.eos;
    HEARTH_TRY_ASSIGN(std::string prompt, renderChat(tmpl, req));
    return tok->encode(prompt, EncodeOptions{});
}

int fail(const Error& e)
{
    std::fprintf(stderr, "error: %s\n", e.toString().c_str());
    return 1;
}

nlohmann::json statsJson(const GenerationStats& s)
{
    return {{"prompt_tokens", s.promptTokens}, {"cached_prompt_tokens", s.cachedPromptTokens},
            {"generated_tokens", s.generatedTokens}, {"ttft_ms", s.timeToFirstTokenMs},
            {"decode_tokens_per_s", s.decodeTokensPerS}, {"total_ms", s.totalMs}};
}

int runOnce(const GenerateArgs& a)
{
    if (a.prompt.empty() == a.promptIds.empty())
        return fail(makeError(ErrorCode::InvalidArgument, "give exactly one of --prompt or --prompt-ids"));
    std::string adapter;
    float adapterScale = 1.0f;
    auto engine = startEngine(a, &adapter, &adapterScale, a.json);
    if (!engine)
        return fail(engine.error());
    std::vector<TokenId> ids;
    if (!a.promptIds.empty()) {
        auto parsed = parseIds(a.promptIds);
        if (!parsed)
            return fail(parsed.error());
        ids = *parsed;
    } else if (a.raw) {
        ids = (*engine)->tokenizer()->encode(a.prompt, EncodeOptions{});
    } else {
        nlohmann::ordered_json messages = nlohmann::ordered_json::array();
        if (!a.system.empty())
            messages.push_back({{"role", "system"}, {"content", a.system}});
        messages.push_back({{"role", "user"}, {"content", a.prompt}});
        auto rendered = renderAndEncode(**engine, a, messages);
        if (!rendered)
            return fail(rendered.error());
        ids = *rendered;
    }
    std::signal(SIGINT, onSigint);
    auto out = stream(**engine, makeRequest(a, ids, adapter, adapterScale), a.json);
    if (!out)
        return fail(out.error());
    if (a.json) {
        nlohmann::json j = {{"ids", out->ids}, {"text", out->text},
                            {"finish_reason", finishReasonName(out->finished.reason)},
                            {"stats", statsJson(out->finished.stats)}};
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        const GenerationStats& s = out->finished.stats;
        std::fprintf(stderr, "\n[%s: %d prompt tokens (%d cached), %d generated, first token %.0f ms, %.1f tokens/s]\n",
                     finishReasonName(out->finished.reason), s.promptTokens, s.cachedPromptTokens, s.generatedTokens,
                     s.timeToFirstTokenMs, s.decodeTokensPerS);
    }
    return 0;
}

int chatLoop(const GenerateArgs& a)
{
    std::string adapter;
    float adapterScale = 1.0f;
    auto engine = startEngine(a, &adapter, &adapterScale, false);
    if (!engine)
        return fail(engine.error());
    std::signal(SIGINT, onSigint);
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!a.system.empty())
        messages.push_back({{"role", "system"}, {"content", a.system}});
    std::fprintf(stderr, "Type a message; an empty line or end of input quits. Ctrl-C stops a reply.\n");
    std::string line;
    while (true) {
        std::fprintf(stderr, "> ");
        if (!std::getline(std::cin, line) || line.empty())
            break;
        messages.push_back({{"role", "user"}, {"content", line}});
        auto ids = renderAndEncode(**engine, a, messages);
        if (!ids) {
            messages.erase(messages.size() - 1);
            fail(ids.error());
            continue;
        }
        auto out = stream(**engine, makeRequest(a, *ids, adapter, adapterScale), false);
        std::printf("\n");
        if (!out) {
            messages.erase(messages.size() - 1);
            fail(out.error());
            continue;
        }
        const GenerationStats& s = out->finished.stats;
        std::fprintf(stderr, "[%d tokens, %d prompt tokens from cache, %.1f tokens/s]\n", s.generatedTokens,
                     s.cachedPromptTokens, s.decodeTokensPerS);
        messages.push_back({{"role", "assistant"}, {"content", out->text}});
    }
    return 0;
}

}  // namespace

void registerGenerateCommands(CLI::App& app, int& exitCode)
{
    auto runArgs = std::make_shared<GenerateArgs>();
    auto* run = app.add_subcommand("run", "Generate a reply to one prompt, streamed to stdout");
    addCommonOptions(run, *runArgs);
    run->add_option("-p,--prompt", runArgs->prompt, "The user message (rendered with the chat template)");
    run->add_option("--prompt-ids", runArgs->promptIds, "Comma-separated token ids, sent as they are");
    run->add_flag("--raw", runArgs->raw, "Send --prompt as plain text, without the chat template");
    run->add_flag("--json", runArgs->json, "Print ids, text, finish reason and stats as JSON");
    run->callback([runArgs, &exitCode] { exitCode = runOnce(*runArgs); });

    auto chatArgs = std::make_shared<GenerateArgs>();
    auto* chat = app.add_subcommand("chat", "Chat in the terminal with the model's chat template");
    addCommonOptions(chat, *chatArgs);
    chat->callback([chatArgs, &exitCode] { exitCode = chatLoop(*chatArgs); });
}

}  // namespace hearth::cli
