// `hearth-cli serve`: the headless OpenAI-compatible server (Open WebUI in Docker, scripts, the
// SDKs). The port opens at once and answers 503 with load progress until the model is ready;
// Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <pthread.h>
#include <thread>

#include "cli/commands.h"
#include "engine/engine.h"
#include "engine/lora.h"
#include "server/http_server.h"

namespace hearth::cli {

namespace {

struct ServeArgs {
    std::string model;
    std::vector<std::string> loras;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string apiKey;
    std::vector<std::string> corsOrigins;
    std::string modelId;
    std::string chatTemplate;
    std::string backend = "auto";
    int nThreads = 0;
    std::int64_t contextLength = 0;
    int maxQueued = 64;
};

// "NAME=PATH[:SCALE]" or "PATH[:SCALE]" (named after the folder).
Result<ServedAdapter> parseServedAdapter(const std::string& spec)
{
    ServedAdapter adapter;
    std::string rest = spec;
    if (auto eq = spec.find('='); eq != std::string::npos && eq > 0) {
        adapter.name = spec.substr(0, eq);
        rest = spec.substr(eq + 1);
    }
    HEARTH_TRY_ASSIGN(auto pathScale, parseLoraSpec(rest));
    adapter.path = pathScale.first;
    adapter.scale = pathScale.second;
    if (adapter.name.empty()) adapter.name = std::filesystem::path(adapter.path).lexically_normal().filename().string();
    if (adapter.name.empty() || adapter.path.empty()) {
        return makeError(ErrorCode::InvalidArgument, "--lora " + spec + ": expected NAME=PATH[:SCALE]");
    }
    return adapter;
}

std::string defaultModelId(const std::string& model)
{
    std::filesystem::path p = std::filesystem::path(model).lexically_normal();
    std::string name = p.filename().string();
    if (name.empty()) name = p.parent_path().filename().string();
    return name.empty() ? std::string("default") : name;
}

int runServe(const ServeArgs& args)
{
    ServerOptions options;
    options.host = args.host;
    options.port = args.port;
    options.apiKey = args.apiKey.empty() && std::getenv("HEARTH_API_KEY") ? std::getenv("HEARTH_API_KEY") : args.apiKey;
    options.corsOrigins = args.corsOrigins;
    options.modelId = args.modelId.empty() ? defaultModelId(args.model) : args.modelId;
    options.chatTemplatePath = args.chatTemplate;
    for (const std::string& spec : args.loras) {
        auto adapter = parseServedAdapter(spec);
        if (!adapter) {
            std::fprintf(stderr, "error: %s\n", adapter.error().toString().c_str());
            return 2;
        }
        options.adapters.push_back(*adapter);
    }
    if (Status allowed = checkBindAllowed(options); !allowed) {
        std::fprintf(stderr, "error: %s\n", allowed.error().message.c_str());
        return 2;
    }

    // Signals go to sigwait below, not to whichever engine or HTTP thread happens to run.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    EngineOptions engineOptions;
    engineOptions.backend = args.backend == "cpu" ? BackendChoice::Cpu : args.backend == "cuda" ? BackendChoice::Cuda : BackendChoice::Auto;
    engineOptions.nThreads = args.nThreads;
    engineOptions.contextLength = args.contextLength;
    engineOptions.maxQueuedRequests = args.maxQueued;
    auto engine = Engine::create(engineOptions);
    if (!engine) {
        std::fprintf(stderr, "error: %s\n", engine.error().toString().c_str());
        return 1;
    }
    if (Status loading = (*engine)->load(args.model); !loading) {
        std::fprintf(stderr, "error: %s\n", loading.error().toString().c_str());
        return 1;
    }
    auto server = HttpServer::start(**engine, options);
    if (!server) {
        std::fprintf(stderr, "error: %s\n", server.error().toString().c_str());
        (*engine)->cancelLoad();
        return 1;
    }
    std::string host = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
    std::printf("hearth-cli serve: listening on http://%s:%d/v1 (model id '%s'); loading %s\n", host.c_str(),
                (*server)->port(), options.modelId.c_str(), args.model.c_str());
    std::fflush(stdout);

    Engine* enginePtr = engine->get();
    std::thread attach([enginePtr, adapters = options.adapters] {
        Status loaded = enginePtr->waitUntilLoaded();
        if (!loaded) {
            std::fprintf(stderr, "error: loading the model failed: %s (the server keeps answering 503)\n",
                         loaded.error().toString().c_str());
            return;
        }
        for (const ServedAdapter& a : adapters) {
            if (Status s = enginePtr->attachAdapter(a.name, a.path); !s) {
                std::fprintf(stderr, "error: adapter '%s': %s\n", a.name.c_str(), s.error().toString().c_str());
            }
        }
        std::printf("hearth-cli serve: model ready\n");
        std::fflush(stdout);
    });

    int signal = 0;
    sigwait(&stopSignals, &signal);
    std::fprintf(stderr, "hearth-cli serve: stopping (%s)\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
    (*server)->stop();
    (*engine)->cancelLoad();
    attach.join();
    return 0;
}

}  // namespace

void registerServeCommand(CLI::App& app, int& exitCode)
{
    auto args = std::make_shared<ServeArgs>();
    auto* cmd = app.add_subcommand("serve", "Serve a model over the OpenAI-compatible HTTP API (docs/SERVER.md)");
    cmd->add_option("--model", args->model, "Model folder or .gguf file")->required();
    cmd->add_option("--lora", args->loras, "PEFT adapter served as a model id: NAME=PATH[:SCALE] (repeatable)");
    cmd->add_option("--host", args->host, "Address to bind; anything but loopback needs --api-key")->capture_default_str();
    cmd->add_option("--port", args->port, "Port (0: any free port, printed at start)")->capture_default_str();
    cmd->add_option("--api-key", args->apiKey, "Require 'Authorization: Bearer KEY' (or set HEARTH_API_KEY)");
    cmd->add_option("--cors-origin", args->corsOrigins, "Allow browser requests from this exact origin (repeatable)");
    cmd->add_option("--model-id", args->modelId, "The id clients use as \"model\" (default: the folder name)");
    cmd->add_option("--chat-template", args->chatTemplate, "A Jinja chat template file replacing the model's own");
    cmd->add_option("--backend", args->backend, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
    cmd->add_option("--threads", args->nThreads, "CPU backend threads (0: one per core)");
    cmd->add_option("--context", args->contextLength, "Context length in tokens (0: the model's, capped by memory)");
    cmd->add_option("--max-queued", args->maxQueued, "Requests waiting beyond this get 429")->capture_default_str();
    cmd->callback([args, &exitCode] { exitCode = runServe(*args); });
}

}  // namespace hearth::cli
