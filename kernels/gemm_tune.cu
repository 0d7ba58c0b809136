// GEMM tuning (see gemm.h): per problem shape, cublasGemmEx's default against cuBLASLt's
// heuristic algorithms and the skinny tensor-core GEMM, timed on the card with CUDA events.
// Why: cuBLAS's default picks one algorithm per shape from a model of the card, and for the
// shapes of a decode batch (16-64 token rows against 3584-37888 weight rows) it reached about half
// of the memory bandwidth on an H200; the fastest of the alternatives is a measurement, not a
// guess. Every candidate's result is checked against the default's on deterministic inputs
// before it may win, so a tuned GEMM can be slower than planned but never wrong.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "cuda_check.cuh"
#include "gemm_tuned.cuh"
#include "gemv.h"
#include "skinny_gemm.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr std::size_t kMaxLtCalls = 4096;  // distinct call shapes cached; beyond, the default runs
constexpr std::size_t kScratchAlign = 256;

cudaDataType_t ltType(ElemType t)
{
    switch (t) {
    case ElemType::F16: return CUDA_R_16F;
    case ElemType::BF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
    }
}

std::size_t elemBytes(ElemType t) { return t == ElemType::F32 ? 4 : 2; }
std::size_t alignUp(std::size_t n) { return (n + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

// Deterministic inputs in [-scale, scale): a hash of the index, so every run times the same data.
template <typename T>
__global__ void fillPatternKernel(T* p, std::int64_t n, float scale, std::uint32_t seed)
{
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u ^ seed;
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        const float u = static_cast<float>(h & 0xffffu) / 32768.0f - 1.0f;
        p[i] = fromFloat<T>(u * scale);
    }
}

// Counts elements of `y` that differ from `ref` by more than atol + rtol |ref| (NaN included).
template <typename T>
__global__ void countMismatchKernel(const T* y, const T* ref, std::int64_t n, float atol, float rtol, int* count)
{
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    int bad = 0;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float a = toFloat(y[i]);
        const float b = toFloat(ref[i]);
        if (!(fabsf(a - b) <= atol + rtol * fabsf(b)))
            ++bad;
    }
    if (bad)
        atomicAdd(count, bad);
}

unsigned gridFor(std::int64_t n)
{
    const std::int64_t blocks = (n + 255) / 256;
    return static_cast<unsigned>(std::min<std::int64_t>(std::max<std::int64_t>(blocks, 1), 4096));
}

