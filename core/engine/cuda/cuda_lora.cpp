#include "engine/cuda/cuda_lora.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "kernels.h"

namespace hearth::cuda {

std::vector<const void*> LoraCache::tensorDataOf(const LoraAdapter& adapter, std::size_t nLayers)
{
    std::vector<const void*> out;
    for (std::size_t l = 0; l < nLayers; ++l)
        for (int k = 0; k < kLinearKindCount; ++k)
            if (const LoraPair* pair = adapter.find(l, static_cast<LinearKind>(k))) {
                out.push_back(pair->a.data);
                out.push_back(pair->b.data);
            }
    return out;
}

Result<const DeviceAdapter*> LoraCache::get(const LoraAdapter& adapter, std::size_t nLayers, kernels::ElemType type)
{
    const std::vector<const void*> data = tensorDataOf(adapter, nLayers);
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
        if (it->key != &adapter)
            continue;
        if (it->path == adapter.path() && it->rank == adapter.rank() && it->alpha == adapter.alpha() && it->tensorData == data) {
            it->lastStep = m_step;
            return static_cast<const DeviceAdapter*>(it->device.get());
        }
        m_entries.erase(it);  // a freed adapter's address, now another adapter's: forget the old copy
        break;
    }
    // Make room: evict the least recently used entry not fetched in this step.
    while (m_entries.size() >= kMaxCachedAdapters) {
        auto victim = m_entries.end();
        for (auto it = m_entries.begin(); it != m_entries.end(); ++it)
            if (it->lastStep != m_step && (victim == m_entries.end() || it->lastStep < victim->lastStep))
                victim = it;
        if (victim == m_entries.end())
            break;  // every cached adapter is in this step: keep them all
        m_entries.erase(victim);
    }

    auto device = std::make_unique<DeviceAdapter>();
    device->layers.resize(nLayers);
    std::size_t bytes = 0;
    for (std::size_t l = 0; l < nLayers; ++l)
        for (int k = 0; k < kLinearKindCount; ++k)
            if (const LoraPair* pair = adapter.find(l, static_cast<LinearKind>(k))) {
                if (pair->a.rows > kernels::kLoraMaxRank)
                    return makeError(ErrorCode::Unsupported, "adapter " + adapter.path() + ": rank " +
                                                                 std::to_string(pair->a.rows) + " is above the CUDA backend's " +
                                                                 std::to_string(kernels::kLoraMaxRank));
                bytes += alignUp(static_cast<std::size_t>(pair->a.rows * pair->a.cols) * 2, 256);
                bytes += alignUp(static_cast<std::size_t>(pair->b.rows * pair->b.cols) * 2, 256);
            }
    HEARTH_TRY_STATUS(device->storage.reserve(std::max<std::size_t>(bytes, 256), "a LoRA adapter"));
    auto* base = device->storage.as<std::uint8_t>();
    std::size_t next = 0;
    std::vector<std::uint16_t> staging;
    const auto upload = [&](const WeightTensor& t) -> Result<const void*> {
        const auto n = static_cast<std::size_t>(t.rows * t.cols);
        staging.resize(n);
        convertElements(t.data, t.dtype, staging.data(), n, type);
        std::uint8_t* dst = base + next;
        HEARTH_CUDA_TRY(cudaMemcpy(dst, staging.data(), n * 2, cudaMemcpyHostToDevice));
        next += alignUp(n * 2, 256);
        return static_cast<const void*>(dst);
    };
    for (std::size_t l = 0; l < nLayers; ++l)
        for (int k = 0; k < kLinearKindCount; ++k)
            if (const LoraPair* pair = adapter.find(l, static_cast<LinearKind>(k))) {
                DeviceLoraPair& d = device->layers[l][static_cast<std::size_t>(k)];
                HEARTH_TRY_ASSIGN(d.a, upload(pair->a));
                HEARTH_TRY_ASSIGN(d.b, upload(pair->b));
                d.rank = static_cast<std::int32_t>(pair->a.rows);
                device->maxRank = std::max(device->maxRank, d.rank);
            }

    Entry e;
    e.key = &adapter;
    e.path = adapter.path();
    e.rank = adapter.rank();
    e.alpha = adapter.alpha();
    e.tensorData = data;
    e.lastStep = m_step;
    e.device = std::move(device);
    m_entries.push_back(std::move(e));
    return static_cast<const DeviceAdapter*>(m_entries.back().device.get());
}

}  // namespace hearth::cuda
