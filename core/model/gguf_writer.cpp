#include "model/gguf_writer.h"

#include <bit>
#include <limits>
#include <unordered_set>

namespace hearth {

namespace {

constexpr int kMaxArrayDepth = 8;  // the reader's limit; never write what it would refuse
constexpr std::uint64_t kDefaultAlignment = 32;

Error invalid(const std::string& what) { return makeError(ErrorCode::InvalidArgument, "GGUF writer: " + what); }

class ByteSink {
public:
    template <typename T>
    void put(T v)
    {
        static_assert(std::is_unsigned_v<T>);
        for (std::size_t i = 0; i < sizeof(T); ++i)
            m_out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    void putString(const std::string& s)
    {
        put<std::uint64_t>(s.size());
        m_out += s;
    }
    void padTo(std::uint64_t alignment) { m_out.append((alignment - m_out.size() % alignment) % alignment, '\0'); }
    void append(const std::string& bytes) { m_out += bytes; }
    std::string take() { return std::move(m_out); }

private:
    std::string m_out;
};

Status checkRange(const GgufValue& value, const std::string& key)
{
    const auto tooBig = [&] { return invalid("value of key '" + key + "' does not fit its type"); };
    switch (value.type) {
    case GgufValueType::Uint8: case GgufValueType::Uint16: case GgufValueType::Uint32: case GgufValueType::Uint64: {
        const auto* u = std::get_if<std::uint64_t>(&value.v);
        if (!u)
            return invalid("key '" + key + "' is declared unsigned but holds another kind of value");
        const int bits = value.type == GgufValueType::Uint8 ? 8 : value.type == GgufValueType::Uint16 ? 16
                       : value.type == GgufValueType::Uint32 ? 32 : 64;
        if (bits < 64 && *u >> bits != 0)
            return tooBig();
        return Status::ok();
    }
    case GgufValueType::Int8: case GgufValueType::Int16: case GgufValueType::Int32: case GgufValueType::Int64: {
        const auto* i = std::get_if<std::int64_t>(&value.v);
        if (!i)
            return invalid("key '" + key + "' is declared signed but holds another kind of value");
        const int bits = value.type == GgufValueType::Int8 ? 8 : value.type == GgufValueType::Int16 ? 16
                       : value.type == GgufValueType::Int32 ? 32 : 64;
        if (bits < 64 && (*i < -(std::int64_t{1} << (bits - 1)) || *i >= (std::int64_t{1} << (bits - 1))))
            return tooBig();
        return Status::ok();
    }
    case GgufValueType::Float32: case GgufValueType::Float64:
        if (!std::holds_alternative<double>(value.v))
            return invalid("key '" + key + "' is declared float but holds another kind of value");
        return Status::ok();
    case GgufValueType::Bool:
        if (!std::holds_alternative<bool>(value.v))
            return invalid("key '" + key + "' is declared bool but holds another kind of value");
        return Status::ok();
    case GgufValueType::String:
        if (!std::holds_alternative<std::string>(value.v))
            return invalid("key '" + key + "' is declared string but holds another kind of value");
        return Status::ok();
    case GgufValueType::Array:
        if (!value.asArray())
            return invalid("key '" + key + "' is declared array but holds no array");
        return Status::ok();
    }
    return invalid("key '" + key + "' has an unknown value type");
}

Status writeValue(ByteSink& out, const GgufValue& value, const std::string& key, int depth)
{
    HEARTH_TRY_STATUS(checkRange(value, key));
    switch (value.type) {
    case GgufValueType::Uint8: out.put(static_cast<std::uint8_t>(*value.asUint())); break;
    case GgufValueType::Uint16: out.put(static_cast<std::uint16_t>(*value.asUint())); break;
    case GgufValueType::Uint32: out.put(static_cast<std::uint32_t>(*value.asUint())); break;
    case GgufValueType::Uint64: out.put(*value.asUint()); break;
    case GgufValueType::Int8: out.put(static_cast<std::uint8_t>(*value.asInt())); break;
    case GgufValueType::Int16: out.put(static_cast<std::uint16_t>(*value.asInt())); break;
    case GgufValueType::Int32: out.put(static_cast<std::uint32_t>(*value.asInt())); break;
    case GgufValueType::Int64: out.put(static_cast<std::uint64_t>(*value.asInt())); break;
    case GgufValueType::Float32: out.put(std::bit_cast<std::uint32_t>(static_cast<float>(*value.asFloat()))); break;
    case GgufValueType::Float64: out.put(std::bit_cast<std::uint64_t>(*value.asFloat())); break;
    case GgufValueType::Bool: out.put(static_cast<std::uint8_t>(std::get<bool>(value.v) ? 1 : 0)); break;
    case GgufValueType::String: out.putString(*value.asString()); break;
    case GgufValueType::Array: {
        if (depth >= kMaxArrayDepth)
            return invalid("key '" + key + "' nests arrays deeper than " + std::to_string(kMaxArrayDepth));
        const GgufArray& array = *value.asArray();
        out.put(static_cast<std::uint32_t>(array.elementType));
        out.put<std::uint64_t>(array.values.size());
        for (const auto& element : array.values) {
            if (element.type != array.elementType)
                return invalid("key '" + key + "' is an array with elements of mixed types");
            HEARTH_TRY_STATUS(writeValue(out, element, key, depth + 1));
        }
        break;
    }
    }
    return Status::ok();
}

Result<std::uint64_t> tensorBytes(const GgufTensorToWrite& t)
{
    if (t.dims.size() > 4)
        return invalid("tensor '" + t.name + "' has more than 4 dimensions");
    GgufTensorInfo info;
    info.dims = t.dims;
    const auto block = ggmlTypeBlockElements(t.ggmlType);
    if (!block)
        return t.data.size();  // a type this build does not know: trust the caller's bytes
    if ((t.dims.empty() ? 1 : t.dims[0]) % *block != 0)
        return invalid("tensor '" + t.name + "' rows are not whole " + ggmlTypeName(t.ggmlType) + " blocks");
    const auto expected = ggmlTypeBytes(t.ggmlType, info.nElements());
    if (!expected || *expected != t.data.size())
        return invalid("tensor '" + t.name + "' has " + std::to_string(t.data.size()) + " bytes of data, its " +
                       ggmlTypeName(t.ggmlType) + " shape needs " + (expected ? std::to_string(*expected) : "?"));
    return *expected;
}

}  // namespace

Result<std::string> serializeGguf(std::uint32_t version, const std::vector<GgufKeyValue>& metadata,
                                  const std::vector<GgufTensorToWrite>& tensors, std::uint64_t alignment)
{
    if (version != 2 && version != 3)
        return invalid("version " + std::to_string(version) + " cannot be written (2 or 3)");
    if (alignment == 0 || !std::has_single_bit(alignment))
        return invalid("alignment " + std::to_string(alignment) + " is not a non-zero power of two");

    std::vector<GgufKeyValue> kvs = metadata;
    bool hasAlignmentKey = false;
    for (const auto& kv : kvs) {
        if (kv.key != "general.alignment")
            continue;
        hasAlignmentKey = true;
        if (kv.value.asUint() != alignment)
            return invalid("general.alignment in the metadata differs from the alignment argument");
    }
    if (!hasAlignmentKey && alignment != kDefaultAlignment)
        kvs.push_back({"general.alignment", ggufUint(GgufValueType::Uint32, alignment)});

    ByteSink out;
    out.put<std::uint32_t>(0x46554747u);  // "GGUF"
    out.put(version);
    out.put<std::uint64_t>(tensors.size());
    out.put<std::uint64_t>(kvs.size());

    std::unordered_set<std::string> seen;
    for (const auto& kv : kvs) {
        if (!seen.insert(kv.key).second)
            return invalid("duplicate metadata key '" + kv.key + "'");
        out.putString(kv.key);
        out.put(static_cast<std::uint32_t>(kv.value.type));
        HEARTH_TRY_STATUS(writeValue(out, kv.value, kv.key, 0));
    }

    seen.clear();
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
        if (!seen.insert(t.name).second)
            return invalid("duplicate tensor '" + t.name + "'");
        HEARTH_TRY_ASSIGN(const std::uint64_t nBytes, tensorBytes(t));
        out.putString(t.name);
        out.put(static_cast<std::uint32_t>(t.dims.size()));
        for (std::uint64_t d : t.dims)
            out.put(d);
        out.put(t.ggmlType);
        out.put(offset);
        offset += (nBytes + alignment - 1) / alignment * alignment;
    }
    out.padTo(alignment);
    for (const auto& t : tensors) {
        out.append(t.data);
        out.padTo(alignment);
    }
    return out.take();
}

GgufValue ggufUint(GgufValueType type, std::uint64_t v) { return GgufValue{type, v}; }
GgufValue ggufInt(GgufValueType type, std::int64_t v) { return GgufValue{type, v}; }
GgufValue ggufFloat(GgufValueType type, double v) { return GgufValue{type, v}; }
GgufValue ggufBool(bool v) { return GgufValue{GgufValueType::Bool, v}; }
GgufValue ggufString(std::string v) { return GgufValue{GgufValueType::String, std::move(v)}; }

GgufValue ggufArray(GgufValueType elementType, std::vector<GgufValue> values)
{
    auto array = std::make_shared<GgufArray>();
    array->elementType = elementType;
    array->values = std::move(values);
    return GgufValue{GgufValueType::Array, std::move(array)};
}

GgufValue ggufStringArray(const std::vector<std::string>& values)
{
    std::vector<GgufValue> out;
    out.reserve(values.size());
    for (const auto& s : values)
        out.push_back(ggufString(s));
    return ggufArray(GgufValueType::String, std::move(out));
}

GgufBuilder& GgufBuilder::setAlignment(std::uint64_t alignment)
{
    m_alignment = alignment;
    return *this;
}

GgufBuilder& GgufBuilder::add(std::string key, GgufValue value)
{
    m_metadata.push_back({std::move(key), std::move(value)});
    return *this;
}

GgufBuilder& GgufBuilder::addString(std::string key, std::string value)
{
    return add(std::move(key), ggufString(std::move(value)));
}

GgufBuilder& GgufBuilder::addUint32(std::string key, std::uint32_t value)
{
    return add(std::move(key), ggufUint(GgufValueType::Uint32, value));
}

GgufBuilder& GgufBuilder::addUint64(std::string key, std::uint64_t value)
{
    return add(std::move(key), ggufUint(GgufValueType::Uint64, value));
}

GgufBuilder& GgufBuilder::addInt32(std::string key, std::int32_t value)
{
    return add(std::move(key), ggufInt(GgufValueType::Int32, value));
}

GgufBuilder& GgufBuilder::addFloat32(std::string key, float value)
{
    return add(std::move(key), ggufFloat(GgufValueType::Float32, value));
}

GgufBuilder& GgufBuilder::addBool(std::string key, bool value) { return add(std::move(key), ggufBool(value)); }

GgufBuilder& GgufBuilder::addTensor(std::string name, std::vector<std::uint64_t> dims, std::uint32_t ggmlType,
                                    std::string data)
{
    m_tensors.push_back({std::move(name), std::move(dims), ggmlType, std::move(data)});
    return *this;
}

GgufBuilder& GgufBuilder::addFilledTensor(std::string name, std::vector<std::uint64_t> dims, std::uint32_t ggmlType,
                                          char fill)
{
    GgufTensorInfo info;
    info.dims = dims;
    // An unknown type or a partial block gets no data; serialize() then reports the mismatch.
    const std::uint64_t nBytes = ggmlTypeBytes(ggmlType, info.nElements()).value_or(0);
    return addTensor(std::move(name), std::move(dims), ggmlType, std::string(static_cast<std::size_t>(nBytes), fill));
}

Result<std::string> GgufBuilder::serialize() const
{
    return serializeGguf(m_version, m_metadata, m_tensors, m_alignment);
}

}  // namespace hearth
