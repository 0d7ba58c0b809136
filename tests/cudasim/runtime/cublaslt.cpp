// The cuBLASLt subset Hearth's GEMM autotuner uses: handles; matmul descriptors (fp32 compute and
// scale, transa/transb, the default epilogue, host pointer mode); column-major matrix layouts of
// fp16/bf16/fp32; a preference with a workspace cap; a heuristic that offers up to four fake
// algorithms (ids 1..4, two of them needing a workspace); cublasLtMatmulAlgoCheck; and
// cublasLtMatmul, D = alpha op(A) op(B) + beta C, which runs gemm_ref.h's CPU GEMM on the stream,
// so its bits equal cublasGemmEx's for the same problem whichever algorithm is named.
// Descriptors live in the opaque structs of <cublasLt.h> (data[0] holds a marker, so a zeroed or
// destroyed one is refused instead of read); the algorithm struct carries its id, a marker and the
// types it was offered for. Anything the simulator does not model returns a status rather than
// being ignored, and the rest of <cublasLt.h> is deliberately left undefined: a caller of it fails
// to link instead of silently getting a stub.
#include <cublasLt.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "cudasim.h"
#include "gemm_ref.h"
#include "sim_state.h"

struct cublasLtContext {
    std::uint64_t marker = 0;  // kHandleMagic while alive
};

namespace {

constexpr std::uint64_t kHandleMagic = 0x4c54'48'414e444c;  // arbitrary, distinct markers
constexpr std::uint64_t kLayoutMagic = 0x4c54'4c41'594f5554;
constexpr std::uint64_t kDescMagic = 0x4c54'4d4d'44455343;
constexpr std::uint64_t kPrefMagic = 0x4c54'5052'45464552;
constexpr std::uint64_t kAlgoMagic = 0x4c54'414c'474f4944;

// The fake algorithms, in the order the heuristic offers them, with the workspace each needs.
struct FakeAlgo {
    int id;
    std::size_t workspaceBytes;
};
constexpr FakeAlgo kAlgos[] = {{1, 0}, {2, 0}, {3, std::size_t{1} << 20}, {4, std::size_t{4} << 20}};

// Opaque-struct slots.
enum LayoutSlot { kLayoutMarker, kLayoutType, kLayoutRows, kLayoutCols, kLayoutLd };
enum DescSlot { kDescMarker, kDescCompute, kDescScale, kDescTransA, kDescTransB, kDescEpilogue, kDescPointerMode };
enum PrefSlot { kPrefMarker, kPrefMaxWorkspace };
enum AlgoSlot { kAlgoId, kAlgoMarker, kAlgoTypes };

bool validLayout(cublasLtMatrixLayout_t l) { return l && l->data[kLayoutMarker] == kLayoutMagic; }
bool validDesc(cublasLtMatmulDesc_t d) { return d && d->data[kDescMarker] == kDescMagic; }
bool validPref(cublasLtMatmulPreference_t p) { return p && p->data[kPrefMarker] == kPrefMagic; }

bool supportedType(cudaDataType t) { return t == CUDA_R_16F || t == CUDA_R_16BF || t == CUDA_R_32F; }

// The layout checks of cublasLtMatrixLayoutCreate and SetAttribute.
cublasStatus_t checkLayout(cudaDataType type, std::uint64_t rows, std::uint64_t cols, std::int64_t ld)
{
    if (!supportedType(type) || rows > INT_MAX || cols > INT_MAX || ld > INT_MAX)
        return CUBLAS_STATUS_NOT_SUPPORTED;  // the CPU GEMM indexes with int, as cuBLAS mostly does
    if (ld < std::max<std::int64_t>(1, static_cast<std::int64_t>(rows)))
        return CUBLAS_STATUS_INVALID_VALUE;  // columns would overlap
    return CUBLAS_STATUS_SUCCESS;
}

// The types an algorithm was offered for, so that one from another problem's heuristic is refused.
std::uint64_t typeSignature(const cudasim::rt::Gemm& g)
{
    return static_cast<std::uint64_t>(g.inType) | static_cast<std::uint64_t>(g.outType) << 16;
}

// Checks handle, descriptors and problem as cublasLtMatmulAlgoGetHeuristic, AlgoCheck and Matmul
// do, and fills `g` (all but the pointers and scalars).
cublasStatus_t describe(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t aDesc,
                        cublasLtMatrixLayout_t bDesc, cublasLtMatrixLayout_t cDesc, cublasLtMatrixLayout_t dDesc,
                        cudasim::rt::Gemm& g)
{
    if (!handle || handle->marker != kHandleMagic)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!validDesc(desc) || !validLayout(aDesc) || !validLayout(bDesc) || !validLayout(cDesc) ||
        !validLayout(dDesc))
        return CUBLAS_STATUS_INVALID_VALUE;
    auto type = [](cublasLtMatrixLayout_t l) { return static_cast<cudaDataType>(l->data[kLayoutType]); };
    auto rows = [](cublasLtMatrixLayout_t l) { return static_cast<int>(l->data[kLayoutRows]); };
    auto cols = [](cublasLtMatrixLayout_t l) { return static_cast<int>(l->data[kLayoutCols]); };
    auto ld = [](cublasLtMatrixLayout_t l) { return static_cast<int>(l->data[kLayoutLd]); };
    // The combinations cuBLASLt lists for CUBLAS_COMPUTE_32F with a CUDA_R_32F scale.
    const cudaDataType a = type(aDesc), d = type(dDesc);
    const bool halfIn = (a == CUDA_R_16F || a == CUDA_R_16BF) && (d == a || d == CUDA_R_32F);
    const bool floatIn = a == CUDA_R_32F && d == CUDA_R_32F;
    if (type(bDesc) != a || type(cDesc) != d || !(halfIn || floatIn))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    // C and D share one layout (the in-place call Hearth makes has C == D).
    if (rows(cDesc) != rows(dDesc) || cols(cDesc) != cols(dDesc) || ld(cDesc) != ld(dDesc))
        return CUBLAS_STATUS_INVALID_VALUE;
    g.transA = desc->data[kDescTransA] != CUBLAS_OP_N;
    g.transB = desc->data[kDescTransB] != CUBLAS_OP_N;
    g.m = rows(dDesc);
    g.n = cols(dDesc);
    g.k = g.transA ? rows(aDesc) : cols(aDesc);
    const int opARows = g.transA ? cols(aDesc) : rows(aDesc);
    const int opBRows = g.transB ? cols(bDesc) : rows(bDesc);
    const int opBCols = g.transB ? rows(bDesc) : cols(bDesc);
    if (opARows != g.m || opBRows != g.k || opBCols != g.n)
        return CUBLAS_STATUS_INVALID_VALUE;
    g.inType = a;
    g.outType = d;
    g.lda = ld(aDesc);
    g.ldb = ld(bDesc);
    g.ldc = ld(dDesc);
    g.what = "cublasLtMatmul";
    return CUBLAS_STATUS_SUCCESS;
}

