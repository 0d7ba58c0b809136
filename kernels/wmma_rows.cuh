// WMMA keeps the element-to-row mapping of a fragment opaque; the attention kernels that run their
// softmax per row on accumulator fragments learn it once by loading a matrix of row indices
// (fragments of one type share the mapping).
#pragma once

#include <mma.h>

namespace hearth::kernels::detail {

// rowOf[i] = the row (0..15) of element i of this lane's 16x16 fp32 accumulator fragments. The
// warp's 16 x ld fp32 `scratch` (shared memory) is overwritten; every lane has read it when this
// returns.
template <typename AccFrag>
__device__ __forceinline__ void accumulatorRows(float* scratch, int ld, int lane, int (&rowOf)[AccFrag::num_elements])
{
    for (int i = lane; i < 16 * 16; i += 32)
        scratch[(i / 16) * ld + i % 16] = static_cast<float>(i / 16);
    __syncwarp();
    AccFrag probe;
    nvcuda::wmma::load_matrix_sync(probe, scratch, ld, nvcuda::wmma::mem_row_major);
#pragma unroll
    for (int i = 0; i < AccFrag::num_elements; ++i)
        rowOf[i] = static_cast<int>(probe.x[i]);
    __syncwarp();  // every lane has read the probe before the caller overwrites it
}

}  // namespace hearth::kernels::detail
