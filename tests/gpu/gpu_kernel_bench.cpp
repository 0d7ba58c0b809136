// Decode-kernel microbenchmark (a plain executable, not a test): achieved bandwidth of the GEMV
// at Qwen2.5-7B's projection shapes (batch 1/4/8, fp16 and bf16) and of the split decode
// attention at 1K/8K/32K context (batch 1, 28 q / 4 kv heads, head_dim 128, 16-token pages, the
// engine's [page][layer][K|V][slot][kvHead][d] layout), each against a device-to-device copy
// measured here first; then the GEMM at m = 16, 32, 64 token rows (bf16, the same five weight
// shapes), cuBLAS's default against the skinny tensor-core GEMM with its own tile choice and with
// each tile width forced (so the choice can be checked against the best); last the prefill
// attention at the same 7B shape (bf16), one fresh prompt of 512, 2048 and 8192 tokens, the
// mma.sync kernel against the WMMA one it replaced, in us per layer and TFLOP/s counting only the
// causal half (4 * S * S * headDim * nQHeads / 2 flops per layer).
// Times are cudaEvent averages over 50 launches after 5 warm-up ones.
// Every launch reads different memory than the one before (weights rotated through a pool
// bigger than L2, attention cycled over 28 layers' caches), as a real decode step would, so L2
// cannot inflate the numbers. Prints one line per case; exits 0 with "no CUDA device" when
// there is none, 1 when a launch fails.
//   usage: gpu_kernel_bench [--quick]   (--quick: 10 iterations, batch 1 only, GEMM at m 32 without
//                                       the forced tiles; every prefill length still runs)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels.h"
#include "skinny_gemm.h"

namespace hk = hearth::kernels;