// The fake algorithm `algo` names for problem `g`, or nullptr when it is not one of ours (zeroed,
// or offered for other types).
const FakeAlgo* findAlgo(const cublasLtMatmulAlgo_t& algo, const cudasim::rt::Gemm& g)
{
    if (algo.data[kAlgoMarker] != kAlgoMagic || algo.data[kAlgoTypes] != typeSignature(g))
        return nullptr;
    for (const FakeAlgo& a : kAlgos)
        if (algo.data[kAlgoId] == static_cast<std::uint64_t>(a.id))
            return &a;
    return nullptr;
}

// The Get-attribute protocol of cuBLASLt: sizeInBytes 0 asks for the size; otherwise it must match.
cublasStatus_t getValue(const void* value, std::size_t valueBytes, void* buf, std::size_t sizeInBytes,
                        std::size_t* sizeWritten)
{
    if (sizeInBytes == 0) {
        if (!sizeWritten)
            return CUBLAS_STATUS_INVALID_VALUE;
        *sizeWritten = valueBytes;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (!buf || sizeInBytes != valueBytes)
        return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(buf, value, valueBytes);
    if (sizeWritten)
        *sizeWritten = valueBytes;
    return CUBLAS_STATUS_SUCCESS;
}

template <typename T>
bool readValue(const void* buf, std::size_t sizeInBytes, T& out)
{
    if (!buf || sizeInBytes != sizeof(T))
        return false;
    std::memcpy(&out, buf, sizeof(T));
    return true;
}

}  // namespace

using namespace cudasim::rt;

cublasStatus_t cublasLtCreate(cublasLtHandle_t* lightHandle)
{
    if (!lightHandle)
        return CUBLAS_STATUS_INVALID_VALUE;
    *lightHandle = new cublasLtContext();
    (*lightHandle)->marker = kHandleMagic;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t lightHandle)
{
    if (!lightHandle || lightHandle->marker != kHandleMagic)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    lightHandle->marker = 0;
    delete lightHandle;
    return CUBLAS_STATUS_SUCCESS;
}

const char* cublasLtGetStatusString(cublasStatus_t status) { return cublasGetStatusString(status); }

