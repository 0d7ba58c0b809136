// Events are drained without waiting after the first one, so tokens that arrive together go
// out as one SSE event (fewer re-renders in Open WebUI) without adding latency.
#include "server/generation.h"

#include <httplib.h>

#include <chrono>
#include <random>

#include "server/connection_probe.h"
#include "server/server_context.h"

namespace hearth::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollInterval{100};
constexpr std::chrono::milliseconds kDisconnectCheck{200};

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string sseData(const nlohmann::ordered_json& value) { return "data: " + dumpJson(value) + "\n\n"; }

// What a stream holds between httplib's calls of its content provider.
struct StreamState {
    std::unique_ptr<RequestHandle> handle;
    ReplyBuilder builder;
    Clock::time_point submittedAt;
    double ttftS = 0.0;
    bool finished = false;
};

// Reads the next event, then whatever tokens are already waiting behind it.
struct EventBatch {
    std::vector<TokenEvent> tokens;
    std::optional<GenerationEvent> last;  // a FinishedEvent or FailedEvent, if one came
    bool empty() const { return tokens.empty() && !last; }
};

EventBatch nextBatch(RequestHandle& handle)
{
    EventBatch batch;
    auto event = handle.nextEvent(kPollInterval);
    while (event) {
        if (auto* token = std::get_if<TokenEvent>(&*event)) {
            batch.tokens.push_back(std::move(*token));
            event = handle.nextEvent(std::chrono::milliseconds(0));
        } else {
            batch.last = std::move(event);
            break;
        }
    }
    return batch;
}

void recordFinish(ServerContext& ctx, const ReplyBuilder& builder, Clock::time_point submittedAt, double ttftS)
{
    ctx.metrics().recordGeneration(builder.spec().promptTokens, builder.completionTokens(), ttftS, secondsSince(submittedAt));
}

void runWhole(ServerContext& ctx, StreamState& state, const httplib::Request& httpRequest, httplib::Response& response)
{
    ConnectionProbe probe = ConnectionProbe::forRequest(httpRequest);
    Clock::time_point lastCheck = Clock::now();
    while (true) {
        EventBatch batch = nextBatch(*state.handle);
        if (!batch.tokens.empty() && state.builder.completionTokens() == 0) state.ttftS = secondsSince(state.submittedAt);
        state.builder.addTokens(batch.tokens);
        if (batch.last) {
            if (auto* finished = std::get_if<FinishedEvent>(&*batch.last)) {
                if (finished->reason == FinishReason::Cancelled && ctx.stopping()) {
                    writeError(response, modelNotLoaded("The server is shutting down"));
                    return;
                }
                writeJson(response, 200, state.builder.fullResponse(*finished));
                recordFinish(ctx, state.builder, state.submittedAt, state.ttftS);
            } else {
                writeError(response, fromEngineError(std::get<FailedEvent>(*batch.last).error, ctx.options().retryAfterS));
            }
            return;
        }
        if (Clock::now() - lastCheck >= kDisconnectCheck) {
            lastCheck = Clock::now();
            if (ctx.stopping() || probe.peerClosed()) {
                state.handle->cancel();
                writeError(response, modelNotLoaded(ctx.stopping() ? "The server is shutting down" : "The client went away"));
                return;
            }
        }
    }
}

// One call of the content provider runs the whole stream; returning false drops the connection.
bool pumpStream(ServerContext& ctx, StreamState& state, httplib::DataSink& sink)
{
    auto write = [&](const std::string& text) { return sink.write(text.data(), text.size()); };
    for (const auto& c : state.builder.startChunks()) {
        if (!write(sseData(c))) return false;
    }
    Clock::time_point lastWrite = Clock::now();
    Clock::time_point lastCheck = Clock::now();
    while (true) {
        EventBatch batch = nextBatch(*state.handle);
        if (!batch.tokens.empty() && state.builder.completionTokens() == 0) state.ttftS = secondsSince(state.submittedAt);
        for (const auto& c : state.builder.addTokens(batch.tokens)) {
            if (!write(sseData(c))) return false;
            lastWrite = Clock::now();
        }
        if (batch.last) {
            if (auto* finished = std::get_if<FinishedEvent>(&*batch.last)) {
                if (finished->reason == FinishReason::Cancelled && ctx.stopping()) {
                    write("data: " + dumpJson(errorBody(modelNotLoaded("The server is shutting down"))) + "\n\n");
                } else {
                    for (const auto& c : state.builder.finishChunks(*finished)) {
                        if (!write(sseData(c))) return false;
                    }
                    if (!write("data: [DONE]\n\n")) return false;
                    recordFinish(ctx, state.builder, state.submittedAt, state.ttftS);
                }
            } else {
                ApiError error = fromEngineError(std::get<FailedEvent>(*batch.last).error, ctx.options().retryAfterS);
                write("data: " + dumpJson(errorBody(error)) + "\n\n");
            }
            state.finished = true;
            sink.done();
            return true;
        }
        Clock::time_point now = Clock::now();
        if (now - lastCheck >= kDisconnectCheck) {
            lastCheck = now;
            if (ctx.stopping()) state.handle->cancel();  // ends with a Cancelled finish, handled above
            if (!sink.is_writable()) return false;        // the releaser cancels
        }
        if (now - lastWrite >= ctx.options().keepAliveInterval) {
            if (!write(": keep-alive\n\n")) return false;
            lastWrite = now;
        }
    }
}

}  // namespace

std::string randomId(const std::string& prefix)
{
    static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<int> pick(0, int(sizeof kAlphabet) - 2);
    std::string id = prefix;
    for (int i = 0; i < 24; ++i) id += kAlphabet[pick(rng)];
    return id;
}

void runGeneration(ServerContext& ctx, ReplySpec spec, GenerateRequest request, const httplib::Request& httpRequest,
                   httplib::Response& response)
{
    Clock::time_point submittedAt = Clock::now();
    auto handle = ctx.engine().submit(std::move(request));
    if (!handle) {
        writeError(response, fromEngineError(handle.error(), ctx.options().retryAfterS));
        return;
    }
    bool stream = spec.stream;
    auto state = std::make_shared<StreamState>(StreamState{std::move(handle).value(), ReplyBuilder(std::move(spec)), submittedAt});
    if (!stream) {
        runWhole(ctx, *state, httpRequest, response);
        return;
    }
    response.status = 200;
    response.set_header("Cache-Control", "no-cache, no-transform");
    response.set_header("X-Accel-Buffering", "no");
    // Exactly "text/event-stream": httplib never compresses that type, and compression would
    // buffer the stream.
    response.set_chunked_content_provider(
        "text/event-stream",
        [&ctx, state](std::size_t, httplib::DataSink& sink) { return pumpStream(ctx, *state, sink); },
        [state](bool) {
            if (!state->finished) state->handle->cancel();
        });
}

}  // namespace hearth::server
