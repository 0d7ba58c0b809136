// LoRA adapters on the device for the CUDA backend: each adapter's A/B pairs are converted to the
// backend's element type and uploaded on first use, then kept per LoraAdapter pointer.
//
// Freeing: a cached adapter lives until the backend is destroyed, or until it is the least
// recently used of more than kMaxCachedAdapters (evicted at the start of a step, when no device
// work is in flight). Because the engine frees a detached adapter without telling the backend,
// an entry also remembers the adapter's path, rank, alpha and tensor addresses, and a different
// adapter that happens to reuse a freed one's address is uploaded afresh instead of being
// mistaken for it. TODO(#5): a release call from the engine on detach would free memory at once.
// Private to engine/cuda.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_util.h"
#include "engine/lora.h"

namespace hearth::cuda {

struct DeviceLoraPair {
    const void* a = nullptr;  // [rank, in]
    const void* b = nullptr;  // [out, rank]
    std::int32_t rank = 0;    // 0: the adapter leaves this projection alone
};

struct DeviceAdapter {
    DeviceBuffer storage;
    std::vector<std::array<DeviceLoraPair, kLinearKindCount>> layers;
    std::int32_t maxRank = 0;
};

class LoraCache {
public:
    static constexpr std::size_t kMaxCachedAdapters = 8;

    // Marks the start of a step: adapters fetched from now on are not evicted until the next one.
    void beginStep() { ++m_step; }
    // The device copy of `adapter` for `weights`' layers, uploaded (synchronously) on first use.
    Result<const DeviceAdapter*> get(const LoraAdapter& adapter, std::size_t nLayers, kernels::ElemType type);

private:
    struct Entry {
        const LoraAdapter* key = nullptr;
        std::string path;
        std::int64_t rank = 0;
        double alpha = 0.0;
        std::vector<const void*> tensorData;  // every pair's A and B host address, in order
        std::uint64_t lastStep = 0;
        std::unique_ptr<DeviceAdapter> device;
    };

    static std::vector<const void*> tensorDataOf(const LoraAdapter& adapter, std::size_t nLayers);

    std::vector<Entry> m_entries;
    std::uint64_t m_step = 0;
};

}  // namespace hearth::cuda
