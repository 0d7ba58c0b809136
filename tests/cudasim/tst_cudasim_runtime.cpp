// cudasim's runtime half against what CUDA documents: deferred stream work, the legacy default
// stream's implicit synchronisation, events, graph capture and replay, memory accounting, the
// per-thread last error, and cublasGemmEx against a naive double-precision reference.
#include <QtTest>

#include <sys/wait.h>
#include <unistd.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cudasim.h"

namespace {

constexpr std::size_t kSimMemoryMb = 64;

// A log of host closures run through the queues, to see what ran and in which order.
struct RunLog {
    std::vector<int> order;
    std::function<void()> note(int id)
    {
        return [this, id] { order.push_back(id); };
    }
};

// Exact encodings of values that fp16 and bf16 both represent (small multiples of 1/32).
std::uint16_t exactHalf(float v)
{
    if (v == 0.0f)
        return std::signbit(v) ? 0x8000 : 0;
    int e = 0;
    const float m = std::frexp(std::fabs(v), &e);  // v = m 2^e, m in [0.5, 1)
    const auto mant = static_cast<std::uint16_t>(std::ldexp(m, 11) - 1024.0f);
    return static_cast<std::uint16_t>((v < 0 ? 0x8000 : 0) | ((e - 1 + 15) << 10) | mant);
}

std::uint16_t exactBf16(float v)
{
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return static_cast<std::uint16_t>(bits >> 16);
}

float decodeHalf(std::uint16_t h)
{
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (exp == 0x1f)
        return mant ? NAN : sign * INFINITY;
    if (exp == 0)
        return sign * std::ldexp(static_cast<float>(mant), -24);
    return sign * std::ldexp(static_cast<float>(mant + 1024), exp - 25);
}

float decodeBf16(std::uint16_t h)
{
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

}  // namespace

class TestCudasimRuntime : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        // Before the first runtime call: the simulated device's size is read once.
        qputenv("CUDASIM_MEMORY_MB", QByteArray::number(static_cast<qulonglong>(kSimMemoryMb)));
    }

    void init() { QCOMPARE(cudaGetLastError(), cudaSuccess); }

    void freshMemoryIsFilled()
    {
        unsigned char* p = nullptr;
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&p), 1000), cudaSuccess);
        std::vector<unsigned char> back(1000, 0);
        QCOMPARE(cudaMemcpy(back.data(), p, back.size(), cudaMemcpyDeviceToHost), cudaSuccess);
        for (unsigned char b : back)
            QCOMPARE(int(b), 0xFF);
        QCOMPARE(cudaFree(p), cudaSuccess);
    }

    void asyncCopyFromPinnedReadsAtRunTime()
    {
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        int* pinned = nullptr;
        int* dev = nullptr;
        QCOMPARE(cudaMallocHost(reinterpret_cast<void**>(&pinned), 4 * sizeof(int)), cudaSuccess);
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&dev), 4 * sizeof(int)), cudaSuccess);
        for (int i = 0; i < 4; ++i)
            pinned[i] = i;
        QCOMPARE(cudaMemcpyAsync(dev, pinned, 4 * sizeof(int), cudaMemcpyHostToDevice, s), cudaSuccess);
        pinned[2] = 42;  // the copy has not run: a real GPU may read this too
        QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
        std::vector<int> back(4, -1);
        QCOMPARE(cudaMemcpy(back.data(), dev, 4 * sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
        QCOMPARE(back, (std::vector<int>{0, 1, 42, 3}));

        // Into pinned memory: nothing arrives before the wait.
        pinned[0] = -7;
        QCOMPARE(cudaMemcpyAsync(pinned, dev, sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
        QCOMPARE(pinned[0], -7);
        QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
        QCOMPARE(pinned[0], 0);
        QCOMPARE(cudaFree(dev), cudaSuccess);
        QCOMPARE(cudaFreeHost(pinned), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void asyncCopyFromPageableIsStaged()
    {
        // CUDA copies pageable memory to a staging buffer before cudaMemcpyAsync returns.
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        std::vector<int> host{1, 2, 3};
        int* dev = nullptr;
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&dev), 3 * sizeof(int)), cudaSuccess);
        QCOMPARE(cudaMemcpyAsync(dev, host.data(), 3 * sizeof(int), cudaMemcpyHostToDevice, s), cudaSuccess);
        host[1] = 99;
        std::vector<int> back(3, 0);
        // Into pageable memory the call returns only when the copy is done.
        QCOMPARE(cudaMemcpyAsync(back.data(), dev, 3 * sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
        QCOMPARE(back, (std::vector<int>{1, 2, 3}));
        QCOMPARE(cudaFree(dev), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void blockingCopyToTheDeviceHasLanded()
    {
        // CUDA documents that cudaMemcpy from pageable memory may return with the last DMA still
        // in flight; the sim (conservatively, as drivers behave in practice) completes it, so a
        // non-blocking stream sees it at once. The source is staged either way.
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        int* dev = nullptr;
        int* pinned = nullptr;
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&dev), sizeof(int)), cudaSuccess);
        QCOMPARE(cudaMallocHost(reinterpret_cast<void**>(&pinned), sizeof(int)), cudaSuccess);
        int host = 5;
        QCOMPARE(cudaMemcpy(dev, &host, sizeof(int), cudaMemcpyHostToDevice), cudaSuccess);
        host = 6;
        QCOMPARE(cudaMemcpyAsync(pinned, dev, sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
        QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
        QCOMPARE(*pinned, 5);
        *pinned = 7;
        QCOMPARE(cudaMemcpy(dev, pinned, sizeof(int), cudaMemcpyHostToDevice), cudaSuccess);
        *pinned = 8;
        QCOMPARE(cudaMemcpyAsync(&host, dev, sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
        QCOMPARE(host, 7);
        QCOMPARE(cudaFree(dev), cudaSuccess);
        QCOMPARE(cudaFreeHost(pinned), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void copyChecksPointers()
    {
        std::vector<char> host(64), other(64);
        char* dev = nullptr;
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&dev), 32), cudaSuccess);
        QCOMPARE(cudaMemcpy(other.data(), host.data(), 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
        QCOMPARE(cudaMemcpy(dev, host.data(), 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);  // past the end
        QCOMPARE(cudaMemsetAsync(host.data(), 0, 8, nullptr), cudaErrorInvalidValue);
        QCOMPARE(cudaGetLastError(), cudaErrorInvalidValue);
        QCOMPARE(cudaFree(dev), cudaSuccess);
    }

    void workWaitsForAWait()
    {
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        RunLog log;
        QCOMPARE(cudasim::enqueue(s, log.note(1), "one"), cudaSuccess);
        QCOMPARE(cudasim::enqueue(s, log.note(2), "two"), cudaSuccess);
        QVERIFY(log.order.empty());
        QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
        QCOMPARE(log.order, (std::vector<int>{1, 2}));
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
        QCOMPARE(cudasim::enqueue(s, log.note(3), "dead stream"), cudaErrorInvalidResourceHandle);
        QCOMPARE(cudaGetLastError(), cudaErrorInvalidResourceHandle);
    }

    void legacyStreamSynchronisesWithBlockingStreams()
    {
        cudaStream_t blockingStream = nullptr, nonBlocking = nullptr;
        QCOMPARE(cudaStreamCreate(&blockingStream), cudaSuccess);
        QCOMPARE(cudaStreamCreateWithFlags(&nonBlocking, cudaStreamNonBlocking), cudaSuccess);
        RunLog log;
        QCOMPARE(cudasim::enqueue(blockingStream, log.note(1), "blocking before"), cudaSuccess);
        QCOMPARE(cudasim::enqueue(nonBlocking, log.note(2), "non-blocking"), cudaSuccess);
        QCOMPARE(cudasim::enqueue(nullptr, log.note(3), "legacy"), cudaSuccess);
        QCOMPARE(cudasim::enqueue(blockingStream, log.note(4), "blocking after"), cudaSuccess);
        // The blocking stream's item 4 follows the legacy item 3, which follows item 1; the
        // non-blocking stream is independent of both.
        QCOMPARE(cudaStreamSynchronize(blockingStream), cudaSuccess);
        QCOMPARE(log.order, (std::vector<int>{1, 3, 4}));
        QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
        QCOMPARE(log.order, (std::vector<int>{1, 3, 4, 2}));
        QCOMPARE(cudaStreamDestroy(blockingStream), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(nonBlocking), cudaSuccess);
    }

    void blockingCopyDoesNotWaitForNonBlockingStreams()
    {
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        int* dev = nullptr;
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&dev), sizeof(int)), cudaSuccess);
        QCOMPARE(cudaMemsetAsync(dev, 0, sizeof(int), s), cudaSuccess);
        int back = 1;
        QCOMPARE(cudaMemcpy(&back, dev, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
        QCOMPARE(back, -1);  // the memset on the non-blocking stream has not run
        QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
        QCOMPARE(cudaMemcpy(&back, dev, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
        QCOMPARE(back, 0);
        QCOMPARE(cudaFree(dev), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void eventsOrderWork()
    {
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        cudaEvent_t start = nullptr, mid = nullptr, plain = nullptr;
        QCOMPARE(cudaEventCreate(&start), cudaSuccess);
        QCOMPARE(cudaEventCreate(&mid), cudaSuccess);
        QCOMPARE(cudaEventCreateWithFlags(&plain, cudaEventDisableTiming), cudaSuccess);
        QCOMPARE(cudaEventSynchronize(plain), cudaSuccess);  // never recorded: complete
        RunLog log;
        QCOMPARE(cudaEventRecord(start, s), cudaSuccess);
        QCOMPARE(cudasim::enqueue(s, [] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }, "sleep"),
                 cudaSuccess);
        QCOMPARE(cudasim::enqueue(s, log.note(1), "one"), cudaSuccess);
        QCOMPARE(cudaEventRecord(mid, s), cudaSuccess);
        QCOMPARE(cudaEventRecord(plain, s), cudaSuccess);
        QCOMPARE(cudasim::enqueue(s, log.note(2), "two"), cudaSuccess);
        float ms = 0;
        QCOMPARE(cudaEventElapsedTime(&ms, start, mid), cudaErrorNotReady);  // nothing has run
        QCOMPARE(cudaEventSynchronize(mid), cudaSuccess);
        QCOMPARE(log.order, (std::vector<int>{1}));
        QCOMPARE(cudaEventElapsedTime(&ms, start, mid), cudaSuccess);
        QVERIFY2(ms >= 25.0f && ms < 5000.0f, qPrintable(QString::number(ms)));
        QCOMPARE(cudaEventElapsedTime(&ms, start, plain), cudaErrorInvalidResourceHandle);
        QCOMPARE(cudaEventQuery(plain), cudaSuccess);
        QCOMPARE(log.order, (std::vector<int>{1}));
        QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
        QCOMPARE(log.order, (std::vector<int>{1, 2}));
        QCOMPARE(cudaGetLastError(), cudaErrorInvalidResourceHandle);
        for (cudaEvent_t e : {start, mid, plain})
            QCOMPARE(cudaEventDestroy(e), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void eventWaitedOnAnotherThread()
    {
        // The load path's shape: one thread queues copies and records, another waits the event.
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        cudaEvent_t e = nullptr;
        QCOMPARE(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
        std::atomic<int> ran{0};
        QCOMPARE(cudasim::enqueue(s, [&] { ran = 1; }, "work"), cudaSuccess);
        QCOMPARE(cudaEventRecord(e, s), cudaSuccess);
        cudaError_t waited = cudaErrorUnknown;
        std::thread t([&] { waited = cudaEventSynchronize(e); });
        t.join();
        QCOMPARE(waited, cudaSuccess);
        QCOMPARE(ran.load(), 1);
        QCOMPARE(cudaEventDestroy(e), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void graphCaptureAndReplay()
    {
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        int* a = nullptr;
        int* b = nullptr;
        int* pinned = nullptr;
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&a), 8 * sizeof(int)), cudaSuccess);
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&b), 8 * sizeof(int)), cudaSuccess);
        QCOMPARE(cudaMallocHost(reinterpret_cast<void**>(&pinned), 8 * sizeof(int)), cudaSuccess);
        std::atomic<int> hostRuns{0};
        QCOMPARE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
        cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
        QCOMPARE(cudaStreamIsCapturing(s, &status), cudaSuccess);
        QCOMPARE(status, cudaStreamCaptureStatusActive);
        QCOMPARE(cudaMemcpyAsync(a, pinned, 8 * sizeof(int), cudaMemcpyHostToDevice, s), cudaSuccess);
        QCOMPARE(cudaMemsetAsync(b, 0, 8 * sizeof(int), s), cudaSuccess);
        QCOMPARE(cudaMemcpyAsync(b, a, 4 * sizeof(int), cudaMemcpyDeviceToDevice, s), cudaSuccess);
        QCOMPARE(cudasim::enqueue(s, [&] { ++hostRuns; }, "host"), cudaSuccess);
        QCOMPARE(cudaMemcpyAsync(pinned, b, 8 * sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
        cudaGraph_t graph = nullptr;
        QCOMPARE(cudaStreamEndCapture(s, &graph), cudaSuccess);
        QVERIFY(graph != nullptr);
        QCOMPARE(hostRuns.load(), 0);  // captured, not run
        std::size_t nNodes = 0;
        QCOMPARE(cudaGraphGetNodes(graph, nullptr, &nNodes), cudaSuccess);
        QCOMPARE(nNodes, std::size_t{5});
        cudaGraphExec_t exec = nullptr;
        QCOMPARE(cudaGraphInstantiateWithFlags(&exec, graph, 0), cudaSuccess);
        QCOMPARE(cudaGraphDestroy(graph), cudaSuccess);
        QCOMPARE(cudaGraphUpload(exec, s), cudaSuccess);
        for (int round = 1; round <= 2; ++round) {
            for (int i = 0; i < 8; ++i)
                pinned[i] = 10 * round + i;  // each replay reads the pinned inputs anew
            QCOMPARE(cudaGraphLaunch(exec, s), cudaSuccess);
            QCOMPARE(pinned[0], 10 * round);
            QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
            QCOMPARE(hostRuns.load(), round);
            const std::vector<int> got(pinned, pinned + 8);
            QCOMPARE(got, (std::vector<int>{10 * round, 10 * round + 1, 10 * round + 2, 10 * round + 3, 0, 0, 0, 0}));
        }
        QCOMPARE(cudaGraphExecDestroy(exec), cudaSuccess);
        QCOMPARE(cudaFree(a), cudaSuccess);
        QCOMPARE(cudaFree(b), cudaSuccess);
        QCOMPARE(cudaFreeHost(pinned), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void replayOnFreedMemoryFaults()
    {
        // A graph keeps the pointers it captured: replaying it after cudaFree is a device fault.
        const pid_t child = fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            ::close(2);  // the fault's message is expected
            cudaStream_t s = nullptr;
            void* dev = nullptr;
            cudaGraph_t graph = nullptr;
            cudaGraphExec_t exec = nullptr;
            if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess || cudaMalloc(&dev, 64) != cudaSuccess ||
                cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) != cudaSuccess ||
                cudaMemsetAsync(dev, 0, 64, s) != cudaSuccess || cudaStreamEndCapture(s, &graph) != cudaSuccess ||
                cudaGraphInstantiateWithFlags(&exec, graph, 0) != cudaSuccess || cudaGraphLaunch(exec, s) != cudaSuccess ||
                cudaStreamSynchronize(s) != cudaSuccess || cudaFree(dev) != cudaSuccess ||
                cudaGraphLaunch(exec, s) != cudaSuccess)
                _exit(3);
            cudaStreamSynchronize(s);
            _exit(0);
        }
        int status = 0;
        QCOMPARE(waitpid(child, &status, 0), child);
        QVERIFY2(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, qPrintable(QString::number(status)));
    }

    void illegalCallsInvalidateACapture_data()
    {
        QTest::addColumn<int>("call");
        QTest::newRow("sync the capturing stream") << 0;
        QTest::newRow("blocking cudaMemcpy") << 1;
        QTest::newRow("cudaDeviceSynchronize") << 2;
        QTest::newRow("cudaFree") << 3;
    }

    void illegalCallsInvalidateACapture()
    {
        QFETCH(int, call);
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        int* dev = nullptr;
        QCOMPARE(cudaMalloc(reinterpret_cast<void**>(&dev), sizeof(int)), cudaSuccess);
        QCOMPARE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
        QCOMPARE(cudaMemsetAsync(dev, 0, sizeof(int), s), cudaSuccess);
        int host = 0;
        cudaError_t e = cudaSuccess;
        switch (call) {
        case 0: e = cudaStreamSynchronize(s); break;
        case 1: e = cudaMemcpy(&host, dev, sizeof(int), cudaMemcpyDeviceToHost); break;
        case 2: e = cudaDeviceSynchronize(); break;
        default: e = cudaFree(dev); break;
        }
        QCOMPARE(e, cudaErrorStreamCaptureUnsupported);
        cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
        QCOMPARE(cudaStreamIsCapturing(s, &status), cudaSuccess);
        QCOMPARE(status, cudaStreamCaptureStatusInvalidated);
        QCOMPARE(cudaMemsetAsync(dev, 0, sizeof(int), s), cudaErrorStreamCaptureInvalidated);
        cudaGraph_t graph = reinterpret_cast<cudaGraph_t>(&host);
        QCOMPARE(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
        QVERIFY(graph == nullptr);
        QCOMPARE(cudaGetLastError(), cudaErrorStreamCaptureInvalidated);
        // The stream works again after the failed capture.
        QCOMPARE(cudaMemsetAsync(dev, 0, sizeof(int), s), cudaSuccess);
        QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
        QCOMPARE(cudaFree(dev), cudaSuccess);
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void captureModes()
    {
        cudaStream_t s = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
        QCOMPARE(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeGlobal), cudaErrorStreamCaptureUnsupported);
        // ThreadLocal: another thread's blocking copy is allowed and leaves the capture valid.
        QCOMPARE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
        QCOMPARE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaErrorIllegalState);
        cudaError_t other = cudaErrorUnknown;
        std::thread([&] { other = cudaDeviceSynchronize(); }).join();
        QCOMPARE(other, cudaSuccess);
        cudaGraph_t graph = nullptr;
        cudaError_t wrongThread = cudaSuccess;
        std::thread([&] { wrongThread = cudaStreamEndCapture(s, &graph); }).join();
        QCOMPARE(wrongThread, cudaErrorStreamCaptureWrongThread);
        QCOMPARE(cudaStreamEndCapture(s, &graph), cudaSuccess);
        QCOMPARE(cudaGraphDestroy(graph), cudaSuccess);
        // Global: the other thread's unsafe call fails and invalidates the capture.
        QCOMPARE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
        std::thread([&] { other = cudaDeviceSynchronize(); }).join();
        QCOMPARE(other, cudaErrorStreamCaptureUnsupported);
        QCOMPARE(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
        // Relaxed: nothing is prohibited.
        QCOMPARE(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
        QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
        QCOMPARE(cudaStreamEndCapture(s, &graph), cudaSuccess);
        QCOMPARE(cudaGraphDestroy(graph), cudaSuccess);
        // A blocking stream's capture forbids the legacy stream, which would have to join it.
        cudaStream_t blockingStream = nullptr;
        QCOMPARE(cudaStreamCreate(&blockingStream), cudaSuccess);
        QCOMPARE(cudaStreamBeginCapture(blockingStream, cudaStreamCaptureModeRelaxed), cudaSuccess);
        QCOMPARE(cudasim::enqueue(nullptr, [] {}, "legacy"), cudaErrorStreamCaptureImplicit);
        QCOMPARE(cudaStreamEndCapture(blockingStream, &graph), cudaErrorStreamCaptureInvalidated);
        QCOMPARE(cudaStreamDestroy(blockingStream), cudaSuccess);
        QCOMPARE(cudaStreamEndCapture(s, &graph), cudaErrorIllegalState);
        cudaGetLastError();
        QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    }

    void memoryAccounting()
    {
        std::size_t freeBefore = 0, total = 0;
        QCOMPARE(cudaMemGetInfo(&freeBefore, &total), cudaSuccess);
        QCOMPARE(total, kSimMemoryMb << 20);
        cudaDeviceProp prop{};
        QCOMPARE(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
        QCOMPARE(prop.totalGlobalMem, total);
        QCOMPARE(QString::fromLatin1(prop.name), QString::fromLatin1(cudasim::kDeviceName));
        void* p = nullptr;
        QCOMPARE(cudaMalloc(&p, 10 << 20), cudaSuccess);
        std::size_t freeNow = 0;
        QCOMPARE(cudaMemGetInfo(&freeNow, &total), cudaSuccess);
        QVERIFY(freeBefore - freeNow >= (10u << 20));
        void* tooBig = nullptr;
        QCOMPARE(cudaMalloc(&tooBig, freeNow + 1), cudaErrorMemoryAllocation);
        QVERIFY(tooBig == nullptr);
        QCOMPARE(cudaGetLastError(), cudaErrorMemoryAllocation);
        QCOMPARE(cudaFree(p), cudaSuccess);
        QCOMPARE(cudaMemGetInfo(&freeNow, &total), cudaSuccess);
        QCOMPARE(freeNow, freeBefore);
        // Pinned host memory is not device memory.
        void* pinned = nullptr;
        QCOMPARE(cudaHostAlloc(&pinned, 1 << 20, cudaHostAllocDefault), cudaSuccess);
        QCOMPARE(cudaMemGetInfo(&freeNow, &total), cudaSuccess);
        QCOMPARE(freeNow, freeBefore);
        QCOMPARE(cudaFree(pinned), cudaErrorInvalidValue);
        std::vector<char> host(16);
        QCOMPARE(cudaFree(host.data()), cudaErrorInvalidValue);
        QCOMPARE(cudaFreeHost(pinned), cudaSuccess);
        QCOMPARE(cudaFree(nullptr), cudaSuccess);
        cudaGetLastError();
    }

    void lastErrorIsPerThreadUntilRead()
    {
        QCOMPARE(cudaSetDevice(1), cudaErrorInvalidDevice);
        cudaError_t seenElsewhere = cudaErrorUnknown;
        std::thread([&] { seenElsewhere = cudaPeekAtLastError(); }).join();
        QCOMPARE(seenElsewhere, cudaSuccess);
        QCOMPARE(cudaSuccess, cudaSetDevice(0));  // success does not clear it
        QCOMPARE(cudaPeekAtLastError(), cudaErrorInvalidDevice);
        QCOMPARE(cudaPeekAtLastError(), cudaErrorInvalidDevice);
        QCOMPARE(cudaGetLastError(), cudaErrorInvalidDevice);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
        QCOMPARE(QString::fromLatin1(cudaGetErrorString(cudaErrorMemoryAllocation)), QStringLiteral("out of memory"));
        QCOMPARE(QString::fromLatin1(cudaGetErrorName(cudaErrorInvalidValue)), QStringLiteral("cudaErrorInvalidValue"));
        int value = 0;
        QCOMPARE(cudaDeviceGetAttribute(&value, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
        QCOMPARE(value, cudasim::kComputeMajor);
        QCOMPARE(cudaDeviceGetAttribute(&value, cudaDevAttrGlobalMemoryBusWidth, 0), cudaSuccess);
        QVERIFY(value > 0);
    }

    void dynamicSharedMemoryAttribute()
    {
        static const int kernelStandIn = 0;
        const void* f = &kernelStandIn;
        QCOMPARE(cudasim::maxDynamicSharedBytes(f), cudasim::kSharedPerBlockDefault);
        QCOMPARE(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 * 1024), cudaSuccess);
        QCOMPARE(cudasim::maxDynamicSharedBytes(f), std::size_t{100 * 1024});
        QCOMPARE(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(cudasim::kSharedPerBlockOptin) + 1),
                 cudaErrorInvalidValue);
        QCOMPARE(cudasim::maxDynamicSharedBytes(f), std::size_t{100 * 1024});
        cudaFuncAttributes attr{};
        QCOMPARE(cudaFuncGetAttributes(&attr, f), cudaSuccess);
        QCOMPARE(attr.maxDynamicSharedSizeBytes, 100 * 1024);
        QCOMPARE(attr.ptxVersion, 90);
        cudaGetLastError();
    }

    void gemm_data();
    void gemm();
    void gemmRejectsWhatItDoesNotDo();
};

void TestCudasimRuntime::gemm_data()
{
    QTest::addColumn<int>("inType");
    QTest::addColumn<int>("outType");
    QTest::addColumn<bool>("transA");
    QTest::addColumn<bool>("transB");
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    QTest::addColumn<int>("pad");  // extra leading-dimension elements
    QTest::addColumn<float>("beta");
    const int types[][2] = {{CUDA_R_16F, CUDA_R_16F}, {CUDA_R_16F, CUDA_R_32F}, {CUDA_R_16BF, CUDA_R_16BF},
                            {CUDA_R_16BF, CUDA_R_32F}};
    const int shapes[][3] = {{1, 1, 1}, {7, 83, 5}, {83, 7, 129}, {33, 65, 64}};
    for (const auto& t : types)
        for (const auto& sh : shapes)
            for (int ops = 0; ops < 4; ++ops) {
                // gemm.cu's call is (T, N); the other three check the general column-major GEMM.
                const bool ta = ops == 0 || ops == 2, tb = ops >= 2;
                const float beta = (sh[0] + ops) % 2 ? 0.0f : 0.5f;
                const int pad = ops == 1 ? 0 : 3;
                QTest::addRow("%s->%s %c%c %dx%dx%d beta=%g", t[0] == CUDA_R_16F ? "f16" : "bf16",
                              t[1] == CUDA_R_32F ? "f32" : "same", ta ? 'T' : 'N', tb ? 'T' : 'N', sh[0], sh[1], sh[2],
                              double(beta))
                    << t[0] << t[1] << ta << tb << sh[0] << sh[1] << sh[2] << pad << beta;
            }
}

void TestCudasimRuntime::gemm()
{
    QFETCH(int, inType);
    QFETCH(int, outType);
    QFETCH(bool, transA);
    QFETCH(bool, transB);
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    QFETCH(int, pad);
    QFETCH(float, beta);
    const bool inHalf = inType == CUDA_R_16F;
    const int rowsA = transA ? k : m, colsA = transA ? m : k;
    const int rowsB = transB ? n : k, colsB = transB ? k : n;
    const int lda = rowsA + pad, ldb = rowsB + pad, ldc = m + pad;
    std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 17 + k));
    std::uniform_int_distribution<int> dist(-64, 64);
    auto fill = [&](std::vector<float>& v) {
        for (float& x : v)
            x = static_cast<float>(dist(rng)) / 32.0f;
    };
    std::vector<float> a(static_cast<std::size_t>(lda) * colsA), b(static_cast<std::size_t>(ldb) * colsB),
        c(static_cast<std::size_t>(ldc) * n);
    fill(a);
    fill(b);
    fill(c);
    const bool outFloat = outType == CUDA_R_32F;
    auto encode = [&](const std::vector<float>& v) {
        std::vector<std::uint16_t> bits(v.size());
        for (std::size_t i = 0; i < v.size(); ++i)
            bits[i] = inHalf ? exactHalf(v[i]) : exactBf16(v[i]);
        return bits;
    };
    const std::vector<std::uint16_t> aBits = encode(a), bBits = encode(b), cBits = encode(c);
    void *dA = nullptr, *dB = nullptr, *dC = nullptr;
    const std::size_t outBytes = outFloat ? 4 : 2;
    QCOMPARE(cudaMalloc(&dA, aBits.size() * 2), cudaSuccess);
    QCOMPARE(cudaMalloc(&dB, bBits.size() * 2), cudaSuccess);
    QCOMPARE(cudaMalloc(&dC, c.size() * outBytes), cudaSuccess);
    QCOMPARE(cudaMemcpy(dA, aBits.data(), aBits.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
    QCOMPARE(cudaMemcpy(dB, bBits.data(), bBits.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
    if (beta != 0.0f)  // with beta == 0 C stays 0xFF (NaN): cuBLAS must not read it
        QCOMPARE(cudaMemcpy(dC, outFloat ? static_cast<const void*>(c.data()) : cBits.data(), c.size() * outBytes,
                            cudaMemcpyHostToDevice),
                 cudaSuccess);
    cudaStream_t s = nullptr;
    QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    cublasHandle_t h = nullptr;
    QCOMPARE(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    const float alpha = 1.5f;
    QCOMPARE(cublasGemmEx(h, transA ? CUBLAS_OP_T : CUBLAS_OP_N, transB ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, dA,
                          cudaDataType(inType), lda, dB, cudaDataType(inType), ldb, &beta, dC, cudaDataType(outType), ldc,
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
    std::vector<unsigned char> out(c.size() * outBytes);
    QCOMPARE(cudaMemcpy(out.data(), dC, out.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    // The reference: C = alpha op(A) op(B) + beta C in double, column-major.
    const double tolerance = outFloat ? 1e-5 : inHalf ? 1.0 / 1024 : 1.0 / 128;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double acc = 0;
            for (int l = 0; l < k; ++l) {
                const double av = transA ? a[l + std::size_t(i) * lda] : a[i + std::size_t(l) * lda];
                const double bv = transB ? b[j + std::size_t(l) * ldb] : b[l + std::size_t(j) * ldb];
                acc += av * bv;
            }
            const std::size_t at = i + std::size_t(j) * ldc;
            const double want = alpha * acc + (beta != 0.0f ? beta * double(c[at]) : 0.0);
            float got = 0;
            if (outFloat)
                std::memcpy(&got, out.data() + at * 4, 4);
            else {
                std::uint16_t bits;
                std::memcpy(&bits, out.data() + at * 2, 2);
                got = inHalf ? decodeHalf(bits) : decodeBf16(bits);
            }
            if (!(std::fabs(got - want) <= 1e-6 + tolerance * std::fabs(want)))
                QFAIL(qPrintable(QStringLiteral("C[%1,%2] = %3, want %4").arg(i).arg(j).arg(got).arg(want)));
        }
    // The padding between columns is never written.
    if (pad > 0 && beta == 0.0f && n > 1)
        for (std::size_t byte = std::size_t(m) * outBytes; byte < std::size_t(ldc) * outBytes; ++byte)
            QCOMPARE(int(out[byte]), 0xFF);
    QCOMPARE(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    for (void* p : {dA, dB, dC})
        QCOMPARE(cudaFree(p), cudaSuccess);
}

void TestCudasimRuntime::gemmRejectsWhatItDoesNotDo()
{
    cublasHandle_t h = nullptr;
    QCOMPARE(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    void* d = nullptr;
    QCOMPARE(cudaMalloc(&d, 4096), cudaSuccess);
    const float one = 1.0f, zero = 0.0f;
    // lda shorter than a column of A.
    QCOMPARE(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d, CUDA_R_16F, 4, d, CUDA_R_16F, 8, &zero, d,
                          CUDA_R_16F, 8, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_INVALID_VALUE);
    // Mixed input types and other compute types are not simulated.
    QCOMPARE(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d, CUDA_R_16F, 8, d, CUDA_R_16BF, 8, &zero, d,
                          CUDA_R_32F, 8, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_NOT_SUPPORTED);
    QCOMPARE(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d, CUDA_R_16F, 8, d, CUDA_R_16F, 8, &zero, d,
                          CUDA_R_16F, 8, CUBLAS_COMPUTE_16F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_NOT_SUPPORTED);
    QVERIFY(std::strlen(cublasGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED)) > 0);
    // The workspace must be device memory, 256-byte aligned.
    QCOMPARE(cublasSetWorkspace(h, static_cast<char*>(d) + 16, 1024), CUBLAS_STATUS_INVALID_VALUE);
    QCOMPARE(cublasSetWorkspace(h, d, 4096), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaFree(d), cudaSuccess);
}

QTEST_APPLESS_MAIN(TestCudasimRuntime)
#include "tst_cudasim_runtime.moc"
