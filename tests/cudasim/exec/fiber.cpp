#include "exec/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define CUDASIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CUDASIM_ASAN 1
#endif
#endif

#if defined(CUDASIM_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(__x86_64__)
// Saves the callee-saved registers on the current stack, stores the stack pointer in *save and
// continues on `load` (a stack saved the same way, or a fresh one built by Fiber::reset).
extern "C" void cudasim_exec_switch(void** save, void* load);
extern "C" void cudasim_exec_trampoline();
asm(R"(
    .text
    .p2align 4
    .globl cudasim_exec_switch
    .hidden cudasim_exec_switch
    .type cudasim_exec_switch,@function
cudasim_exec_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cudasim_exec_switch,.-cudasim_exec_switch

    .p2align 4
    .globl cudasim_exec_trampoline
    .hidden cudasim_exec_trampoline
    .type cudasim_exec_trampoline,@function
cudasim_exec_trampoline:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size cudasim_exec_trampoline,.-cudasim_exec_trampoline
)");
#endif

namespace cudasim::exec {

struct Fiber::Impl {
    char* mapping = nullptr;  // guard page + stack
    std::size_t mappingBytes = 0;
    char* stackBottom = nullptr;
    std::size_t stackBytes = 0;
    Entry entry = nullptr;
    void* arg = nullptr;
#if defined(__x86_64__)
    void* fiberSp = nullptr;
    void* callerSp = nullptr;
#else
    ucontext_t fiberCtx{};
    ucontext_t callerCtx{};
#endif
#if defined(CUDASIM_ASAN)
    void* fakeStack = nullptr;       // the fiber's, while it is suspended
    void* callerFakeStack = nullptr;  // the caller's, while the fiber runs
    const void* callerBottom = nullptr;
    std::size_t callerSize = 0;
#endif
};

namespace {

void fiberMain(Fiber::Impl* f)
{
#if defined(CUDASIM_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, &f->callerBottom, &f->callerSize);
#endif
    f->entry(f->arg);
    std::fputs("cudasim: a fiber's entry returned instead of suspending for good\n", stderr);
    std::abort();
}

#if !defined(__x86_64__)
void fiberMainSplit(unsigned lo, unsigned hi)
{
    const auto bits = (static_cast<std::uintptr_t>(hi) << 32) | lo;
    fiberMain(reinterpret_cast<Fiber::Impl*>(bits));
}
#endif

}  // namespace

Fiber::Fiber(std::size_t stackBytes) : m_impl(std::make_unique<Impl>())
{
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    stackBytes = (stackBytes + page - 1) / page * page;
    m_impl->mappingBytes = stackBytes + page;
    void* m = mmap(nullptr, m_impl->mappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        std::fputs("cudasim: cannot map a fiber stack\n", stderr);
        std::abort();
    }
    m_impl->mapping = static_cast<char*>(m);
    mprotect(m_impl->mapping, page, PROT_NONE);  // stacks grow down into the guard page
    m_impl->stackBottom = m_impl->mapping + page;
    m_impl->stackBytes = stackBytes;
}

Fiber::~Fiber() { munmap(m_impl->mapping, m_impl->mappingBytes); }

void Fiber::reset(Entry entry, void* arg)
{
    Impl& f = *m_impl;
    f.entry = entry;
    f.arg = arg;
#if defined(__x86_64__)
    // What cudasim_exec_switch pops: r15, r14, r13 (called), r12 (its argument), rbx, rbp, and
    // the return address (the trampoline), which leaves the stack 16-byte aligned for its call.
    auto top = reinterpret_cast<std::uintptr_t>(f.stackBottom + f.stackBytes) & ~std::uintptr_t{15};
    auto* sp = reinterpret_cast<void**>(top) - 7;
    sp[0] = nullptr;
    sp[1] = nullptr;
    sp[2] = reinterpret_cast<void*>(&fiberMain);
    sp[3] = &f;
    sp[4] = nullptr;
    sp[5] = nullptr;
    sp[6] = reinterpret_cast<void*>(&cudasim_exec_trampoline);
    f.fiberSp = sp;
#else
    getcontext(&f.fiberCtx);
    f.fiberCtx.uc_stack.ss_sp = f.stackBottom;
    f.fiberCtx.uc_stack.ss_size = f.stackBytes;
    f.fiberCtx.uc_link = nullptr;
    const auto bits = reinterpret_cast<std::uintptr_t>(&f);
    makecontext(&f.fiberCtx, reinterpret_cast<void (*)()>(&fiberMainSplit), 2, static_cast<unsigned>(bits),
                static_cast<unsigned>(bits >> 32));
#endif
}

void Fiber::resume()
{
    Impl& f = *m_impl;
#if defined(CUDASIM_ASAN)
    __sanitizer_start_switch_fiber(&f.callerFakeStack, f.stackBottom, f.stackBytes);
#endif
#if defined(__x86_64__)
    cudasim_exec_switch(&f.callerSp, f.fiberSp);
#else
    swapcontext(&f.callerCtx, &f.fiberCtx);
#endif
#if defined(CUDASIM_ASAN)
    __sanitizer_finish_switch_fiber(f.callerFakeStack, nullptr, nullptr);
#endif
}

void Fiber::suspend()
{
    Impl& f = *m_impl;
#if defined(CUDASIM_ASAN)
    __sanitizer_start_switch_fiber(&f.fakeStack, f.callerBottom, f.callerSize);
#endif
#if defined(__x86_64__)
    cudasim_exec_switch(&f.fiberSp, f.callerSp);
#else
    swapcontext(&f.fiberCtx, &f.callerCtx);
#endif
#if defined(CUDASIM_ASAN)
    __sanitizer_finish_switch_fiber(f.fakeStack, &f.callerBottom, &f.callerSize);
#endif
}

void Fiber::switchTo(Fiber& next)
{
#if defined(CUDASIM_ASAN)
    // The sanitizer's fiber annotations track one caller stack per switch: keep to plain round
    // trips through the scheduler there.
    (void)next;
    suspend();
#else
    Impl& f = *m_impl;
    Impl& n = *next.m_impl;
#if defined(__x86_64__)
    n.callerSp = f.callerSp;
    cudasim_exec_switch(&f.fiberSp, n.fiberSp);
#else
    n.callerCtx = f.callerCtx;
    swapcontext(&f.fiberCtx, &n.fiberCtx);
#endif
#endif
}

void Fiber::exit()
{
    Impl& f = *m_impl;
#if defined(CUDASIM_ASAN)
    __sanitizer_start_switch_fiber(nullptr, f.callerBottom, f.callerSize);  // frees the fake stack
#endif
#if defined(__x86_64__)
    cudasim_exec_switch(&f.fiberSp, f.callerSp);
#else
    swapcontext(&f.fiberCtx, &f.callerCtx);
#endif
    std::fputs("cudasim: a finished fiber was resumed without a reset\n", stderr);
    std::abort();
}

}  // namespace cudasim::exec