KernelStatus fillPattern(void* p, ElemType t, std::int64_t n, float scale, std::uint32_t seed, cudaStream_t s)
{
    if (t == ElemType::F16)
        fillPatternKernel<<<gridFor(n), 256, 0, s>>>(static_cast<__half*>(p), n, scale, seed);
    else if (t == ElemType::BF16)
        fillPatternKernel<<<gridFor(n), 256, 0, s>>>(static_cast<__nv_bfloat16*>(p), n, scale, seed);
    else
        fillPatternKernel<<<gridFor(n), 256, 0, s>>>(static_cast<float*>(p), n, scale, seed);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

KernelStatus countMismatches(const void* y, const void* ref, ElemType t, std::int64_t n, int* dCount, int* hostCount,
                             cudaStream_t s)
{
    // One rounding of the output apart (the accumulation order differs between methods), with
    // room for fp32 sums of up to ~19k products of the pattern's size.
    const float rtol = t == ElemType::BF16 ? 1.0f / 64 : t == ElemType::F16 ? 1.0f / 512 : 1e-3f;
    const float atol = t == ElemType::BF16 ? 2e-2f : 4e-3f;
    HEARTH_CUDA_CHECK(cudaMemsetAsync(dCount, 0, sizeof(int), s));
    if (t == ElemType::F16)
        countMismatchKernel<<<gridFor(n), 256, 0, s>>>(static_cast<const __half*>(y), static_cast<const __half*>(ref), n,
                                                       atol, rtol, dCount);
    else if (t == ElemType::BF16)
        countMismatchKernel<<<gridFor(n), 256, 0, s>>>(static_cast<const __nv_bfloat16*>(y),
                                                       static_cast<const __nv_bfloat16*>(ref), n, atol, rtol, dCount);
    else
        countMismatchKernel<<<gridFor(n), 256, 0, s>>>(static_cast<const float*>(y), static_cast<const float*>(ref), n,
                                                       atol, rtol, dCount);
    HEARTH_CUDA_CHECK_LAUNCH();
    HEARTH_CUDA_CHECK(cudaMemcpyAsync(hostCount, dCount, sizeof(int), cudaMemcpyDeviceToHost, s));
    HEARTH_CUDA_CHECK(cudaStreamSynchronize(s));
    return KernelStatus::success();
}

// Whether the GEMV computes `a` exactly as gemm() would (it has no alpha, beta or W stride; it
// writes the input type or fp32).
bool gemvTakes(const GemmArgs& a)
{
    return a.m >= 1 && a.m <= kGemvMaxRows && (a.outType == a.inType || a.outType == ElemType::F32) &&
           a.inType != ElemType::F32 && a.alpha == 1.0f &&
           a.beta == 0.0f && (a.ldw == 0 || a.ldw == a.k);
}

KernelStatus runGemv(const GemmArgs& a, StreamHandle stream)
{
    GemvArgs g;
    g.weight = a.w;
    g.x = a.x;
    g.y = a.y;
    g.nRows = a.m;
    g.outDim = a.n;
    g.inDim = a.k;
    g.xStride = a.ldx;
    g.yStride = a.ldy;
    g.type = a.inType;
    g.f32Out = a.outType == ElemType::F32;
    return gemv(g, stream);
}

std::array<std::uint64_t, 8> wordsOf(const cublasLtMatmulAlgo_t& algo)
{
    std::array<std::uint64_t, 8> out{};
    std::memcpy(out.data(), algo.data, sizeof(algo.data));
    return out;
}

// Up to maxAlgos cuBLASLt heuristic algorithms for `q` within wsMax bytes of workspace; none
// where the library offers none or a descriptor cannot be made.
std::vector<std::array<std::uint64_t, 8>> ltHeuristicAlgos(cublasLtHandle_t lt, const GemmProblem& q, std::uint64_t wsMax,
                                                           int maxAlgos)
{
    std::vector<std::array<std::uint64_t, 8>> out;
    if (maxAlgos <= 0)
        return out;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t lw = nullptr, lx = nullptr, ly = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    const cublasOperation_t transW = CUBLAS_OP_T, transX = CUBLAS_OP_N;
    const auto dim = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
    std::vector<cublasLtMatmulHeuristicResult_t> found(static_cast<std::size_t>(maxAlgos));
    int nFound = 0;
    const bool described =
        cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &transW, sizeof(transW)) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &transX, sizeof(transX)) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&lw, ltType(q.inType), dim(q.k), dim(q.n), q.k) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&lx, ltType(q.inType), dim(q.k), dim(q.m), q.k) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&ly, ltType(q.outType), dim(q.n), dim(q.m), q.n) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsMax, sizeof(wsMax)) ==
            CUBLAS_STATUS_SUCCESS;
    if (!described ||
        cublasLtMatmulAlgoGetHeuristic(lt, op, lw, lx, ly, ly, pref, maxAlgos, found.data(), &nFound) != CUBLAS_STATUS_SUCCESS)
        nFound = 0;
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    for (cublasLtMatrixLayout_t l : {ly, lx, lw})
        if (l)
            cublasLtMatrixLayoutDestroy(l);
    if (op)
        cublasLtMatmulDescDestroy(op);
    for (int i = 0; i < nFound; ++i)
        if (found[static_cast<std::size_t>(i)].state == CUBLAS_STATUS_SUCCESS)
            out.push_back(wordsOf(found[static_cast<std::size_t>(i)].algo));
    return out;
}

// Events that time a candidate; destroyed on every way out.
struct EventPair {
    cudaEvent_t start = nullptr, stop = nullptr;
    ~EventPair()
    {
        if (start)
            cudaEventDestroy(start);
        if (stop)
            cudaEventDestroy(stop);
    }
};

}  // namespace