size_t cublasLtGetVersion(void) { return CUBLAS_VERSION; }

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* matmulDesc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType)
{
    if (!matmulDesc)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (computeType != CUBLAS_COMPUTE_32F || scaleType != CUDA_R_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;  // the only compute the CPU GEMM models
    auto* d = new cublasLtMatmulDescOpaque_t{};
    d->data[kDescMarker] = kDescMagic;
    d->data[kDescCompute] = computeType;
    d->data[kDescScale] = scaleType;
    d->data[kDescTransA] = CUBLAS_OP_N;
    d->data[kDescTransB] = CUBLAS_OP_N;
    d->data[kDescEpilogue] = CUBLASLT_EPILOGUE_DEFAULT;
    d->data[kDescPointerMode] = CUBLASLT_POINTER_MODE_HOST;
    *matmulDesc = d;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc)
{
    if (!validDesc(matmulDesc))
        return CUBLAS_STATUS_INVALID_VALUE;
    matmulDesc->data[kDescMarker] = 0;
    delete matmulDesc;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc, cublasLtMatmulDescAttributes_t attr,
                                              const void* buf, size_t sizeInBytes)
{
    if (!validDesc(matmulDesc))
        return CUBLAS_STATUS_INVALID_VALUE;
    std::int32_t i32 = 0;
    std::uint32_t u32 = 0;
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
    case CUBLASLT_MATMUL_DESC_TRANSB:
        if (!readValue(buf, sizeInBytes, i32) || (i32 != CUBLAS_OP_N && i32 != CUBLAS_OP_T))
            return CUBLAS_STATUS_INVALID_VALUE;
        matmulDesc->data[attr == CUBLASLT_MATMUL_DESC_TRANSA ? kDescTransA : kDescTransB] =
            static_cast<std::uint64_t>(i32);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
        if (!readValue(buf, sizeInBytes, u32))
            return CUBLAS_STATUS_INVALID_VALUE;
        return u32 == CUBLASLT_EPILOGUE_DEFAULT ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLASLT_MATMUL_DESC_POINTER_MODE:
        if (!readValue(buf, sizeInBytes, i32))
            return CUBLAS_STATUS_INVALID_VALUE;
        return i32 == CUBLASLT_POINTER_MODE_HOST ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE:
        if (!readValue(buf, sizeInBytes, i32))
            return CUBLAS_STATUS_INVALID_VALUE;
        return i32 == CUBLAS_COMPUTE_32F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLASLT_MATMUL_DESC_SCALE_TYPE:
        if (!readValue(buf, sizeInBytes, i32))
            return CUBLAS_STATUS_INVALID_VALUE;
        return i32 == CUDA_R_32F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    default: return CUBLAS_STATUS_INVALID_VALUE;  // not modelled: refused, never ignored
    }
}

cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t matmulDesc, cublasLtMatmulDescAttributes_t attr,
                                              void* buf, size_t sizeInBytes, size_t* sizeWritten)
{
    if (!validDesc(matmulDesc))
        return CUBLAS_STATUS_INVALID_VALUE;
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE:
    case CUBLASLT_MATMUL_DESC_SCALE_TYPE:
    case CUBLASLT_MATMUL_DESC_POINTER_MODE:
    case CUBLASLT_MATMUL_DESC_TRANSA:
    case CUBLASLT_MATMUL_DESC_TRANSB: {
        const DescSlot slot = attr == CUBLASLT_MATMUL_DESC_COMPUTE_TYPE ? kDescCompute
                              : attr == CUBLASLT_MATMUL_DESC_SCALE_TYPE ? kDescScale
                              : attr == CUBLASLT_MATMUL_DESC_POINTER_MODE ? kDescPointerMode
                              : attr == CUBLASLT_MATMUL_DESC_TRANSA       ? kDescTransA
                                                                          : kDescTransB;
        const auto value = static_cast<std::int32_t>(matmulDesc->data[slot]);
        return getValue(&value, sizeof value, buf, sizeInBytes, sizeWritten);
    }
    case CUBLASLT_MATMUL_DESC_EPILOGUE: {
        const auto value = static_cast<std::uint32_t>(matmulDesc->data[kDescEpilogue]);
        return getValue(&value, sizeof value, buf, sizeInBytes, sizeWritten);
    }
    default: return CUBLAS_STATUS_INVALID_VALUE;
    }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* matLayout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld)
{
    if (!matLayout)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (const cublasStatus_t s = checkLayout(type, rows, cols, ld); s != CUBLAS_STATUS_SUCCESS)
        return s;
    auto* l = new cublasLtMatrixLayoutOpaque_t{};
    l->data[kLayoutMarker] = kLayoutMagic;
    l->data[kLayoutType] = static_cast<std::uint64_t>(type);
    l->data[kLayoutRows] = rows;
    l->data[kLayoutCols] = cols;
    l->data[kLayoutLd] = static_cast<std::uint64_t>(ld);
    *matLayout = l;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout)
{
    if (!validLayout(matLayout))
        return CUBLAS_STATUS_INVALID_VALUE;
    matLayout->data[kLayoutMarker] = 0;
    delete matLayout;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t matLayout,
                                                cublasLtMatrixLayoutAttribute_t attr, const void* buf,
                                                size_t sizeInBytes)
{
    if (!validLayout(matLayout))
        return CUBLAS_STATUS_INVALID_VALUE;
    auto type = static_cast<cudaDataType>(matLayout->data[kLayoutType]);
    std::uint64_t rows = matLayout->data[kLayoutRows], cols = matLayout->data[kLayoutCols];
    auto ld = static_cast<std::int64_t>(matLayout->data[kLayoutLd]);
    std::uint32_t u32 = 0;
    std::int32_t i32 = 0;
    std::int64_t i64 = 0;
    switch (attr) {
    case CUBLASLT_MATRIX_LAYOUT_TYPE:
        if (!readValue(buf, sizeInBytes, u32))
            return CUBLAS_STATUS_INVALID_VALUE;
        type = static_cast<cudaDataType>(u32);
        break;
    case CUBLASLT_MATRIX_LAYOUT_ROWS:
        if (!readValue(buf, sizeInBytes, rows))
            return CUBLAS_STATUS_INVALID_VALUE;
        break;
    case CUBLASLT_MATRIX_LAYOUT_COLS:
        if (!readValue(buf, sizeInBytes, cols))
            return CUBLAS_STATUS_INVALID_VALUE;
        break;
    case CUBLASLT_MATRIX_LAYOUT_LD:
        if (!readValue(buf, sizeInBytes, ld))
            return CUBLAS_STATUS_INVALID_VALUE;
        break;
    // Column order, one matrix per layout: only the defaults are simulated.
    case CUBLASLT_MATRIX_LAYOUT_ORDER:
        if (!readValue(buf, sizeInBytes, i32))
            return CUBLAS_STATUS_INVALID_VALUE;
        return i32 == CUBLASLT_ORDER_COL ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT:
        if (!readValue(buf, sizeInBytes, i32))
            return CUBLAS_STATUS_INVALID_VALUE;
        return i32 == 1 ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET:
        if (!readValue(buf, sizeInBytes, i64))
            return CUBLAS_STATUS_INVALID_VALUE;
        return i64 == 0 ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    default: return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (const cublasStatus_t s = checkLayout(type, rows, cols, ld); s != CUBLAS_STATUS_SUCCESS)
        return s;  // the layout stays as it was
    matLayout->data[kLayoutType] = static_cast<std::uint64_t>(type);
    matLayout->data[kLayoutRows] = rows;
    matLayout->data[kLayoutCols] = cols;
    matLayout->data[kLayoutLd] = static_cast<std::uint64_t>(ld);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref)
{
    if (!pref)
        return CUBLAS_STATUS_INVALID_VALUE;
    auto* p = new cublasLtMatmulPreferenceOpaque_t{};
    p->data[kPrefMarker] = kPrefMagic;
    p->data[kPrefMaxWorkspace] = 0;  // cuBLASLt's default: no workspace
    *pref = p;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
{
    if (!validPref(pref))
        return CUBLAS_STATUS_INVALID_VALUE;
    pref->data[kPrefMarker] = 0;
    delete pref;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
                                                    size_t sizeInBytes)
{
    if (!validPref(pref))
        return CUBLAS_STATUS_INVALID_VALUE;
    std::uint64_t u64 = 0;
    std::uint32_t u32 = 0;
    switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
        if (!readValue(buf, sizeInBytes, u64))
            return CUBLAS_STATUS_INVALID_VALUE;
        pref->data[kPrefMaxWorkspace] = u64;
        return CUBLAS_STATUS_SUCCESS;
    // The CPU algorithms work at any alignment, so every alignment filter keeps them all.
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
        return readValue(buf, sizeInBytes, u32) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
    default: return CUBLAS_STATUS_INVALID_VALUE;
    }
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc,
                                              cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t preference, int requestedAlgoCount,
                                              cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
                                              int* returnAlgoCount)
{
    if (returnAlgoCount)
        *returnAlgoCount = 0;
    Gemm g;
    if (const cublasStatus_t s = describe(lightHandle, operationDesc, Adesc, Bdesc, Cdesc, Ddesc, g);
        s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (requestedAlgoCount <= 0 || !heuristicResultsArray || !returnAlgoCount || !validPref(preference))
        return CUBLAS_STATUS_INVALID_VALUE;
    int count = 0;
    for (const FakeAlgo& a : kAlgos) {
        if (count == requestedAlgoCount)
            break;
        if (a.workspaceBytes > preference->data[kPrefMaxWorkspace])
            continue;
        cublasLtMatmulHeuristicResult_t& r = heuristicResultsArray[count++];
        r = cublasLtMatmulHeuristicResult_t{};
        r.algo.data[kAlgoId] = static_cast<std::uint64_t>(a.id);
        r.algo.data[kAlgoMarker] = kAlgoMagic;
        r.algo.data[kAlgoTypes] = typeSignature(g);
        r.workspaceSize = a.workspaceBytes;
        r.state = CUBLAS_STATUS_SUCCESS;
        r.wavesCount = 1.0f;
    }
    if (count == 0)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    *returnAlgoCount = count;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc,
                                       cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                       cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                       const cublasLtMatmulAlgo_t* algo, cublasLtMatmulHeuristicResult_t* result)
{
    Gemm g;
    if (const cublasStatus_t s = describe(lightHandle, operationDesc, Adesc, Bdesc, Cdesc, Ddesc, g);
        s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!algo || !result)
        return CUBLAS_STATUS_INVALID_VALUE;
    const FakeAlgo* a = findAlgo(*algo, g);
    if (!a)
        return CUBLAS_STATUS_INVALID_VALUE;  // the descriptors do not match the algorithm
    // As documented, result->algo is left alone (algo may point to it).
    result->workspaceSize = a->workspaceBytes;
    result->state = CUBLAS_STATUS_SUCCESS;
    result->wavesCount = 1.0f;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc, const void* alpha,
                              const void* A, cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc,
                              const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t* algo, void* workspace,
                              size_t workspaceSizeInBytes, cudaStream_t stream)
{
    Gemm g;
    if (const cublasStatus_t s = describe(lightHandle, computeDesc, Adesc, Bdesc, Cdesc, Ddesc, g);
        s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    // No algorithm: the heuristic's first with the default preference (no workspace).
    const FakeAlgo* a = algo ? findAlgo(*algo, g) : &kAlgos[0];
    if (!a)
        return CUBLAS_STATUS_INVALID_VALUE;
    const std::size_t wsBytes = a->workspaceBytes;
    if (wsBytes > workspaceSizeInBytes || (wsBytes > 0 && !workspace))
        return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&g.alpha, alpha, 4);  // host pointer mode: the scalars are read at the call
    std::memcpy(&g.beta, beta, 4);
    if (g.m == 0 || g.n == 0)
        return CUBLAS_STATUS_SUCCESS;
    g.a = A;
    g.b = B;
    g.c = D;
    // C != D: the work item copies C into D first (C is read only when beta != 0).
    const void* copyFrom = g.beta != 0.0f && C != D ? C : nullptr;
    Lock lock(mutex());
    if (wsBytes > 0 && !onDevice(workspace, wsBytes))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!onDevice(A, g.aBytes()) || !onDevice(B, g.bBytes()) || !onDevice(D, g.cBytes()) ||
        (copyFrom && !onDevice(copyFrom, g.cBytes()))) {
        const std::string what = "cublasLtMatmul(m=" + std::to_string(g.m) + ", n=" + std::to_string(g.n) +
                                 ", k=" + std::to_string(g.k) + "): an operand is not (all) in device memory";
        cudasim::fault(what.c_str());
    }
    auto work = [g, copyFrom, workspace, wsBytes] {
        if (!onDevice(workspace, wsBytes) || (copyFrom && !onDevice(copyFrom, g.cBytes())))
            cudasim::fault("cublasLtMatmul runs on memory freed since it was queued (a graph replayed after "
                           "cudaFree?)");
        // A real algorithm leaves partial results in its workspace: its old contents do not survive.
        if (wsBytes > 0)
            std::memset(workspace, 0xA5, wsBytes);
        if (copyFrom) {
            const std::size_t columnBytes = static_cast<std::size_t>(g.m) * elemBytes(g.outType);
            const std::size_t strideBytes = static_cast<std::size_t>(g.ldc) * elemBytes(g.outType);
            for (int j = 0; j < g.n; ++j)
                std::memmove(static_cast<char*>(g.c) + j * strideBytes,
                             static_cast<const char*>(copyFrom) + j * strideBytes, columnBytes);
        }
        g.run();
    };
    const cudaError_t e = cudasim::enqueue(stream, work, "cublasLtMatmul");
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
