#include "support/engine_driver.h"

namespace hearth::test {

CollectedRun collect(RequestHandle& handle, std::chrono::milliseconds timeout)
{
    CollectedRun run;
    for (;;) {
        std::optional<GenerationEvent> event = handle.nextEvent(timeout);
        if (!event) {
            run.timedOut = true;
            return run;
        }
        if (auto* token = std::get_if<TokenEvent>(&*event)) {
            run.tokens.push_back(token->token);
            run.text += token->textDelta;
        } else if (auto* finished = std::get_if<FinishedEvent>(&*event)) {
            run.text += finished->textDelta;
            run.finished = std::move(*finished);
            return run;
        } else {
            run.failed = std::get<FailedEvent>(*event).error;
            return run;
        }
    }
}

CollectedRun runRequest(Engine& engine, GenerateRequest request)
{
    auto handle = engine.submit(std::move(request));
    if (!handle) {
        CollectedRun run;
        run.failed = handle.error();
        return run;
    }
    return collect(**handle);
}

GenerateRequest greedyRequest(std::vector<TokenId> ids, int maxTokens, std::string adapter)
{
    GenerateRequest r;
    r.promptIds = std::move(ids);
    r.sampling.temperature = 0.0f;
    r.maxTokens = maxTokens;
    r.ignoreEos = true;
    r.adapter = std::move(adapter);
    return r;
}

Result<std::unique_ptr<Engine>> loadedEngine(const std::string& modelDir, EngineOptions options)
{
    options.backend = BackendChoice::Cpu;
    HEARTH_TRY_ASSIGN(std::unique_ptr<Engine> engine, Engine::create(std::move(options)));
    HEARTH_TRY_STATUS(engine->load(modelDir));
    HEARTH_TRY_STATUS(engine->waitUntilLoaded());
    return engine;
}

std::string describe(const CollectedRun& run)
{
    std::string s = std::to_string(run.tokens.size()) + " tokens";
    if (run.timedOut)
        s += ", timed out";
    if (run.failed)
        s += ", failed: " + run.failed->toString();
    if (run.finished)
        s += std::string(", finished: ") + finishReasonName(run.finished->reason);
    return s;
}

}  // namespace hearth::test
