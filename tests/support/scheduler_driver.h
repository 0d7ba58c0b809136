// Helpers for driving a Scheduler directly from tests: a backend wrapper that shows each step's
// plan to the test before the real backend runs it, and handing requests over all at once.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/engine.h"
#include "engine/request_handle.h"
#include "engine/scheduler.h"

namespace hearth::test {

// Runs `inner`, calling `onPlan` (on the scheduler's thread) with every plan before its step.
class ObservingBackend final : public Backend {
public:
    ObservingBackend(std::unique_ptr<Backend> inner, std::function<void(const BatchPlan&)> onPlan)
        : m_inner(std::move(inner)), m_onPlan(std::move(onPlan))
    {
    }
    const char* name() const override { return "observing"; }
    const ModelConfig& config() const override { return m_inner->config(); }
    KvPagePool& kvPool() override { return m_inner->kvPool(); }
    Result<ForwardResult> forward(const BatchPlan& plan) override
    {
        m_onPlan(plan);
        return m_inner->forward(plan);
    }

private:
    std::unique_ptr<Backend> m_inner;
    std::function<void(const BatchPlan&)> m_onPlan;
};

// Hands every request to `scheduler` in one adopt() call, so they arrive together; returns their
// handles in request order.
std::vector<std::unique_ptr<ChannelRequestHandle>> adoptTogether(Scheduler& scheduler,
                                                                 const std::vector<GenerateRequest>& requests);

}  // namespace hearth::test
