// GGUF header parser. The file is untrusted: every read goes through Cursor, which checks the
// bytes that remain, and every count is compared with the bytes that remain before anything is
// reserved, so a header that claims 2^60 entries fails at once instead of allocating.
#include "model/gguf.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <unordered_set>

#include "util/mapped_file.h"

namespace hearth {

namespace {

constexpr std::uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;             // arrays of arrays; real files use one level
constexpr std::uint64_t kDefaultAlignment = 32;
// Smallest possible encodings, used to bound counts by the bytes that remain.
constexpr std::uint64_t kMinKeyValueBytes = 8 + 4 + 1;        // empty key, type, one-byte value
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims 0, type, offset

std::string quoted(std::string_view s)
{
    // Names come from the file: cap and escape them so an error message stays one readable line.
    constexpr std::size_t kMaxShown = 96;
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > kMaxShown)
        out += "...";
    return out + "'";
}

std::uint64_t minValueBytes(GgufValueType t)
{
    switch (t) {
    case GgufValueType::Uint8: case GgufValueType::Int8: case GgufValueType::Bool: return 1;
    case GgufValueType::Uint16: case GgufValueType::Int16: return 2;
    case GgufValueType::Uint32: case GgufValueType::Int32: case GgufValueType::Float32: return 4;
    case GgufValueType::Uint64: case GgufValueType::Int64: case GgufValueType::Float64: return 8;
    case GgufValueType::String: return 8;
    case GgufValueType::Array: return 4 + 8;
    }
    return 1;
}

bool isValueType(std::uint32_t t) { return t <= static_cast<std::uint32_t>(GgufValueType::Float64); }

// Little-endian reads bounded by the buffer. Each read either succeeds whole or leaves the
// position unchanged and returns false.
class Cursor {
public:
    explicit Cursor(std::span<const std::uint8_t> bytes) : m_bytes(bytes) {}

    std::uint64_t pos() const { return m_pos; }
    std::uint64_t remaining() const { return m_bytes.size() - m_pos; }

    template <typename T>
    bool read(T& out)
    {
        static_assert(std::is_unsigned_v<T>);
        if (remaining() < sizeof(T))
            return false;
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i)
            v |= static_cast<T>(static_cast<T>(m_bytes[m_pos + i]) << (8 * i));
        m_pos += sizeof(T);
        out = v;
        return true;
    }

    // A gguf string: uint64 length, then that many bytes (not checked as UTF-8; some vocabularies
    // hold raw bytes).
    bool readString(std::string& out)
    {
        const std::uint64_t start = m_pos;
        std::uint64_t n = 0;
        if (!read(n))
            return false;
        if (n > remaining()) {
            m_pos = start;
            return false;
        }
        out.assign(reinterpret_cast<const char*>(m_bytes.data() + m_pos), static_cast<std::size_t>(n));
        m_pos += n;
        return true;
    }

private:
    std::span<const std::uint8_t> m_bytes;
    std::uint64_t m_pos = 0;
};

class Parser {
public:
    Parser(std::span<const std::uint8_t> bytes, std::uint64_t fileSize, std::string_view fileName)
        : m_cur(bytes), m_fileSize(fileSize), m_fileName(fileName)
    {
    }

    Result<GgufHeader> parse();

private:
    Error corrupt(const std::string& what) const
    {
        return makeError(ErrorCode::Corrupt, m_fileName + ": " + what);
    }
    Error truncated(const std::string& what) const
    {
        return corrupt("truncated while reading " + what + " at offset " + std::to_string(m_cur.pos()) +
                       " (" + std::to_string(m_cur.remaining()) + " bytes left)");
    }

    Status parsePreamble();
    Status parseMetadata(std::uint64_t count);
    Result<GgufValue> parseValue(GgufValueType type, const std::string& key, int depth);
    Status parseArray(GgufValue& out, const std::string& key, int depth);
    Status applyAlignment();
    Status parseTensorInfos(std::uint64_t count);
    Status checkTensorData();

    Cursor m_cur;
    std::uint64_t m_fileSize;
    std::string m_fileName;
    GgufHeader m_header;
    std::uint64_t m_tensorCount = 0;
    std::uint64_t m_kvCount = 0;
};

