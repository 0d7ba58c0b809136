#include "engine/scheduler.h"

#include <algorithm>
#include <cmath>

#include "engine/lora.h"
#include "engine/sampler.h"
#include "tokenizer/stream_decoder.h"

namespace hearth {

using Clock = std::chrono::steady_clock;

namespace {

// Whether sampling with `p` (as the Sampler holds them, clamped) is the row's plain argmax and
// nothing else of the row is read: greedy, no penalty, no logit bias, no top logprobs (the chosen
// token's own logprob comes back with the id). Such sequences get their token picked by the
// backend (SequenceStep::argmaxOnly), on the GPU without copying the row back. Stop strings and
// stop ids look at the token and its text only.
bool needsOnlyArgmax(const SamplingParams& p)
{
    return p.isGreedy() && p.repetitionPenalty == 1.0f && p.presencePenalty == 0.0f && p.frequencyPenalty == 0.0f &&
           p.logitBias.empty() && p.topLogprobs == 0;
}

}  // namespace

// One request from admission to its final event. Survives preemption: the sampler, the stream
// decoder and the generated tokens stay; only the K/V (pages, nComputed) is dropped and recomputed.
struct Scheduler::Sequence {
    std::unique_ptr<PendingRequest> pending;
    std::vector<TokenId> tokens;        // the prompt, then every generated token
    std::int32_t nPrompt = 0;
    std::int64_t nComputed = 0;         // tokens whose K/V is in the table's pages
    BlockTable table;
    std::unique_ptr<Sampler> sampler;
    std::unique_ptr<StreamDecoder> decoder;
    std::int32_t generated = 0;
    std::int32_t cachedPromptTokens = 0;
    bool admittedOnce = false;
    bool done = false;
    std::uint64_t admitOrder = 0;
    Clock::time_point firstToken;

    std::int64_t remaining() const { return static_cast<std::int64_t>(tokens.size()) - nComputed; }
    bool cancelled() const { return pending->channel->cancelled(); }
};

Status validateGenerateRequest(const GenerateRequest& r, std::int64_t vocabSize, std::int64_t contextLength)
{
    if (r.promptIds.empty())
        return makeError(ErrorCode::InvalidArgument, "request: the prompt is empty; it needs at least one token");
    if (r.maxTokens <= 0)
        return makeError(ErrorCode::InvalidArgument,
                         "request: max_tokens is " + std::to_string(r.maxTokens) + "; it must be at least 1");
    if (!std::isfinite(r.adapterScale))
        return makeError(ErrorCode::InvalidArgument, "request: the adapter scale must be a finite number");
    if (vocabSize <= 0)
        return Status::ok();
    for (TokenId id : r.promptIds)
        if (id < 0 || id >= vocabSize)
            return makeError(ErrorCode::InvalidArgument, "request: prompt token id " + std::to_string(id) +
                                                             " is outside the vocabulary (0.." +
                                                             std::to_string(vocabSize - 1) + ")");
    const std::int64_t total = static_cast<std::int64_t>(r.promptIds.size()) + r.maxTokens;
    if (contextLength > 0 && total > contextLength)
        return makeError(ErrorCode::InvalidArgument,
                         "request: " + std::to_string(r.promptIds.size()) + " prompt tokens + max_tokens " +
                             std::to_string(r.maxTokens) + " exceed the context length of " +
                             std::to_string(contextLength) + " tokens");
    return validateSamplingParams(r.sampling, vocabSize);
}

Scheduler::Scheduler(std::unique_ptr<Backend> backend, std::shared_ptr<const Tokenizer> tokenizer,
                     SchedulerOptions options)
    : m_backend(std::move(backend)), m_tokenizer(std::move(tokenizer)), m_config(m_backend->config()),
      m_options(options)
{
    const SpecialTokens& special = m_tokenizer->specialTokens();
    m_endIds = special.endOfTurn;
    if (special.eos)
        m_endIds.push_back(*special.eos);
    m_endIds.insert(m_endIds.end(), m_config.eosTokenIds.begin(), m_config.eosTokenIds.end());
    m_endIds.insert(m_endIds.end(), m_config.generation.eosTokenIds.begin(), m_config.generation.eosTokenIds.end());
    std::sort(m_endIds.begin(), m_endIds.end());
    m_endIds.erase(std::unique(m_endIds.begin(), m_endIds.end()), m_endIds.end());
    publishStats();
    m_thread = std::thread([this] { run(); });
}

Scheduler::~Scheduler()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    m_thread.join();
    const Error gone = makeError(ErrorCode::Unavailable, "the model was unloaded before the request finished");
    for (auto& seq : m_running)
        failSequence(*seq, gone);
    for (auto& seq : m_queue)
        failSequence(*seq, gone);
}

