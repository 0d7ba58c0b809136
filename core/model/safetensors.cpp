// Safetensors header parsing (validation) and writing. The model (files, shards, index) is in
// safetensors_model.cpp.
#include "model/safetensors.h"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>

#include "model/strict_json.h"
#include "util/mapped_file.h"

namespace hearth {

namespace {

using Json = nlohmann::json;

// The reference implementation caps headers at 100 MB; anything larger is an attack or garbage.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr std::size_t kMaxRank = 8;
constexpr std::string_view kMetadataKey = "__metadata__";

// "an array", "a string", ... for messages.
std::string describeType(const Json& v)
{
    const std::string name = v.type_name();
    return (name == "array" || name == "object" ? "an " : "a ") + name;
}

std::string spacedShapeText(const std::vector<std::int64_t>& shape)
{
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Builds errors that all start with "<file>: " and, where there is one, "tensor '<name>': ".
class HeaderErrors {
public:
    explicit HeaderErrors(std::string_view fileName) : m_file(fileName) {}
    Error file(const std::string& what) const { return makeError(ErrorCode::Corrupt, m_file + ": " + what); }
    Error tensor(const std::string& name, const std::string& what) const
    {
        return file("tensor '" + name + "': " + what);
    }

private:
    std::string m_file;
};

Result<std::vector<std::int64_t>> parseShape(const Json& entry, const std::string& name, const HeaderErrors& err)
{
    const auto it = entry.find("shape");
    if (it == entry.end())
        return err.tensor(name, "missing \"shape\"");
    if (!it->is_array())
        return err.tensor(name, "\"shape\" is " + describeType(*it) + ", expected an array");
    if (it->size() > kMaxRank)
        return err.tensor(name, "rank " + std::to_string(it->size()) + " is more than the " +
                                    std::to_string(kMaxRank) + " supported");
    std::vector<std::int64_t> shape;
    std::int64_t nElements = 1;
    for (const Json& dim : *it) {
        if (!dim.is_number_unsigned()) {
            if (dim.is_number_integer())
                return err.tensor(name, "negative dimension " + dim.dump() + " in \"shape\"");
            return err.tensor(name, "dimension " + dim.dump() + " in \"shape\" is not a non-negative integer");
        }
        const std::uint64_t d = dim.get<std::uint64_t>();
        if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return err.tensor(name, "dimension " + std::to_string(d) + " is too large");
        shape.push_back(static_cast<std::int64_t>(d));
        if (__builtin_mul_overflow(nElements, shape.back(), &nElements))
            return err.tensor(name, "shape " + it->dump() + " has more elements than fit in 64 bits");
    }
    return shape;
}

// Reads "data_offsets": [begin, end] relative to the data section.
Result<std::pair<std::uint64_t, std::uint64_t>> parseOffsets(const Json& entry, const std::string& name,
                                                            const HeaderErrors& err)
{
    const auto it = entry.find("data_offsets");
    if (it == entry.end())
        return err.tensor(name, "missing \"data_offsets\"");
    if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number_unsigned() || !(*it)[1].is_number_unsigned())
        return err.tensor(name, "\"data_offsets\" is " + it->dump() + ", expected [begin, end] (non-negative integers)");
    return std::pair{(*it)[0].get<std::uint64_t>(), (*it)[1].get<std::uint64_t>()};
}

Result<TensorInfo> parseTensor(const std::string& name, const Json& entry, std::uint64_t dataStart,
                               std::uint64_t dataBytes, const HeaderErrors& err)
{
    if (!entry.is_object())
        return err.tensor(name, "entry is " + describeType(entry) + ", expected an object");
    TensorInfo t;
    t.name = name;

    const auto dtypeIt = entry.find("dtype");
    if (dtypeIt == entry.end())
        return err.tensor(name, "missing \"dtype\"");
    if (!dtypeIt->is_string())
        return err.tensor(name, "\"dtype\" is " + dtypeIt->dump() + ", expected a string such as \"BF16\"");
    const std::optional<DType> dtype = parseDType(dtypeIt->get_ref<const std::string&>());
    if (!dtype)
        return err.tensor(name, "unknown dtype " + dtypeIt->dump());
    t.dtype = *dtype;

    HEARTH_TRY_ASSIGN(t.shape, parseShape(entry, name, err));
    HEARTH_TRY_ASSIGN(const auto offsets, parseOffsets(entry, name, err));
    const auto [begin, end] = offsets;
    if (begin > end)
        return err.tensor(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                    "] end before they begin");
    if (end > dataBytes)
        return err.tensor(name, "data_offsets end " + std::to_string(end) + " is past the data section (" +
                                    std::to_string(dataBytes) + " bytes)");
    std::uint64_t expected = 0;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(t.nElements()), dtypeSize(t.dtype), &expected))
        return err.tensor(name, "shape " + spacedShapeText(t.shape) + " of " + std::string(dtypeName(t.dtype)) +
                                    " needs more bytes than fit in 64 bits");
    if (end - begin != expected)
        return err.tensor(name, "data_offsets span " + std::to_string(end - begin) + " bytes but shape " +
                                    spacedShapeText(t.shape) + " of " + std::string(dtypeName(t.dtype)) + " needs " +
                                    std::to_string(expected));
    t.fileOffset = dataStart + begin;
    t.nBytes = expected;
    return t;
}