Status Parser::parsePreamble()
{
    std::uint32_t magic = 0;
    if (!m_cur.read(magic))
        return corrupt("too small to be a GGUF file");
    if (magic != 0x46554747u)  // "GGUF" read as a little-endian uint32
        return corrupt("not a GGUF file (the first four bytes are not \"GGUF\")");
    std::uint32_t version = 0;
    if (!m_cur.read(version))
        return truncated("the version");
    if (version == 1)
        return makeError(ErrorCode::Unsupported,
                         m_fileName + ": GGUF version 1 is not supported (re-convert the model to version 3)");
    if (version != 2 && version != 3) {
        // A big-endian file (possible from version 3) reads here as a huge version number.
        if ((version & 0x00ffffffu) == 0 && (version >> 24) >= 1 && (version >> 24) <= 3)
            return makeError(ErrorCode::Unsupported, m_fileName + ": big-endian GGUF files are not supported");
        return makeError(ErrorCode::Unsupported, m_fileName + ": GGUF version " + std::to_string(version) +
                                                     " is not supported (this reader handles versions 2 and 3)");
    }
    m_header.version = version;
    if (!m_cur.read(m_tensorCount))
        return truncated("the tensor count");
    if (!m_cur.read(m_kvCount))
        return truncated("the metadata count");
    if (m_kvCount > m_cur.remaining() / kMinKeyValueBytes)
        return corrupt("claims " + std::to_string(m_kvCount) + " metadata entries but only " +
                       std::to_string(m_cur.remaining()) + " bytes follow");
    if (m_tensorCount > m_cur.remaining() / kMinTensorInfoBytes)
        return corrupt("claims " + std::to_string(m_tensorCount) + " tensors but only " +
                       std::to_string(m_cur.remaining()) + " bytes follow");
    return Status::ok();
}

Status Parser::parseMetadata(std::uint64_t count)
{
    m_header.metadata.reserve(static_cast<std::size_t>(count));
    std::unordered_set<std::string> seen;
    for (std::uint64_t i = 0; i < count; ++i) {
        GgufKeyValue kv;
        const std::string which = "metadata entry " + std::to_string(i);
        if (!m_cur.readString(kv.key))
            return truncated("the key of " + which);
        if (!seen.insert(kv.key).second)
            return corrupt("duplicate metadata key " + quoted(kv.key));
        std::uint32_t type = 0;
        if (!m_cur.read(type))
            return truncated("the value type of key " + quoted(kv.key));
        if (!isValueType(type))
            return corrupt("key " + quoted(kv.key) + " has unknown value type " + std::to_string(type));
        HEARTH_TRY_ASSIGN(kv.value, parseValue(static_cast<GgufValueType>(type), kv.key, 0));
        m_header.metadata.push_back(std::move(kv));
    }
    return Status::ok();
}

Result<GgufValue> Parser::parseValue(GgufValueType type, const std::string& key, int depth)
{
    GgufValue out;
    out.type = type;
    const auto fail = [&] { return truncated("the value of key " + quoted(key)); };
    switch (type) {
    case GgufValueType::Uint8: case GgufValueType::Bool: case GgufValueType::Int8: {
        std::uint8_t x = 0;
        if (!m_cur.read(x))
            return fail();
        // Any non-zero byte is true, as in ggml's reader.
        if (type == GgufValueType::Bool)
            out.v = x != 0;
        else if (type == GgufValueType::Int8)
            out.v = static_cast<std::int64_t>(static_cast<std::int8_t>(x));
        else
            out.v = static_cast<std::uint64_t>(x);
        break;
    }
    case GgufValueType::Uint16: case GgufValueType::Int16: {
        std::uint16_t x = 0;
        if (!m_cur.read(x))
            return fail();
        if (type == GgufValueType::Int16)
            out.v = static_cast<std::int64_t>(static_cast<std::int16_t>(x));
        else
            out.v = static_cast<std::uint64_t>(x);
        break;
    }
    case GgufValueType::Uint32: case GgufValueType::Int32: case GgufValueType::Float32: {
        std::uint32_t x = 0;
        if (!m_cur.read(x))
            return fail();
        if (type == GgufValueType::Int32)
            out.v = static_cast<std::int64_t>(static_cast<std::int32_t>(x));
        else if (type == GgufValueType::Float32)
            out.v = static_cast<double>(std::bit_cast<float>(x));
        else
            out.v = static_cast<std::uint64_t>(x);
        break;
    }
    case GgufValueType::Uint64: case GgufValueType::Int64: case GgufValueType::Float64: {
        std::uint64_t x = 0;
        if (!m_cur.read(x))
            return fail();
        if (type == GgufValueType::Int64)
            out.v = static_cast<std::int64_t>(x);
        else if (type == GgufValueType::Float64)
            out.v = std::bit_cast<double>(x);
        else
            out.v = x;
        break;
    }
    case GgufValueType::String: {
        std::string s;
        if (!m_cur.readString(s))
            return fail();
        out.v = std::move(s);
        break;
    }
    case GgufValueType::Array:
        HEARTH_TRY_STATUS(parseArray(out, key, depth + 1));
        break;
    }
    return out;
}

