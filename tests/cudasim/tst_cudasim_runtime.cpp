// cudasim's runtime half against what CUDA documents: deferred stream work, the legacy default
// stream's implicit synchronisation, events, graph capture and replay, memory accounting, the
// per-thread last error (cublasGemmEx: tst_cudasim_gemm.cpp).
#include <QtTest>

#include <sys/wait.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
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

};

QTEST_APPLESS_MAIN(TestCudasimRuntime)
#include "tst_cudasim_runtime.moc"