namespace {

constexpr int kWarmup = 5;

struct Failure {
    std::string what;
};

void check(const hk::KernelStatus& s)
{
    if (!s.ok)
        throw Failure{s.describe()};
}

void checkCuda(cudaError_t e, const char* what)
{
    if (e != cudaSuccess)
        throw Failure{std::string(what) + ": " + cudaGetErrorString(e)};
}

// Average milliseconds of one call of `launch(i)` (i = iteration index) over `iters` calls.
double timeMs(const std::function<void(int)>& launch, int iters)
{
    for (int i = 0; i < kWarmup; ++i)
        launch(i);
    cudaEvent_t start = nullptr, stop = nullptr;
    checkCuda(cudaEventCreate(&start), "cudaEventCreate");
    checkCuda(cudaEventCreate(&stop), "cudaEventCreate");
    checkCuda(cudaEventRecord(start, nullptr), "cudaEventRecord");
    for (int i = 0; i < iters; ++i)
        launch(kWarmup + i);
    checkCuda(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    checkCuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    checkCuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return static_cast<double>(ms) / iters;
}

struct DeviceMemory {
    void* ptr = nullptr;
    explicit DeviceMemory(std::size_t nBytes) { check(hk::deviceAlloc(&ptr, nBytes)); }
    ~DeviceMemory() { hk::deviceFree(ptr); }
    DeviceMemory(const DeviceMemory&) = delete;
    DeviceMemory& operator=(const DeviceMemory&) = delete;
    template <typename T>
    T* as() const
    {
        return static_cast<T*>(ptr);
    }
};

// Read + write bytes per second of cudaMemcpy device to device on 1 GiB.
double copyBandwidthGBps(int iters)
{
    const std::size_t n = std::size_t{1} << 30;
    DeviceMemory src(n), dst(n);
    check(hk::deviceMemset(src.ptr, 0, n));
    const double ms = timeMs([&](int) { checkCuda(cudaMemcpyAsync(dst.ptr, src.ptr, n, cudaMemcpyDeviceToDevice, nullptr), "cudaMemcpyAsync"); },
                             iters);
    return 2.0 * static_cast<double>(n) / (ms * 1e6);
}

void report(const std::string& name, double ms, double bytes, double copyGBps)
{
    const double gbps = bytes / (ms * 1e6);
    std::printf("%-44s %9.1f us %8.1f GB/s %6.1f%% of copy\n", name.c_str(), ms * 1e3, gbps, 100.0 * gbps / copyGBps);
}

struct GemvShape {
    const char* name;
    std::int64_t outDim;
    std::int64_t inDim;
};

void benchGemv(double copyGBps, int iters, bool quick)
{
    const GemvShape shapes[] = {{"qkv 4608x3584", 4608, 3584},     {"o 3584x3584", 3584, 3584},
                                {"gate|up 37888x3584", 37888, 3584}, {"down 3584x18944", 3584, 18944},
                                {"lm_head 152064x3584", 152064, 3584}};
    // One pool a few times L2 (and at least the biggest matrix); each launch takes the next slot.
    const std::size_t poolBytes = std::size_t{152064} * 3584 * 2 + (std::size_t{256} << 20);
    DeviceMemory pool(poolBytes);
    check(hk::deviceMemset(pool.ptr, 0x3c, poolBytes));  // 0x3c3c: ~1.06 in fp16, ~0.011 in bf16
    DeviceMemory x(std::size_t{8} * 18944 * 2), y(std::size_t{8} * 152064 * 2);
    check(hk::deviceMemset(x.ptr, 0x3c, std::size_t{8} * 18944 * 2));
    for (hk::ElemType type : {hk::ElemType::F16, hk::ElemType::BF16}) {
        for (std::int64_t nRows : {1, 4, 8}) {
            if (quick && nRows > 1)
                continue;
            for (const GemvShape& s : shapes) {
                const std::size_t matBytes = static_cast<std::size_t>(s.outDim * s.inDim * 2);
                const std::size_t slotBytes = (matBytes + 255) / 256 * 256;
                const std::size_t nSlots = std::max<std::size_t>(1, poolBytes / slotBytes);
                hk::GemvArgs a;
                a.x = x.ptr;
                a.y = y.ptr;
                a.nRows = nRows;
                a.outDim = s.outDim;
                a.inDim = s.inDim;
                a.type = type;
                const double ms = timeMs(
                    [&](int i) {
                        a.weight = pool.as<char>() + (static_cast<std::size_t>(i) % nSlots) * slotBytes;
                        check(hk::gemv(a, nullptr));
                    },
                    iters);
                const double bytes = static_cast<double>(matBytes) + 2.0 * static_cast<double>(nRows * (s.inDim + s.outDim));
                report(std::string("gemv ") + (type == hk::ElemType::F16 ? "f16" : "bf16") + " b" + std::to_string(nRows) +
                           " " + s.name,
                       ms, bytes, copyGBps);
            }
        }
    }
}

// Y[m, n] = X[m, k] W[n, k]^T at decode batches past the GEMV's 8 rows: cuBLAS (GemmContext,
// untuned: cublasGemmEx) and skinnyGemm on the same rotating weights. Bytes: W + X read, Y written.
void benchSkinnyGemm(double copyGBps, int iters, bool quick)
{
    const GemvShape shapes[] = {{"qkv 4608x3584", 4608, 3584},     {"o 3584x3584", 3584, 3584},
                                {"gate|up 37888x3584", 37888, 3584}, {"down 3584x18944", 3584, 18944},
                                {"lm_head 152064x3584", 152064, 3584}};
    const std::size_t poolBytes = std::size_t{152064} * 3584 * 2 + (std::size_t{256} << 20);
    DeviceMemory pool(poolBytes);
    check(hk::deviceMemset(pool.ptr, 0x3c, poolBytes));
    const std::int64_t maxRows = hk::kSkinnyGemmMaxRows;
    DeviceMemory x(static_cast<std::size_t>(maxRows) * 18944 * 2), y(static_cast<std::size_t>(maxRows) * 152064 * 2);
    check(hk::deviceMemset(x.ptr, 0x3c, static_cast<std::size_t>(maxRows) * 18944 * 2));
    std::unique_ptr<hk::GemmContext> gemm;
    check(hk::GemmContext::create(&gemm));
    const hk::ElemType type = hk::ElemType::BF16;
    for (std::int64_t m : {16, 32, 64}) {
        if (quick && m != 32)
            continue;
        for (const GemvShape& s : shapes) {
            const std::size_t matBytes = static_cast<std::size_t>(s.outDim * s.inDim * 2);
            const std::size_t slotBytes = (matBytes + 255) / 256 * 256;
            const std::size_t nSlots = std::max<std::size_t>(1, poolBytes / slotBytes);
            hk::GemmArgs a;
            a.x = x.ptr;
            a.y = y.ptr;
            a.m = m;
            a.n = s.outDim;
            a.k = s.inDim;
            a.inType = type;
            a.outType = type;
            const double bytes = static_cast<double>(matBytes) + 2.0 * static_cast<double>(m * (s.inDim + s.outDim));
            const std::string suffix = " bf16 m" + std::to_string(m) + " " + s.name;
            const auto row = [&](const std::string& method, const std::function<hk::KernelStatus()>& call) {
                const double ms = timeMs(
                    [&](int i) {
                        a.w = pool.as<char>() + (static_cast<std::size_t>(i) % nSlots) * slotBytes;
                        check(call());
                    },
                    iters);
                report(method + suffix, ms, bytes, copyGBps);
            };
            row("gemm cublas", [&] { return gemm->gemm(a, nullptr); });
            row("gemm skinny", [&] { return hk::skinnyGemm(a, nullptr); });
            if (quick)
                continue;
            for (int tile : {16, 32, 64, 128})
                row("gemm skinny/" + std::to_string(tile), [&] { return hk::skinnyGemm(a, nullptr, tile); });
        }
    }
}

void benchDecodeAttention(double copyGBps, int iters)
{
    const std::int64_t nLayers = 28, nQHeads = 28, nKvHeads = 4, headDim = 128, pageTokens = 16;
    const std::int64_t layerElements = pageTokens * nKvHeads * headDim;  // K (or V) of one layer in a page
    const std::int64_t pageElements = nLayers * 2 * layerElements;
    for (std::int64_t context : {1024, 8192, 32768}) {
        const std::int64_t nPages = context / pageTokens;
        DeviceMemory cache(static_cast<std::size_t>(nPages * pageElements * 2));
        check(hk::deviceMemset(cache.ptr, 0x3c, static_cast<std::size_t>(nPages * pageElements * 2)));
        std::vector<std::int32_t> table(static_cast<std::size_t>(nPages));
        for (std::int64_t p = 0; p < nPages; ++p)
            table[static_cast<std::size_t>(p)] = static_cast<std::int32_t>(p);
        const std::int32_t ctx = static_cast<std::int32_t>(context);
        DeviceMemory dTable(table.size() * 4), dCtx(4);
        check(hk::copyToDevice(dTable.ptr, table.data(), table.size() * 4));
        check(hk::copyToDevice(dCtx.ptr, &ctx, 4));
        const std::int64_t qkvDim = (nQHeads + 2 * nKvHeads) * headDim;
        DeviceMemory q(static_cast<std::size_t>(qkvDim * 2)), out(static_cast<std::size_t>(nQHeads * headDim * 2));
        check(hk::deviceMemset(q.ptr, 0x3c, static_cast<std::size_t>(qkvDim * 2)));
        const std::size_t workBytes = hk::decodeAttentionWorkspaceBytes(1, nQHeads, headDim, context);
        DeviceMemory work(std::max<std::size_t>(workBytes, 256));

        hk::DecodeAttentionArgs a;
        a.q = q.ptr;
        a.out = out.ptr;
        a.qStride = qkvDim;
        a.blockTables = dTable.as<std::int32_t>();
        a.maxPagesPerSeq = nPages;
        a.contextLens = dCtx.as<std::int32_t>();
        a.nSeqs = 1;
        a.nQHeads = nQHeads;
        a.maxContext = context;
        a.scale = 0.088388f;
        a.cache.pageStride = pageElements;
        a.cache.tokenStride = nKvHeads * headDim;
        a.cache.headStride = headDim;
        a.cache.pageTokens = pageTokens;
        a.cache.nKvHeads = nKvHeads;
        a.cache.headDim = headDim;
        a.cache.type = hk::ElemType::BF16;
        a.workspace = work.ptr;
        a.workspaceBytes = workBytes;
        // The CUDA-core kernels and the tensor-core one on the same launches (Auto picks the
        // tensor cores here from kDecodeTensorCoreMinTokens context tokens).
        for (hk::DecodeAttentionImpl impl : {hk::DecodeAttentionImpl::Simt, hk::DecodeAttentionImpl::TensorCore}) {
            a.impl = impl;
            const double ms = timeMs(
                [&](int i) {
                    const std::int64_t layer = i % nLayers;
                    a.cache.kCache = cache.as<std::uint16_t>() + layer * 2 * layerElements;
                    a.cache.vCache = cache.as<std::uint16_t>() + (layer * 2 + 1) * layerElements;
                    check(hk::pagedAttentionDecode(a, nullptr));
                },
                iters);
            const double bytes = static_cast<double>(context) * nKvHeads * headDim * 2 * 2;
            report(std::string("decode attention ") + (impl == hk::DecodeAttentionImpl::Simt ? "simt" : "tc") +
                       " bf16 ctx " + std::to_string(context) + " (partition " +
                       std::to_string(hk::decodeAttentionPartitionTokens(1, context)) + ")",
                   ms, bytes, copyGBps);
            std::printf("%-44s %9.1f us per token for 28 layers\n", "", ms * 1e3 * nLayers);
        }
    }
}

// Prefill attention over one fresh prompt of each length, in the engine's cache layout, cycling
// through 28 layers' caches as a real prefill does; every implementation on the same launches.
void benchPrefillAttention(int iters)
{
    const std::int64_t nLayers = 28, nQHeads = 28, nKvHeads = 4, headDim = 128, pageTokens = 16;
    const std::int64_t layerElements = pageTokens * nKvHeads * headDim;
    const std::int64_t pageElements = nLayers * 2 * layerElements;
    for (std::int64_t tokens : {512, 2048, 8192}) {
        const std::int64_t nPages = tokens / pageTokens;
        DeviceMemory cache(static_cast<std::size_t>(nPages * pageElements * 2));
        check(hk::deviceMemset(cache.ptr, 0x3c, static_cast<std::size_t>(nPages * pageElements * 2)));
        std::vector<std::int32_t> table(static_cast<std::size_t>(nPages));
        for (std::int64_t p = 0; p < nPages; ++p)
            table[static_cast<std::size_t>(p)] = static_cast<std::int32_t>(p);
        const std::int32_t ctx = static_cast<std::int32_t>(tokens);
        const std::int32_t starts[2] = {0, ctx};
        DeviceMemory dTable(table.size() * 4), dCtx(4), dStarts(8);
        check(hk::copyToDevice(dTable.ptr, table.data(), table.size() * 4));
        check(hk::copyToDevice(dCtx.ptr, &ctx, 4));
        check(hk::copyToDevice(dStarts.ptr, starts, 8));
        const std::int64_t qkvDim = (nQHeads + 2 * nKvHeads) * headDim;
        DeviceMemory q(static_cast<std::size_t>(tokens * qkvDim * 2)), out(static_cast<std::size_t>(tokens * nQHeads * headDim * 2));
        check(hk::deviceMemset(q.ptr, 0x3c, static_cast<std::size_t>(tokens * qkvDim * 2)));

        hk::PrefillAttentionArgs a;
        a.q = q.ptr;
        a.out = out.ptr;
        a.qStride = qkvDim;
        a.queryStart = dStarts.as<std::int32_t>();
        a.contextLens = dCtx.as<std::int32_t>();
        a.blockTables = dTable.as<std::int32_t>();
        a.maxPagesPerSeq = nPages;
        a.nSeqs = 1;
        a.nQHeads = nQHeads;
        a.maxQueryLen = tokens;
        a.scale = 0.088388f;
        a.cache.pageStride = pageElements;
        a.cache.tokenStride = nKvHeads * headDim;
        a.cache.headStride = headDim;
        a.cache.pageTokens = pageTokens;
        a.cache.nKvHeads = nKvHeads;
        a.cache.headDim = headDim;
        a.cache.type = hk::ElemType::BF16;
        const double flops = 4.0 * static_cast<double>(tokens) * static_cast<double>(tokens) * headDim * nQHeads / 2.0;
        const std::pair<hk::PrefillAttentionImpl, const char*> impls[] = {{hk::PrefillAttentionImpl::TensorCore, "mma"},
                                                                          {hk::PrefillAttentionImpl::Wmma, "wmma"}};
        for (const auto& [impl, name] : impls) {
            a.impl = impl;
            const double ms = timeMs(
                [&](int i) {
                    const std::int64_t layer = i % nLayers;
                    a.cache.kCache = cache.as<std::uint16_t>() + layer * 2 * layerElements;
                    a.cache.vCache = cache.as<std::uint16_t>() + (layer * 2 + 1) * layerElements;
                    check(hk::pagedAttentionPrefill(a, nullptr));
                },
                iters);
            const std::string label = std::string("prefill attention bf16 ") + name + " " + std::to_string(tokens) + " tokens";
            std::printf("%-44s %9.1f us per layer %7.1f TFLOP/s (causal) %8.2f ms for 28 layers\n", label.c_str(),
                        ms * 1e3, flops / (ms * 1e9), ms * nLayers);
        }
    }
}

}  // namespace

int main(int argc, char** argv)
{
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const int iters = quick ? 10 : 50;
    const hk::DeviceQuery query = hk::queryDevices();
    if (query.devices.empty()) {
        std::printf("no CUDA device: %s\n", query.error.c_str());
        return 0;
    }
    const hk::DeviceProps& d = query.devices.front();
    std::printf("device: %s, %d SMs, %.0f GB/s theoretical\n", d.name.c_str(), d.multiprocessors, d.memoryBandwidthGBps);
    try {
        const double copyGBps = copyBandwidthGBps(iters);
        std::printf("device-to-device copy: %.1f GB/s (read + write)\n", copyGBps);
        benchGemv(copyGBps, iters, quick);
        benchSkinnyGemm(copyGBps, iters, quick);
        benchDecodeAttention(copyGBps, iters);
        benchPrefillAttention(iters);
    } catch (const Failure& f) {
        std::printf("failed: %s\n", f.what.c_str());
        return 1;
    }
    return 0;
}
