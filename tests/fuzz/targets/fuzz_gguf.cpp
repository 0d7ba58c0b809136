// Drives the GGUF header parser with arbitrary bytes as a whole file. Any accepted header must
// describe aligned tensors inside the file that do not overlap, must survive the summary queries,
// and must be writable again by Hearth's writer into a file that reads back the same metadata.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "model/gguf.h"
#include "model/gguf_writer.h"

namespace {

bool sameValue(const hearth::GgufValue& a, const hearth::GgufValue& b)
{
    if (a.type != b.type || a.v.index() != b.v.index())
        return false;
    const hearth::GgufArray* x = a.asArray();
    const hearth::GgufArray* y = b.asArray();
    if (!x || !y) {
        // NaN payloads round-trip bit for bit but do not compare equal.
        if (const auto* d = std::get_if<double>(&a.v); d && *d != *d)
            return *std::get_if<double>(&b.v) != *std::get_if<double>(&b.v);
        return a.v == b.v;
    }
    if (x->elementType != y->elementType || x->values.size() != y->values.size())
        return false;
    for (std::size_t i = 0; i < x->values.size(); ++i)
        if (!sameValue(x->values[i], y->values[i]))
            return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::span<const std::uint8_t> bytes(data, size);
    auto header = hearth::parseGgufHeader(bytes, size, "fuzz.gguf");
    if (!header)
        return 0;
    std::vector<const hearth::GgufTensorInfo*> sized;
    for (const auto& t : header->tensors) {
        if (t.fileOffset < header->dataStart || t.fileOffset > size || t.nBytes > size - t.fileOffset)
            std::abort();
        if ((t.fileOffset - header->dataStart) % header->alignment != 0)
            std::abort();
        if (t.nBytes > 0)
            sized.push_back(&t);
    }
    std::sort(sized.begin(), sized.end(), [](auto* a, auto* b) { return a->fileOffset < b->fileOffset; });
    for (std::size_t i = 1; i < sized.size(); ++i)
        if (sized[i - 1]->fileOffset + sized[i - 1]->nBytes > sized[i]->fileOffset)
            std::abort();
    volatile std::uint64_t sink = header->parameterCount() + header->tensorBytes() +
                                  header->contextLength().value_or(0) + header->quantizationName().size() +
                                  header->architecture().size();
    (void)sink;

    std::vector<hearth::GgufTensorToWrite> tensors;
    for (const auto& t : header->tensors)
        tensors.push_back({t.name, t.dims, t.ggmlType,
                           std::string(reinterpret_cast<const char*>(data + t.fileOffset), t.nBytes)});
    auto image = hearth::serializeGguf(header->version, header->metadata, tensors, header->alignment);
    if (!image)
        std::abort();  // everything the reader accepts, the writer must be able to write
    const std::span<const std::uint8_t> again(reinterpret_cast<const std::uint8_t*>(image->data()), image->size());
    auto reread = hearth::parseGgufHeader(again, again.size(), "fuzz-rewritten.gguf");
    if (!reread || reread->metadata.size() != header->metadata.size() ||
        reread->tensors.size() != header->tensors.size())
        std::abort();
    for (std::size_t i = 0; i < header->metadata.size(); ++i)
        if (reread->metadata[i].key != header->metadata[i].key ||
            !sameValue(reread->metadata[i].value, header->metadata[i].value))
            std::abort();
    return 0;
}
