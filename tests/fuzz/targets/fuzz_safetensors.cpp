// Drives the safetensors header parser with arbitrary bytes as a whole file. Any accepted header
// must describe tensors that lie inside the file, in offset order, without overlap.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::span<const std::uint8_t> bytes(data, size);
    auto header = hearth::parseSafetensorsHeader(bytes, size, "fuzz.safetensors");
    if (!header)
        return 0;
    std::uint64_t previousEnd = header->dataStart;
    for (const hearth::TensorInfo& t : header->tensors) {
        if (t.fileOffset < header->dataStart || t.fileOffset > size || t.nBytes > size - t.fileOffset)
            std::abort();
        if (t.nBytes != static_cast<std::uint64_t>(t.nElements()) * hearth::dtypeSize(t.dtype))
            std::abort();
        if (t.nBytes > 0) {
            if (t.fileOffset < previousEnd)
                std::abort();
            previousEnd = t.fileOffset + t.nBytes;
        }
    }
    return 0;
}