Result<std::map<std::string, std::string>> parseMetadata(const Json& value, const HeaderErrors& err)
{
    if (!value.is_object())
        return err.file("\"__metadata__\" is " + describeType(value) + ", expected an object");
    std::map<std::string, std::string> metadata;
    for (const auto& [key, v] : value.items()) {
        if (!v.is_string())
            return err.file("\"__metadata__\" value '" + key + "' is " + describeType(v) + ", expected a string");
        metadata.emplace(key, v.get<std::string>());
    }
    return metadata;
}

// Zero-byte tensors occupy nothing, so only non-empty ones can overlap.
Status checkNoOverlap(const std::vector<TensorInfo>& sorted, const HeaderErrors& err)
{
    const TensorInfo* previous = nullptr;
    for (const TensorInfo& t : sorted) {
        if (t.nBytes == 0)
            continue;
        if (previous && t.fileOffset < previous->fileOffset + previous->nBytes)
            return err.tensor(t.name, "its bytes overlap those of tensor '" + previous->name + "'");
        if (!previous || t.fileOffset + t.nBytes > previous->fileOffset + previous->nBytes)
            previous = &t;
    }
    return Status::ok();
}

// Appends `s` as a JSON string the way Python's json.dumps does by default (ensure_ascii): printable
// ASCII as is, everything else \u-escaped (UTF-16 surrogate pairs above U+FFFF). Bytes that are
// not valid UTF-8 become U+FFFD, since JSON cannot carry them.
void appendPythonJsonString(std::string& out, std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    const auto escapeUnit = [&out](std::uint32_t u) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4)
            out += kHex[(u >> shift) & 0xF];
    };
    out += '"';
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || c == 0x7f)
                    escapeUnit(c);
                else
                    out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        // Decode one UTF-8 sequence; reject overlong forms, surrogates and values past U+10FFFF.
        const int length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        std::uint32_t cp = length == 4 ? (c & 0x07u) : length == 3 ? (c & 0x0Fu) : (c & 0x1Fu);
        bool valid = length > 0 && i + static_cast<std::size_t>(length) <= s.size();
        for (int k = 1; valid && k < length; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            valid = (cc & 0xC0) == 0x80;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
        valid = valid && cp >= kMinForLength[length] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        if (!valid) {
            escapeUnit(0xFFFD);
            ++i;
            continue;
        }
        if (cp >= 0x10000) {
            escapeUnit(0xD800 + ((cp - 0x10000) >> 10));
            escapeUnit(0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            escapeUnit(cp);
        }
        i += static_cast<std::size_t>(length);
    }
    out += '"';
}

}  // namespace

std::int64_t TensorInfo::nElements() const
{
    std::int64_t n = 1;
    for (const std::int64_t d : shape)
        n *= d;
    return n;
}

