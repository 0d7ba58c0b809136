#include "support/scheduler_driver.h"

#include <deque>

namespace hearth::test {

std::vector<std::unique_ptr<ChannelRequestHandle>> adoptTogether(Scheduler& scheduler,
                                                                 const std::vector<GenerateRequest>& requests)
{
    std::deque<std::unique_ptr<PendingRequest>> pending;
    std::vector<std::unique_ptr<ChannelRequestHandle>> handles;
    for (const GenerateRequest& r : requests) {
        auto p = std::make_unique<PendingRequest>();
        p->channel = std::make_shared<RequestChannel>(handles.size());
        p->request = r;
        handles.push_back(std::make_unique<ChannelRequestHandle>(p->channel));
        pending.push_back(std::move(p));
    }
    scheduler.adopt(std::move(pending));
    return handles;
}

}  // namespace hearth::test