std::unique_ptr<Scheduler::Sequence> Scheduler::makeSequence(std::unique_ptr<PendingRequest> request)
{
    auto seq = std::make_unique<Sequence>();
    seq->tokens = request->request.promptIds;
    seq->nPrompt = static_cast<std::int32_t>(seq->tokens.size());
    seq->pending = std::move(request);
    return seq;
}

Status Scheduler::enqueue(std::unique_ptr<PendingRequest> request)
{
    {
        std::lock_guard lock(m_mutex);
        if (static_cast<std::int32_t>(m_queue.size()) >= m_options.maxQueuedRequests)
            return makeError(ErrorCode::Busy, "engine busy: " + std::to_string(m_queue.size()) + " requests queued");
        m_queue.push_back(makeSequence(std::move(request)));
        m_stats.queued = static_cast<std::int32_t>(m_queue.size());
    }
    m_wake.notify_all();
    return Status::ok();
}

void Scheduler::adopt(std::deque<std::unique_ptr<PendingRequest>> requests)
{
    {
        std::lock_guard lock(m_mutex);
        for (auto& r : requests)
            m_queue.push_back(makeSequence(std::move(r)));
        m_stats.queued = static_cast<std::int32_t>(m_queue.size());
    }
    m_wake.notify_all();
}

SchedulerStats Scheduler::stats() const
{
    std::lock_guard lock(m_mutex);
    return m_stats;
}

void Scheduler::run()
{
    for (;;) {
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_stop || !m_queue.empty() || !m_running.empty(); });
            if (m_stop)
                return;
        }
        step();
        publishStats();
    }
}

void Scheduler::publishStats()
{
    const KvPagePool& pool = m_backend->kvPool();
    std::lock_guard lock(m_mutex);
    m_stats.running = static_cast<std::int32_t>(m_running.size());
    m_stats.queued = static_cast<std::int32_t>(m_queue.size());
    m_stats.kvPagesUsed = pool.nUsedPages();
    m_stats.kvPagesCached = pool.nCachedPages();
    m_stats.kvPagesFree = pool.nFreePages();
    m_stats.kvPagesTotal = pool.nPages();
}