const char* gemmMethodName(GemmMethod method)
{
    switch (method) {
    case GemmMethod::Cublas: return "cublas";
    case GemmMethod::CublasLt: return "cublaslt";
    case GemmMethod::Skinny: return "skinny";
    case GemmMethod::Gemv: return "gemv";
    }
    return "?";
}

GemmContext::Tuned::~Tuned()
{
    // Errors here have no one to go to and leave nothing to undo.
    for (auto& [key, call] : calls) {
        if (call.w)
            cublasLtMatrixLayoutDestroy(call.w);
        if (call.x)
            cublasLtMatrixLayoutDestroy(call.x);
        if (call.y)
            cublasLtMatrixLayoutDestroy(call.y);
        if (call.op)
            cublasLtMatmulDescDestroy(call.op);
    }
    if (lt)
        cublasLtDestroy(lt);
}

const GemmPlan* GemmContext::Tuned::find(const GemmArgs& a) const
{
    const auto it = plans.find(keyOf(a.n, a.k, a.inType, a.outType));
    if (it == plans.end())
        return nullptr;
    for (const GemmPlan& p : it->second)
        if (p.problem.m >= a.m)
            return &p;
    return nullptr;
}

const GemmContext::Tuned::LtCall* GemmContext::Tuned::ltCall(const GemmArgs& a, const std::array<std::uint64_t, 8>& algo)
{
    const std::int64_t ldx = a.ldx ? a.ldx : a.k, ldw = a.ldw ? a.ldw : a.k, ldy = a.ldy ? a.ldy : a.n;
    const CallKey key{keyOf(a.n, a.k, a.inType, a.outType), a.m, ldx, ldw, ldy, algo};
    if (const auto it = calls.find(key); it != calls.end())
        return it->second.usable ? &it->second : nullptr;
    if (calls.size() >= kMaxLtCalls)
        return nullptr;
    LtCall& c = calls[key];  // kept even when unusable, so the check is not repeated
    const cublasOperation_t transW = CUBLAS_OP_T, transX = CUBLAS_OP_N;
    if (cublasLtMatmulDescCreate(&c.op, CUBLAS_COMPUTE_32F, CUDA_R_32F) != CUBLAS_STATUS_SUCCESS ||
        cublasLtMatmulDescSetAttribute(c.op, CUBLASLT_MATMUL_DESC_TRANSA, &transW, sizeof(transW)) != CUBLAS_STATUS_SUCCESS ||
        cublasLtMatmulDescSetAttribute(c.op, CUBLASLT_MATMUL_DESC_TRANSB, &transX, sizeof(transX)) != CUBLAS_STATUS_SUCCESS ||
        cublasLtMatrixLayoutCreate(&c.w, ltType(a.inType), static_cast<std::uint64_t>(a.k), static_cast<std::uint64_t>(a.n), ldw) !=
            CUBLAS_STATUS_SUCCESS ||
        cublasLtMatrixLayoutCreate(&c.x, ltType(a.inType), static_cast<std::uint64_t>(a.k), static_cast<std::uint64_t>(a.m), ldx) !=
            CUBLAS_STATUS_SUCCESS ||
        cublasLtMatrixLayoutCreate(&c.y, ltType(a.outType), static_cast<std::uint64_t>(a.n), static_cast<std::uint64_t>(a.m), ldy) !=
            CUBLAS_STATUS_SUCCESS)
        return nullptr;
    std::memcpy(c.algo.data, algo.data(), sizeof(c.algo.data));
    cublasLtMatmulHeuristicResult_t checked{};
    if (cublasLtMatmulAlgoCheck(lt, c.op, c.w, c.x, c.y, c.y, &c.algo, &checked) != CUBLAS_STATUS_SUCCESS)
        return nullptr;
    c.workspaceBytes = checked.workspaceSize;
    c.usable = true;
    return &c;
}

KernelStatus GemmContext::Tuned::runLt(const LtCall& call, const GemmArgs& a, void* workspace,
                                       std::size_t workspaceBytes, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(call.workspaceBytes <= workspaceBytes, "the cuBLASLt algorithm needs more workspace than the context has");
    HEARTH_CUBLAS_CHECK(cublasLtMatmul(lt, call.op, &a.alpha, a.w, call.w, a.x, call.x, &a.beta, a.y, call.y, a.y, call.y,
                                       &call.algo, workspace, workspaceBytes, detail::toStream(stream)));
    return KernelStatus::success();
}