Status Parser::parseArray(GgufValue& out, const std::string& key, int depth)
{
    if (depth > kMaxArrayDepth)
        return corrupt("key " + quoted(key) + " nests arrays deeper than " + std::to_string(kMaxArrayDepth) +
                       " levels");
    std::uint32_t elementType = 0;
    if (!m_cur.read(elementType))
        return truncated("the array element type of key " + quoted(key));
    if (!isValueType(elementType))
        return corrupt("key " + quoted(key) + " is an array of unknown value type " + std::to_string(elementType));
    std::uint64_t count = 0;
    if (!m_cur.read(count))
        return truncated("the array length of key " + quoted(key));
    const auto type = static_cast<GgufValueType>(elementType);
    if (count > m_cur.remaining() / minValueBytes(type))
        return corrupt("key " + quoted(key) + " claims an array of " + std::to_string(count) +
                       " elements but only " + std::to_string(m_cur.remaining()) + " bytes follow");
    auto array = std::make_shared<GgufArray>();
    array->elementType = type;
    array->values.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
        HEARTH_TRY_ASSIGN(GgufValue element, parseValue(type, key, depth));
        array->values.push_back(std::move(element));
    }
    out.v = std::move(array);
    return Status::ok();
}

Status Parser::applyAlignment()
{
    const GgufValue* v = m_header.find("general.alignment");
    if (!v) {
        m_header.alignment = kDefaultAlignment;
        return Status::ok();
    }
    const auto alignment = v->type == GgufValueType::Bool ? std::nullopt : v->asUint();
    if (!alignment)
        return corrupt("key 'general.alignment' must be an unsigned integer");
    if (*alignment == 0 || !std::has_single_bit(*alignment))
        return corrupt("key 'general.alignment' is " + std::to_string(*alignment) +
                       ", which is not a non-zero power of two");
    m_header.alignment = *alignment;
    return Status::ok();
}

Status Parser::parseTensorInfos(std::uint64_t count)
{
    if (count > m_cur.remaining() / kMinTensorInfoBytes)
        return corrupt("claims " + std::to_string(count) + " tensors but only " +
                       std::to_string(m_cur.remaining()) + " bytes follow the metadata");
    m_header.tensors.reserve(static_cast<std::size_t>(count));
    std::unordered_set<std::string> seen;
    for (std::uint64_t i = 0; i < count; ++i) {
        GgufTensorInfo t;
        if (!m_cur.readString(t.name))
            return truncated("the name of tensor " + std::to_string(i));
        const std::string name = "tensor " + quoted(t.name);
        if (!seen.insert(t.name).second)
            return corrupt("duplicate " + name);
        std::uint32_t nDims = 0;
        if (!m_cur.read(nDims))
            return truncated("the dimension count of " + name);
        if (nDims > kMaxDims)
            return corrupt(name + " has " + std::to_string(nDims) + " dimensions (at most " +
                           std::to_string(kMaxDims) + ")");
        t.dims.resize(nDims);
        std::uint64_t nElements = 1;
        for (auto& d : t.dims) {
            if (!m_cur.read(d))
                return truncated("the dimensions of " + name);
            // ggml keeps dimensions as int64_t: each and their product must fit.
            constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
            if (d > kMax || (d != 0 && nElements > kMax / d))
                return corrupt(name + " has dimensions whose element count overflows");
            nElements *= d;
        }
        if (!m_cur.read(t.ggmlType))
            return truncated("the type of " + name);
        std::uint64_t offset = 0;
        if (!m_cur.read(offset))
            return truncated("the data offset of " + name);
        t.fileOffset = offset;  // relative for now; made absolute once the data start is known
        if (const auto block = ggmlTypeBlockElements(t.ggmlType)) {
            const std::uint64_t rowElements = t.dims.empty() ? 1 : t.dims[0];
            if (rowElements % *block != 0)
                return corrupt(name + " has rows of " + std::to_string(rowElements) +
                               " elements, not a whole number of " + ggmlTypeName(t.ggmlType) + " blocks of " +
                               std::to_string(*block));
            const auto nBytes = ggmlTypeBytes(t.ggmlType, nElements);
            if (!nBytes)
                return corrupt(name + " is too large: its byte size overflows");
            t.nBytes = *nBytes;
        }
        m_header.tensors.push_back(std::move(t));
    }
    return Status::ok();
}

