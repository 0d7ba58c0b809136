// Decode scripts for tst_cuda_backend's CUDA-graph tests (header-only): sequences prefilled with
// their prompts, then decode steps that feed one token to each listed sequence, run on any
// Backend with CUDA graphs on or off (HEARTH_CUDA_GRAPHS), recording each step's logits and how
// many graph launches it made. A sequence that appears in no later step has finished: its pages
// are released right after its last step, so later steps run beside a freed table.
#pragma once

#include <QtGlobal>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_graphs.h"

namespace decodetest {

struct DecodeScript {
    std::vector<std::vector<std::int32_t>> prompts;
    std::vector<std::vector<std::size_t>> steps;  // the sequences decoding at each step, in plan order
    // Before this step a prefill of growTokens tokens (a sequence of its own, released after it)
    // grows the activation buffers that captured graphs point at.
    std::size_t growBefore = std::numeric_limits<std::size_t>::max();
    std::int64_t growTokens = 400;
};

struct ScriptRun {
    std::vector<std::vector<std::vector<float>>> rows;  // [step][k]: the logits of steps[step][k]
    std::vector<std::uint64_t> replays;                 // [step]: graph launches the step made
    hearth::cuda::DecodeGraphCounters before, after;     // around the decode steps
};

// Any in-vocabulary token will do under teacher forcing; these differ per sequence and step, so a
// graph replaying stale inputs gives other logits.
inline std::int32_t scriptToken(std::size_t seq, std::size_t step)
{
    return static_cast<std::int32_t>((1009 + 7919 * seq + 104729 * step) % 150000);
}

// Sets HEARTH_CUDA_GRAPHS for the scope, unset afterwards (the backend's default: on).
class GraphsSwitch {
public:
    explicit GraphsSwitch(bool on) { set(on); }
    ~GraphsSwitch() { qunsetenv("HEARTH_CUDA_GRAPHS"); }
    GraphsSwitch(const GraphsSwitch&) = delete;
    GraphsSwitch& operator=(const GraphsSwitch&) = delete;
    void set(bool on) { qputenv("HEARTH_CUDA_GRAPHS", on ? "1" : "0"); }
};

// Block tables released however the run ends.
struct HeldTables {
    hearth::KvPagePool& pool;
    std::vector<hearth::BlockTable> tables;
    ~HeldTables()
    {
        for (hearth::BlockTable& t : tables)
            pool.release(t);
    }
};

inline hearth::SequenceStep stepOf(std::vector<std::int32_t> tokens, std::int32_t first, const hearth::BlockTable& table)
{
    hearth::SequenceStep s;
    s.positions.resize(tokens.size());
    std::iota(s.positions.begin(), s.positions.end(), first);
    s.tokenIds = std::move(tokens);
    s.blockTable = &table;
    s.logits = hearth::LogitsRows::Last;
    return s;
}

// Prefills (graphs off: only the decode steps are counted), then runs the decode steps with
// graphs `graphs`.
inline hearth::Result<ScriptRun> runScript(hearth::Backend& backend, const DecodeScript& script, bool graphs)
{
    using namespace hearth;
    GraphsSwitch graphsSwitch(false);
    const std::size_t n = script.prompts.size();
    HeldTables held{backend.kvPool(), std::vector<BlockTable>(n)};
    std::vector<std::int32_t> length(n, 0);
    std::vector<std::size_t> lastStep(n, 0);
    for (std::size_t s = 0; s < script.steps.size(); ++s)
        for (std::size_t i : script.steps[s])
            lastStep[i] = s;
    for (std::size_t i = 0; i < n; ++i) {
        const std::vector<std::int32_t>& prompt = script.prompts[i];
        HEARTH_TRY_STATUS(backend.kvPool().reserve(held.tables[i], static_cast<std::int64_t>(prompt.size() + script.steps.size())));
        BatchPlan plan;
        plan.sequences.push_back(stepOf(prompt, 0, held.tables[i]));
        HEARTH_TRY_STATUS(backend.forward(plan));
        length[i] = static_cast<std::int32_t>(prompt.size());
    }

    ScriptRun run;
    run.before = cuda::decodeGraphCounters();
    for (std::size_t s = 0; s < script.steps.size(); ++s) {
        if (s == script.growBefore) {
            graphsSwitch.set(false);
            HeldTables grow{backend.kvPool(), std::vector<BlockTable>(1)};
            HEARTH_TRY_STATUS(backend.kvPool().reserve(grow.tables[0], script.growTokens));
            std::vector<std::int32_t> tokens;
            for (std::int64_t t = 0; t < script.growTokens; ++t)
                tokens.push_back(scriptToken(1000, static_cast<std::size_t>(t)));
            BatchPlan plan;
            plan.sequences.push_back(stepOf(std::move(tokens), 0, grow.tables[0]));
            HEARTH_TRY_STATUS(backend.forward(plan));
        }
        graphsSwitch.set(graphs);
        BatchPlan plan;
        for (std::size_t i : script.steps[s])
            plan.sequences.push_back(stepOf({scriptToken(i, s)}, length[i], held.tables[i]));
        const std::uint64_t replaysBefore = cuda::decodeGraphCounters().replays;
        HEARTH_TRY_ASSIGN(ForwardResult out, backend.forward(plan));
        run.replays.push_back(cuda::decodeGraphCounters().replays - replaysBefore);
        if (out.firstRow.size() != plan.sequences.size() + 1)
            return makeError(ErrorCode::Internal, "step " + std::to_string(s) + ": firstRow has the wrong size");
        std::vector<std::vector<float>> rows;
        for (std::size_t k = 0; k < plan.sequences.size(); ++k) {
            if (out.firstRow[k + 1] - out.firstRow[k] != 1)
                return makeError(ErrorCode::Internal, "step " + std::to_string(s) + ": sequence " + std::to_string(k) +
                                                          " did not get exactly one logits row");
            const auto at = out.logits.begin() + out.firstRow[k] * out.vocabSize;
            rows.emplace_back(at, at + out.vocabSize);
        }
        run.rows.push_back(std::move(rows));
        for (std::size_t i : script.steps[s]) {
            ++length[i];
            if (lastStep[i] == s)
                backend.kvPool().release(held.tables[i]);  // finished
        }
    }
    run.after = cuda::decodeGraphCounters();
    return run;
}

// tst_cuda_backend's decode scripts by name, on golden's d64 prompts (20, 100, 120 and 1 tokens)
// and a synthetic 250-token one; empty for an unknown name.
inline DecodeScript scriptNamed(const std::string& name, const std::vector<std::vector<std::int32_t>>& golden)
{
    std::vector<std::int32_t> long250;
    for (std::size_t t = 0; t < 250; ++t)
        long250.push_back(scriptToken(500, t));
    DecodeScript script;
    const auto prompts = [&](std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            script.prompts.push_back(golden[i % golden.size()]);
    };
    const auto steps = [&](std::size_t count, std::vector<std::size_t> active) {
        for (std::size_t i = 0; i < count; ++i)
            script.steps.push_back(active);
    };
    const auto firstN = [](std::size_t n) {
        std::vector<std::size_t> v(n);
        std::iota(v.begin(), v.end(), std::size_t{0});
        return v;
    };
    if (name == "batch 1") {
        prompts(1);
        steps(6, {0});
    } else if (name == "batch 3, new inputs each step") {
        prompts(3);
        steps(8, {0, 1, 2});
    } else if (name == "batch 5") {
        prompts(5);
        steps(4, firstN(5));
    } else if (name == "batch 17") {
        prompts(17);
        steps(3, firstN(17));
    } else if (name == "context crosses a bucket") {  // contexts 251..260 against the 256 bucket
        script.prompts = {long250, golden[1]};
        steps(10, {0, 1});
    } else if (name == "5 then 4 then 2 sequences") {  // buckets 8, 4, 2; the last two in reverse order
        prompts(5);
        steps(3, firstN(5));
        steps(3, {0, 1, 3, 4});
        steps(2, {3, 1});
    } else if (name == "17 then 16 then 9 sequences") {  // buckets 24, 16, 16
        prompts(17);
        steps(2, firstN(17));
        std::vector<std::size_t> sixteen = firstN(17);
        sixteen.erase(sixteen.begin() + 5);
        steps(2, sixteen);
        steps(2, {0, 2, 4, 6, 8, 10, 12, 14, 16});
    } else if (name == "buffers grow") {
        prompts(2);
        steps(6, {0, 1});
        script.growBefore = 3;
    }
    return script;
}

}  // namespace decodetest
