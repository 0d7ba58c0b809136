// cudasim exec: cooperative fibers (one per simulated GPU thread) on the calling OS thread, with
// a hand-written x86-64 context switch (ucontext elsewhere): switching costs a few nanoseconds,
// which matters when every warp shuffle switches through 32 fibers. Stacks are mmap'd with a
// guard page below them (an overflow faults instead of corrupting a neighbour) and reused.
#pragma once

#include <cstddef>
#include <memory>

namespace cudasim::exec {

class Fiber {
public:
    using Entry = void (*)(void* arg);

    explicit Fiber(std::size_t stackBytes);
    ~Fiber();
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;

    // Makes the next resume() start entry(arg) from the top of the stack.
    void reset(Entry entry, void* arg);
    // Runs the fiber until it calls suspend() (or its entry calls suspend() for good). Only from
    // the OS thread's own stack, never from another fiber.
    void resume();
    // From inside the fiber: back to the resume() that ran it.
    void suspend();
    // From inside the fiber: straight to `next` (started or suspended), which later suspends back
    // to the resume() that ran this one. Saves a round trip through the scheduler per switch.
    void switchTo(Fiber& next);
    // From inside the fiber, for good: it runs again only from the entry, after reset().
    [[noreturn]] void exit();

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

}  // namespace cudasim::exec