KernelStatus GemmContext::runPlanned(const GemmArgs& a, StreamHandle stream, bool* done)
{
    *done = false;
    if (!m_tuned)
        return KernelStatus::success();
    const GemmPlan* plan = m_tuned->find(a);
    if (!plan || plan->method == GemmMethod::Cublas)
        return KernelStatus::success();
    if (plan->method == GemmMethod::Gemv) {
        if (!gemvTakes(a))
            return KernelStatus::success();
        *done = true;
        return runGemv(a, stream);
    }
    if (plan->method == GemmMethod::Skinny) {
        if (!skinnyGemmSupports(a))
            return KernelStatus::success();
        *done = true;
        return skinnyGemm(a, stream, plan->skinnyTile);
    }
    const Tuned::LtCall* call = m_tuned->ltCall(a, plan->ltAlgo);
    if (!call || call->workspaceBytes > m_workspaceBytes)
        return KernelStatus::success();
    *done = true;
    return m_tuned->runLt(*call, a, m_workspace, m_workspaceBytes, stream);
}

int GemmContext::install(const std::vector<GemmPlan>& plans)
{
    if (!m_tuned)
        m_tuned = std::make_unique<Tuned>();
    if (!m_tuned->lt && cublasLtCreate(&m_tuned->lt) != CUBLAS_STATUS_SUCCESS) {
        m_tuned->lt = nullptr;
        return 0;
    }
    int installed = 0;
    for (const GemmPlan& p : plans) {
        const GemmProblem& q = p.problem;
        if (q.m < 1 || q.n < 1 || q.k < 1 || q.inType == ElemType::F32 ||
            (q.outType != q.inType && q.outType != ElemType::F32))
            continue;
        GemmArgs a;
        a.m = q.m;
        a.n = q.n;
        a.k = q.k;
        a.inType = q.inType;
        a.outType = q.outType;
        if (p.method == GemmMethod::Skinny &&
            !(q.m <= kSkinnyGemmMaxRows && q.outType == q.inType && q.k % 8 == 0 &&
              (p.skinnyTile == 0 || p.skinnyTile == 16 || p.skinnyTile == 32 || p.skinnyTile == 64 || p.skinnyTile == 128)))
            continue;
        if (p.method == GemmMethod::Gemv && q.m > kGemvMaxRows)
            continue;
        if (p.method == GemmMethod::CublasLt) {
            const Tuned::LtCall* call = m_tuned->ltCall(a, p.ltAlgo);
            if (!call || call->workspaceBytes > m_workspaceBytes)
                continue;
        }
        std::vector<GemmPlan>& list = m_tuned->plans[Tuned::keyOf(q.n, q.k, q.inType, q.outType)];
        const auto same = std::find_if(list.begin(), list.end(), [&](const GemmPlan& o) { return o.problem.m == q.m; });
        if (same != list.end())
            *same = p;
        else
            list.push_back(p);
        std::sort(list.begin(), list.end(), [](const GemmPlan& x, const GemmPlan& y) { return x.problem.m < y.problem.m; });
        ++installed;
    }
    return installed;
}

std::optional<GemmMethod> GemmContext::plannedMethod(const GemmArgs& args) const
{
    const GemmPlan* plan = m_tuned ? m_tuned->find(args) : nullptr;
    return plan ? std::optional<GemmMethod>(plan->method) : std::nullopt;
}

std::vector<GemmPlan> GemmContext::plans() const
{
    std::vector<GemmPlan> out;
    if (m_tuned)
        for (const auto& [key, list] : m_tuned->plans)
            out.insert(out.end(), list.begin(), list.end());
    return out;
}

std::string GemmContext::ltVersion()
{
    const std::size_t v = cublasLtGetVersion();
    return "cuBLASLt " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100) +
           " (" + std::to_string(v) + ")";
}