void Scheduler::step()
{
    sweepCancelled();
    admit();
    if (!growForDecode() || m_running.empty())
        return;

    // Every sequence with one token to feed decodes. Those with more share a prefill budget of
    // prefillChunkTokens per step, oldest first: N prompts arriving together are prefilled side
    // by side instead of one after another, and a step stays bounded (the CUDA workspace is sized
    // for budget + one token per sequence).
    BatchPlan plan;
    std::vector<Sequence*> inPlan;
    std::int64_t prefillBudget = std::max(1, m_options.prefillChunkTokens);
    for (auto& seqPtr : m_running) {
        Sequence& seq = *seqPtr;
        const std::int64_t remaining = seq.remaining();
        std::int64_t n = 1;
        if (remaining > 1) {
            if (prefillBudget == 0)
                continue;
            n = std::min(remaining, prefillBudget);
            prefillBudget -= n;
        }
        SequenceStep s;
        s.tokenIds.assign(seq.tokens.begin() + seq.nComputed, seq.tokens.begin() + seq.nComputed + n);
        s.positions.resize(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i)
            s.positions[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(seq.nComputed + i);
        s.blockTable = &seq.table;
        s.adapter = seq.pending->adapter.get();
        s.adapterScale = seq.pending->request.adapterScale;
        s.logits = n == remaining ? LogitsRows::Last : LogitsRows::None;
        s.argmaxOnly = needsOnlyArgmax(seq.sampler->params());
        plan.sequences.push_back(std::move(s));
        inPlan.push_back(&seq);
    }
    if (plan.sequences.empty())
        return;

    Result<ForwardResult> out = m_backend->forward(plan);
    if (!out) {
        // A malformed plan is a scheduler bug; end the affected requests rather than loop on it.
        const Error error = makeError(ErrorCode::Internal, "engine step failed: " + out.error().message);
        for (Sequence* seq : inPlan)
            failSequence(*seq, error);
        removeFinished();
        return;
    }
    const std::int64_t vocab = out->vocabSize;
    for (std::size_t i = 0; i < inPlan.size(); ++i) {
        Sequence& seq = *inPlan[i];
        seq.nComputed += static_cast<std::int64_t>(plan.sequences[i].tokenIds.size());
        m_backend->kvPool().publishPrefix(seq.table, seq.tokens, seq.nComputed, seq.pending->adapterSalt);
        const std::int64_t row = out->firstRow[i];
        if (i < out->argmax.size() && out->argmax[i] >= 0) {
            // Picked by the backend, as sample() would have: count it as sample() does.
            SampledToken picked;
            picked.token = out->argmax[i];
            picked.logprob = out->argmaxLogprob[i];
            seq.sampler->observeGenerated(picked.token);
            handleToken(seq, std::move(picked));
        } else if (out->firstRow[i + 1] > row) {
            handleToken(seq, seq.sampler->sample(
                                 std::span<float>(out->logits.data() + row * vocab, static_cast<std::size_t>(vocab))));
        }
    }
    m_backend->recycle(std::move(*out));
    {
        std::lock_guard lock(m_mutex);
        ++m_stats.steps;
    }
    removeFinished();
}

void Scheduler::sweepCancelled()
{
    for (auto& seq : m_running)
        if (seq->cancelled())
            finish(*seq, FinishReason::Cancelled);
    removeFinished();
    std::vector<std::unique_ptr<Sequence>> cancelled;
    {
        std::lock_guard lock(m_mutex);
        for (auto it = m_queue.begin(); it != m_queue.end();) {
            if ((*it)->cancelled()) {
                cancelled.push_back(std::move(*it));
                it = m_queue.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& seq : cancelled)
        finish(*seq, FinishReason::Cancelled);
}

void Scheduler::admit()
{
    KvPagePool& pool = m_backend->kvPool();
    for (;;) {
        std::unique_ptr<Sequence> seq;
        {
            std::lock_guard lock(m_mutex);
            if (m_queue.empty() || static_cast<std::int32_t>(m_running.size()) >= std::max(1, m_options.maxBatchSequences))
                return;
            seq = std::move(m_queue.front());
            m_queue.pop_front();
        }
        if (!seq->admittedOnce) {
            // Requests queued while the model was loading were only checked for what needs no model.
            const Status valid = validateGenerateRequest(seq->pending->request, m_config.vocabSize, m_options.contextLength);
            if (!valid) {
                failSequence(*seq, valid.error());
                continue;
            }
        }
        // The last token is always recomputed: its logits give the next token, and the page it
        // lands in must be private.
        const std::span<const TokenId> reusable(seq->tokens.data(), seq->tokens.size() - 1);
        const std::int64_t matched = pool.matchPrefix(seq->table, reusable, seq->pending->adapterSalt);
        const Status reserved = pool.reserve(seq->table, static_cast<std::int64_t>(seq->tokens.size()));
        if (!reserved) {
            pool.release(seq->table);
            if (m_running.empty()) {
                failSequence(*seq, makeError(ErrorCode::OutOfMemory,
                                             "the KV cache cannot hold this request even alone: " + reserved.message()));
                continue;
            }
            std::lock_guard lock(m_mutex);
            m_queue.push_front(std::move(seq));  // it keeps its place; running sequences free pages as they end
            return;
        }
        seq->nComputed = matched;
        seq->admitOrder = ++m_admitCounter;
        if (!seq->admittedOnce) {
            seq->admittedOnce = true;
            seq->cachedPromptTokens = static_cast<std::int32_t>(std::min<std::int64_t>(matched, seq->nPrompt));
            seq->sampler = std::make_unique<Sampler>(seq->pending->request.sampling, m_config.vocabSize);
            seq->sampler->observePrompt(seq->tokens);
            StreamDecoderOptions decoderOptions;
            decoderOptions.stopStrings = seq->pending->request.stopStrings;
            seq->decoder = std::make_unique<StreamDecoder>(*m_tokenizer, decoderOptions);
            std::lock_guard lock(m_mutex);
            m_stats.promptTokensCached += static_cast<std::uint64_t>(seq->cachedPromptTokens);
        }
        m_running.push_back(std::move(seq));
    }
}

bool Scheduler::growForDecode()
{
    KvPagePool& pool = m_backend->kvPool();
    for (std::size_t i = 0; i < m_running.size(); ++i) {
        Sequence* seq = m_running[i].get();
        if (seq->remaining() != 1)
            continue;  // prefilling sequences got all their pages at admission
        while (!pool.reserve(seq->table, static_cast<std::int64_t>(seq->tokens.size()))) {
            if (m_running.size() == 1) {
                // Cannot happen while contextLength fits the pool; fail rather than spin.
                failSequence(*seq, makeError(ErrorCode::OutOfMemory, "the KV cache cannot hold this sequence alone"));
                removeFinished();
                return false;
            }
            // m_running is in admission order, so the youngest is last (and never before seq).
            std::unique_ptr<Sequence> victim = std::move(m_running.back());
            m_running.pop_back();
            const bool wasSeq = victim.get() == seq;
            preempt(std::move(victim));
            if (wasSeq)
                return true;  // seq was the last one; everything before it has its page
        }
    }
    return true;
}

void Scheduler::preempt(std::unique_ptr<Sequence> victim)
{
    m_backend->kvPool().release(victim->table);
    victim->nComputed = 0;
    std::lock_guard lock(m_mutex);
    ++m_stats.preemptions;
    m_queue.push_front(std::move(victim));
}

void Scheduler::handleToken(Sequence& seq, SampledToken sampled)
{
    const GenerateRequest& r = seq.pending->request;
    const TokenId token = sampled.token;
    seq.tokens.push_back(token);
    if (seq.generated++ == 0)
        seq.firstToken = Clock::now();

    TokenEvent event;
    event.token = token;
    event.logprob = sampled.logprob;
    event.topLogprobs = std::move(sampled.top);
    const bool isEnd = !r.ignoreEos && std::binary_search(m_endIds.begin(), m_endIds.end(), token);
    const bool isStopId = std::find(r.stopIds.begin(), r.stopIds.end(), token) != r.stopIds.end();
    if (!isEnd && !isStopId)
        event.textDelta = seq.decoder->push(token);
    seq.pending->channel->push(std::move(event));
    {
        std::lock_guard lock(m_mutex);
        ++m_stats.tokensGenerated;
    }
    if (isEnd)
        finish(seq, FinishReason::Eos);
    else if (isStopId || seq.decoder->stopped())
        finish(seq, FinishReason::Stop);
    else if (seq.generated >= r.maxTokens)
        finish(seq, FinishReason::Length);
}

void Scheduler::finish(Sequence& seq, FinishReason reason)
{
    if (seq.done)
        return;
    const auto now = Clock::now();
    FinishedEvent event;
    event.reason = reason;
    if (seq.decoder) {
        event.textDelta = seq.decoder->finish();
        event.matchedStop = seq.decoder->matchedStop();
    }
    GenerationStats& s = event.stats;
    s.promptTokens = seq.nPrompt;
    s.cachedPromptTokens = seq.cachedPromptTokens;
    s.generatedTokens = seq.generated;
    s.totalMs = std::chrono::duration<double, std::milli>(now - seq.pending->submitted).count();
    if (seq.generated > 0) {
        s.timeToFirstTokenMs = std::chrono::duration<double, std::milli>(seq.firstToken - seq.pending->submitted).count();
        const double decodeS = std::chrono::duration<double>(now - seq.firstToken).count();
        if (seq.generated > 1 && decodeS > 0.0)
            s.decodeTokensPerS = (seq.generated - 1) / decodeS;
    }
    m_backend->kvPool().release(seq.table);
    seq.done = true;
    seq.pending->channel->push(std::move(event));
    std::lock_guard lock(m_mutex);
    ++m_stats.requestsServed;
}

void Scheduler::failSequence(Sequence& seq, const Error& error)
{
    if (seq.done)
        return;
    m_backend->kvPool().release(seq.table);
    seq.done = true;
    seq.pending->channel->fail(error);
}

void Scheduler::removeFinished()
{
    std::erase_if(m_running, [](const std::unique_ptr<Sequence>& s) { return !s || s->done; });
}

}  // namespace hearth