Status Parser::checkTensorData()
{
    // Even tensors of unknown or zero size point into the data section, so it must exist.
    if (!m_header.tensors.empty() && m_header.dataStart > m_fileSize)
        return corrupt("the file ends at " + std::to_string(m_fileSize) + " bytes, before its data section at " +
                       std::to_string(m_header.dataStart));
    const std::uint64_t dataBytes = m_fileSize - std::min(m_fileSize, m_header.dataStart);
    for (auto& t : m_header.tensors) {
        const std::uint64_t offset = t.fileOffset;
        if (offset % m_header.alignment != 0)
            return corrupt("tensor " + quoted(t.name) + " has data offset " + std::to_string(offset) +
                           ", not a multiple of the alignment " + std::to_string(m_header.alignment));
        if (offset > dataBytes || t.nBytes > dataBytes - offset)
            return corrupt("tensor " + quoted(t.name) + " (" + std::to_string(t.nBytes) + " bytes at data offset " +
                           std::to_string(offset) + ") ends past the end of the file (the data section has " +
                           std::to_string(dataBytes) + " bytes)");
        t.fileOffset = m_header.dataStart + offset;
    }
    std::vector<const GgufTensorInfo*> byOffset;
    byOffset.reserve(m_header.tensors.size());
    for (const auto& t : m_header.tensors)
        if (t.nBytes > 0)
            byOffset.push_back(&t);
    std::sort(byOffset.begin(), byOffset.end(),
              [](const auto* a, const auto* b) { return a->fileOffset < b->fileOffset; });
    for (std::size_t i = 1; i < byOffset.size(); ++i) {
        const auto* prev = byOffset[i - 1];
        if (prev->fileOffset + prev->nBytes > byOffset[i]->fileOffset)
            return corrupt("tensors " + quoted(prev->name) + " and " + quoted(byOffset[i]->name) +
                           " overlap in the data section");
    }
    return Status::ok();
}

Result<GgufHeader> Parser::parse()
{
    HEARTH_TRY_STATUS(parsePreamble());
    HEARTH_TRY_STATUS(parseMetadata(m_kvCount));
    HEARTH_TRY_STATUS(applyAlignment());
    HEARTH_TRY_STATUS(parseTensorInfos(m_tensorCount));
    // The data section starts at the next multiple of the alignment; pos <= 2^64-1 and alignment
    // <= 2^63, so this cannot overflow.
    const std::uint64_t pos = m_cur.pos();
    m_header.dataStart = pos + (m_header.alignment - pos % m_header.alignment) % m_header.alignment;
    HEARTH_TRY_STATUS(checkTensorData());
    return std::move(m_header);
}

}  // namespace

Result<GgufHeader> parseGgufHeader(std::span<const std::uint8_t> bytes, std::uint64_t fileSize,
                                   std::string_view fileName)
{
    if (fileSize < bytes.size())
        return makeError(ErrorCode::InvalidArgument, std::string(fileName) + ": file size " +
                                                         std::to_string(fileSize) + " is smaller than the " +
                                                         std::to_string(bytes.size()) + " header bytes given");
    return Parser(bytes, fileSize, fileName).parse();
}

Result<GgufHeader> readGgufHeader(const std::string& path)
{
    HEARTH_TRY_ASSIGN(MappedFile file, MappedFile::open(path));
    return parseGgufHeader(file.bytes(), file.size(), path);
}

}  // namespace hearth