KernelStatus GemmContext::tune(const std::vector<GemmProblem>& problems, const GemmTuneOptions& o, StreamHandle stream,
                               std::vector<GemmPlan>* out)
{
    HEARTH_KERNEL_REQUIRE(out != nullptr, "GemmContext::tune needs somewhere to put the plans");
    HEARTH_KERNEL_REQUIRE(o.reps >= 1 && o.maxLtAlgos >= 0, "GEMM tuning needs at least one timed run");
    const cudaStream_t s = detail::toStream(stream);
    const auto started = std::chrono::steady_clock::now();
    if (!m_tuned)
        m_tuned = std::make_unique<Tuned>();
    if (!m_tuned->lt)
        HEARTH_CUBLAS_CHECK(cublasLtCreate(&m_tuned->lt));
    EventPair ev;
    HEARTH_CUDA_CHECK(cudaEventCreate(&ev.start));
    HEARTH_CUDA_CHECK(cudaEventCreate(&ev.stop));
    int mismatchHost = 0;
    std::vector<GemmPlan> chosen;

    for (const GemmProblem& q : problems) {
        GemmPlan plan;
        plan.problem = q;
        const double spentMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        const std::size_t xBytes = alignUp(static_cast<std::size_t>(q.m * q.k) * elemBytes(q.inType));
        const std::size_t wBytes = alignUp(static_cast<std::size_t>(q.n * q.k) * elemBytes(q.inType));
        const std::size_t yBytes = alignUp(static_cast<std::size_t>(q.m * q.n) * elemBytes(q.outType));
        const bool valid = q.m >= 1 && q.n >= 1 && q.k >= 1 && q.inType != ElemType::F32 &&
                           (q.outType == q.inType || q.outType == ElemType::F32);
        if (!valid || spentMs > o.budgetMs || xBytes + wBytes + 2 * yBytes + kScratchAlign > o.scratchBytes || !o.scratch) {
            out->push_back(plan);
            continue;
        }
        // Copies of W cycled through the timed runs, as many as make >= 128 MiB where the scratch
        // allows: a step reads each weight from memory, not from a warm L2 (50-60 MB on Hopper),
        // and a small matrix timed alone would otherwise stay in L2.
        std::size_t nCopies = std::min<std::size_t>(8, std::max<std::size_t>(1, ((std::size_t{128} << 20) + wBytes - 1) / wBytes));
        while (nCopies > 1 && kScratchAlign + xBytes + 2 * yBytes + nCopies * wBytes > o.scratchBytes)
            --nCopies;
        auto* base = static_cast<std::uint8_t*>(o.scratch);
        int* dCount = reinterpret_cast<int*>(base);
        GemmArgs a;
        a.x = base + kScratchAlign;
        void* ref = base + kScratchAlign + xBytes;
        a.y = base + kScratchAlign + xBytes + yBytes;
        std::uint8_t* const wCopies = base + kScratchAlign + xBytes + 2 * yBytes;
        a.w = wCopies;
        a.m = q.m;
        a.n = q.n;
        a.k = q.k;
        a.inType = q.inType;
        a.outType = q.outType;
        // Activations of order 1, weights of the size a trained 3584-wide layer has.
        HEARTH_KERNEL_TRY(fillPattern(const_cast<void*>(a.x), q.inType, q.m * q.k, 1.0f, 0x9e3779b9u, s));
        for (std::size_t c = 0; c < nCopies; ++c)  // identical copies: every run computes the same
            HEARTH_KERNEL_TRY(fillPattern(wCopies + c * wBytes, q.inType, q.n * q.k, 0.0625f, 0x85ebca6bu, s));

        // The default, into `ref`: the result every other candidate must agree with.
        GemmArgs r = a;
        r.y = ref;
        const auto runDefault = [&](const GemmArgs& g) { return runCublas(g, stream); };
        HEARTH_KERNEL_TRY(runDefault(r));

        // Times `run` (after one untimed call, whose result is checked); < 0 when it failed or
        // disagreed with the default.
        const auto timeCandidate = [&](const auto& run, bool check) -> float {
            if (!run().ok) {
                cudaGetLastError();
                return -1.0f;
            }
            if (check) {
                if (!countMismatches(a.y, ref, q.outType, q.m * q.n, dCount, &mismatchHost, s).ok || mismatchHost != 0)
                    return -1.0f;
            }
            if (cudaEventRecord(ev.start, s) != cudaSuccess)
                return -1.0f;
            bool ran = true;
            for (int i = 0; i < o.reps && ran; ++i) {
                a.w = wCopies + static_cast<std::size_t>(i + 1) % nCopies * wBytes;
                ran = run().ok;
            }
            a.w = wCopies;
            if (!ran)
                return -1.0f;
            float ms = 0.0f;
            if (cudaEventRecord(ev.stop, s) != cudaSuccess || cudaEventSynchronize(ev.stop) != cudaSuccess ||
                cudaEventElapsedTime(&ms, ev.start, ev.stop) != cudaSuccess)
                return -1.0f;
            return ms * 1000.0f / static_cast<float>(o.reps);
        };

        // Every candidate that ran and agreed with the default, with its time.
        std::vector<GemmPlan> ran;
        const auto consider = [&](GemmPlan c, float us) {
            ++plan.nCandidates;
            if (us < 0.0f) {
                ++plan.nRejected;
                return;
            }
            c.chosenUs = us;
            ran.push_back(c);
        };
        plan.defaultUs = timeCandidate([&] { return runDefault(a); }, false);
        HEARTH_KERNEL_REQUIRE(plan.defaultUs >= 0.0f, "cublasGemmEx failed while tuning");
        consider(plan, plan.defaultUs);
        for (const std::array<std::uint64_t, 8>& words : ltHeuristicAlgos(m_tuned->lt, q, m_workspaceBytes, o.maxLtAlgos)) {
            GemmPlan c = plan;
            c.method = GemmMethod::CublasLt;
            c.ltAlgo = words;
            const Tuned::LtCall* call = m_tuned->ltCall(a, words);
            if (!call || call->workspaceBytes > m_workspaceBytes) {
                consider(c, -1.0f);
                continue;
            }
            c.ltWorkspaceBytes = call->workspaceBytes;
            const Tuned::LtCall copy = *call;
            consider(c, timeCandidate([&] { return m_tuned->runLt(copy, a, m_workspace, m_workspaceBytes, stream); }, true));
        }
        if (skinnyGemmSupports(a))
            for (int tile : {16, 32, 64, 128}) {
                GemmPlan c = plan;
                c.method = GemmMethod::Skinny;
                c.skinnyTile = tile;
                consider(c, timeCandidate([&] { return skinnyGemm(a, stream, tile); }, true));
            }
        const GemmPlan* gemvRan = nullptr;
        if (gemvTakes(a)) {
            GemmPlan c = plan;
            c.method = GemmMethod::Gemv;
            consider(c, timeCandidate([&] { return runGemv(a, stream); }, true));
            if (!ran.empty() && ran.back().method == GemmMethod::Gemv && a.outType == a.inType)
                gemvRan = &ran.back();
        }

        // The baseline is what runs without a plan: the GEMV where it takes the shape and writes
        // the input type (the engine's choice for few rows of a projection), else cuBLAS's
        // default (also for fp32 logits, which take the GEMV only by a plan). Another method replaces it only
        // when faster by the margin (or, in tests, when it is the preferred method).
        const GemmPlan baseline = gemvRan ? *gemvRan : ran.front();
        const auto fastest = std::min_element(ran.begin(), ran.end(),
                                              [](const GemmPlan& x, const GemmPlan& y) { return x.chosenUs < y.chosenUs; });
        GemmPlan pick = baseline;
        if (o.prefer != GemmMethod::Cublas) {
            const GemmPlan* preferred = nullptr;
            for (const GemmPlan& c : ran)
                if (c.method == o.prefer && (!preferred || c.chosenUs < preferred->chosenUs))
                    preferred = &c;
            if (preferred)
                pick = *preferred;
        } else if (fastest->chosenUs < baseline.chosenUs * (1.0f - o.minGain)) {
            pick = *fastest;
        }
        pick.defaultUs = plan.defaultUs;
        pick.nCandidates = plan.nCandidates;
        pick.nRejected = plan.nRejected;
        plan = pick;
        out->push_back(plan);
        chosen.push_back(plan);
    }
    install(chosen);
    return KernelStatus::success();
}

}  // namespace hearth::kernels