Result<SafetensorsHeader> parseSafetensorsHeader(std::span<const std::uint8_t> bytes, std::uint64_t fileSize,
                                                 std::string_view fileName)
{
    const HeaderErrors err(fileName);
    if (fileSize < 8)
        return err.file("file is " + std::to_string(fileSize) + " bytes, too short for the 8-byte header length");
    if (bytes.size() < 8)
        return err.file("only " + std::to_string(bytes.size()) + " bytes were read, too few for the header length");
    std::uint64_t headerBytes = 0;
    for (int i = 7; i >= 0; --i)
        headerBytes = (headerBytes << 8) | bytes[static_cast<std::size_t>(i)];
    if (headerBytes == 0)
        return err.file("header length is 0");
    if (headerBytes > kMaxHeaderBytes)
        return err.file("header length " + std::to_string(headerBytes) + " is more than the 100 MiB limit");
    if (headerBytes > fileSize - 8)
        return err.file("header length " + std::to_string(headerBytes) + " runs past the end of the file (" +
                        std::to_string(fileSize) + " bytes); the file may be truncated");
    if (headerBytes > bytes.size() - 8)
        return err.file("header length " + std::to_string(headerBytes) + " runs past the " +
                        std::to_string(bytes.size()) + " bytes read");

    SafetensorsHeader header;
    header.dataStart = 8 + headerBytes;
    const std::uint64_t dataBytes = fileSize - header.dataStart;
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(headerBytes));
    auto parsed = parseJsonRejectingDuplicates(text);
    if (!parsed)
        return err.file("header: " + parsed.error().message);
    const Json& doc = *parsed;
    if (!doc.is_object())
        return err.file(std::string("header is a JSON ") + doc.type_name() + ", expected an object");

    for (const auto& [key, value] : doc.items()) {
        if (key == kMetadataKey) {
            HEARTH_TRY_ASSIGN(header.metadata, parseMetadata(value, err));
            continue;
        }
        HEARTH_TRY_ASSIGN(TensorInfo t, parseTensor(key, value, header.dataStart, dataBytes, err));
        header.tensors.push_back(std::move(t));
    }
    std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return std::tie(a.fileOffset, a.nBytes, a.name) < std::tie(b.fileOffset, b.nBytes, b.name);
    });
    HEARTH_TRY_STATUS(checkNoOverlap(header.tensors, err));
    return header;
}

std::string serializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata)
{
    std::string json = "{";
    if (!metadata.empty()) {
        json += "\"__metadata__\":{";
        bool first = true;
        for (const auto& [key, value] : metadata) {
            json += first ? "" : ",";
            first = false;
            appendPythonJsonString(json, key);
            json += ':';
            appendPythonJsonString(json, value);
        }
        json += '}';
    }
    std::uint64_t offset = 0;
    for (const TensorToWrite& t : tensors) {
        json += json.size() > 1 ? "," : "";
        appendPythonJsonString(json, t.name);
        json += ":{\"dtype\":\"" + std::string(dtypeName(t.dtype)) + "\",\"shape\":[";
        for (std::size_t i = 0; i < t.shape.size(); ++i)
            json += (i ? "," : "") + std::to_string(t.shape[i]);
        json += "],\"data_offsets\":[" + std::to_string(offset) + ",";
        offset += t.bytes.size();
        json += std::to_string(offset) + "]}";
    }
    json += '}';
    json.append((8 - json.size() % 8) % 8, ' ');

    std::string out;
    out.reserve(8 + json.size() + offset);
    for (int i = 0; i < 8; ++i)
        out += static_cast<char>((static_cast<std::uint64_t>(json.size()) >> (8 * i)) & 0xFF);
    out += json;
    for (const TensorToWrite& t : tensors)
        out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
    return out;
}

Status writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata)
{
    // serializeSafetensors writes whatever it is given (tests build corrupt files with it); a
    // file written for real must be one the reader accepts.
    std::set<std::string_view> names;
    for (const TensorToWrite& t : tensors) {
        const auto bad = [&](const std::string& what) {
            return makeError(ErrorCode::InvalidArgument, path + ": tensor '" + t.name + "': " + what);
        };
        if (t.name == kMetadataKey)
            return bad("the name is reserved for metadata");
        if (!names.insert(t.name).second)
            return bad("the name is used twice");
        if (t.shape.size() > kMaxRank)
            return bad("rank " + std::to_string(t.shape.size()) + " is more than " + std::to_string(kMaxRank));
        std::uint64_t n = dtypeSize(t.dtype);
        for (const std::int64_t d : t.shape)
            if (d < 0 || __builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n))
                return bad("shape " + spacedShapeText(t.shape) + " is invalid");
        if (n != t.bytes.size())
            return bad("shape " + spacedShapeText(t.shape) + " of " + std::string(dtypeName(t.dtype)) + " needs " +
                       std::to_string(n) + " bytes, got " + std::to_string(t.bytes.size()));
    }
    return writeFileAtomically(path, serializeSafetensors(tensors, metadata));
}

}  // namespace hearth
