// hearth-test-labels: model
// GGUF reader against independent references: files written by llama.cpp's own Python writer
// (tests/reference/make_gguf_fixture.py, expected values in JSON beside them), ggml's block table
// from the same package, and hand-computed sizes; plus round trips through Hearth's writer.
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "util/mapped_file.h"

using namespace hearth;
using nlohmann::json;

namespace {

std::string fixturePath(const std::string& name) { return std::string(HEARTH_FIXTURES_DIR) + "/gguf/" + name; }

json loadJson(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str(), nullptr, false);
}

std::span<const std::uint8_t> asBytes(const std::string& s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool isUnsigned(GgufValueType t)
{
    return t == GgufValueType::Uint8 || t == GgufValueType::Uint16 || t == GgufValueType::Uint32 ||
           t == GgufValueType::Uint64;
}

bool isSigned(GgufValueType t)
{
    return t == GgufValueType::Int8 || t == GgufValueType::Int16 || t == GgufValueType::Int32 ||
           t == GgufValueType::Int64;
}

// Compares a parsed value with the script's JSON node; `why` names the first difference.
bool matchesJson(const GgufValue& v, const json& node, const std::string& path, std::string& why)
{
    const auto fail = [&](const std::string& what) {
        why = path + ": " + what;
        return false;
    };
    if (static_cast<int>(v.type) != node.at("type").get<int>())
        return fail("type " + std::to_string(static_cast<int>(v.type)) + " != " + node.at("type").dump());
    if (v.type == GgufValueType::Array) {
        const GgufArray* a = v.asArray();
        if (!a || static_cast<int>(a->elementType) != node.at("elementType").get<int>())
            return fail("element type differs");
        const json& values = node.at("values");
        if (a->values.size() != values.size())
            return fail("array length " + std::to_string(a->values.size()) + " != " + std::to_string(values.size()));
        for (std::size_t i = 0; i < values.size(); ++i)
            if (!matchesJson(a->values[i], values[i], path + "[" + std::to_string(i) + "]", why))
                return false;
        return true;
    }
    const json& want = node.at("value");
    bool same = false;
    if (isUnsigned(v.type))
        same = std::holds_alternative<std::uint64_t>(v.v) && v.asUint() == want.get<std::uint64_t>();
    else if (isSigned(v.type))
        same = std::holds_alternative<std::int64_t>(v.v) && v.asInt() == want.get<std::int64_t>();
    else if (v.type == GgufValueType::Float32 || v.type == GgufValueType::Float64)
        same = v.asFloat() == want.get<double>();
    else if (v.type == GgufValueType::Bool)
        same = std::holds_alternative<bool>(v.v) && std::get<bool>(v.v) == want.get<bool>();
    else if (v.type == GgufValueType::String)
        same = v.asString() && *v.asString() == want.get<std::string>();
    return same ? true : fail("value differs from " + want.dump());
}

bool sameValue(const GgufValue& a, const GgufValue& b)
{
    if (a.type != b.type || a.v.index() != b.v.index())
        return false;
    const GgufArray* x = a.asArray();
    const GgufArray* y = b.asArray();
    if (!x || !y)
        return a.v == b.v;
    if (x->elementType != y->elementType || x->values.size() != y->values.size())
        return false;
    for (std::size_t i = 0; i < x->values.size(); ++i)
        if (!sameValue(x->values[i], y->values[i]))
            return false;
    return true;
}

// One key of every value type, arrays of strings and arrays nested three deep.
std::vector<GgufKeyValue> everyValueType()
{
    using T = GgufValueType;
    std::vector<GgufKeyValue> kvs = {
        {"u8", ggufUint(T::Uint8, 255)},
        {"i8", ggufInt(T::Int8, -128)},
        {"u16", ggufUint(T::Uint16, 65535)},
        {"i16", ggufInt(T::Int16, -32768)},
        {"u32", ggufUint(T::Uint32, 4294967295u)},
        {"i32", ggufInt(T::Int32, -2147483647 - 1)},
        {"f32", ggufFloat(T::Float32, -0.375)},
        {"bool", ggufBool(true)},
        {"str", ggufString(std::string("h\0llo \xe2\x9c\x93", 10))},
        {"u64", ggufUint(T::Uint64, ~std::uint64_t{0})},
        {"i64", ggufInt(T::Int64, std::numeric_limits<std::int64_t>::min())},
        {"f64", ggufFloat(T::Float64, 2.718281828459045)},
        {"strings", ggufStringArray({"a", "", "long string \xf0\x9f\x98\x80"})},
        {"empty", ggufArray(T::Float32, {})},
        {"bools", ggufArray(T::Bool, {ggufBool(false), ggufBool(true)})},
    };
    GgufValue inner = ggufArray(T::Int16, {ggufInt(T::Int16, -1), ggufInt(T::Int16, 7)});
    GgufValue middle = ggufArray(T::Array, {inner, ggufArray(T::Int16, {})});
    kvs.push_back({"nested", ggufArray(T::Array, {middle, middle})});
    return kvs;
}

}  // namespace

class TestGguf : public QObject {
    Q_OBJECT

private slots:
    void ggmlTypeTableMatchesGgml()
    {
        const json types = loadJson(fixturePath("ggml_types.json"));
        QVERIFY(!types.is_discarded());
        // Every id the task lists must be in ggml's table, so none is checked against nothing.
        for (int id : {0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                       27, 28, 29, 30, 34, 35, 39}) {
            bool found = false;
            for (const auto& t : types.at("ggmlTypes"))
                found = found || t.at("id").get<int>() == id;
            QVERIFY2(found, qPrintable(QStringLiteral("type %1 missing from ggml_types.json").arg(id)));
        }
        for (const auto& t : types.at("ggmlTypes")) {
            const auto id = t.at("id").get<std::uint32_t>();
            const auto block = t.at("blockElements").get<std::uint64_t>();
            const auto bytes = t.at("blockBytes").get<std::uint64_t>();
            QCOMPARE(ggmlTypeName(id), t.at("name").get<std::string>());
            QCOMPARE(ggmlTypeBlockElements(id), std::optional<std::uint32_t>(static_cast<std::uint32_t>(block)));
            QCOMPARE(ggmlTypeBytes(id, block * 3), std::optional<std::uint64_t>(bytes * 3));
            QCOMPARE(ggmlTypeBytes(id, 0), std::optional<std::uint64_t>(0));
            if (block > 1)
                QCOMPARE(ggmlTypeBytes(id, block + 1), std::optional<std::uint64_t>());
        }
        for (std::uint32_t unknown : {4u, 5u, 31u, 99u, 0xffffffffu}) {
            QCOMPARE(ggmlTypeName(unknown), "type " + std::to_string(unknown));
            QCOMPARE(ggmlTypeBytes(unknown, 32), std::optional<std::uint64_t>());
        }
        QCOMPARE(ggmlTypeBytes(0, std::uint64_t{1} << 62), std::optional<std::uint64_t>());  // overflows
    }

    void fileTypeNamesMatchLlama()
    {
        const json types = loadJson(fixturePath("ggml_types.json"));
        for (const auto& f : types.at("fileTypes")) {
            GgufHeader h;
            h.metadata.push_back({"general.file_type", ggufUint(GgufValueType::Uint32, f.at("id").get<std::uint64_t>())});
            QCOMPARE(h.quantizationName(), f.at("name").get<std::string>());
        }
        GgufHeader guessed;  // llama.cpp marks a guessed type with 1024
        guessed.metadata.push_back({"general.file_type", ggufUint(GgufValueType::Uint32, 1024 + 15)});
        QCOMPARE(guessed.quantizationName(), std::string("Q4_K_M"));
    }

    void referenceFixture_data()
    {
        QTest::addColumn<QString>("file");
        QTest::newRow("v3 llama, alignment 32") << QStringLiteral("tiny_llama.gguf");
        QTest::newRow("v2, alignment 64") << QStringLiteral("tiny_aligned64_v2.gguf");
    }

    void referenceFixture()
    {
        QFETCH(QString, file);
        const std::string path = fixturePath(file.toStdString());
        const json want = loadJson(path + ".json");
        QVERIFY(!want.is_discarded());
        const Result<GgufHeader> parsed = readGgufHeader(path);
        QVERIFY2(parsed.isOk(), parsed.isOk() ? "" : parsed.error().toString().c_str());
        const GgufHeader& h = *parsed;
        QCOMPARE(h.version, want.at("version").get<std::uint32_t>());
        QCOMPARE(h.alignment, want.at("alignment").get<std::uint64_t>());
        QCOMPARE(h.dataStart, want.at("dataStart").get<std::uint64_t>());
        QCOMPARE(h.architecture(), want.at("architecture").get<std::string>());
        QCOMPARE(h.contextLength(), std::optional<std::uint64_t>(want.at("contextLength").get<std::uint64_t>()));
        QCOMPARE(h.quantizationName(), want.at("quantizationName").get<std::string>());
        QCOMPARE(h.parameterCount(), want.at("parameterCount").get<std::uint64_t>());

        const json& kvs = want.at("metadata");
        QCOMPARE(h.metadata.size(), kvs.size());
        for (std::size_t i = 0; i < kvs.size(); ++i) {
            QCOMPARE(h.metadata[i].key, kvs[i].at("key").get<std::string>());
            std::string why;
            QVERIFY2(matchesJson(h.metadata[i].value, kvs[i], h.metadata[i].key, why), why.c_str());
        }

        const Result<MappedFile> file_ = MappedFile::open(path);
        QVERIFY(file_.isOk());
        QCOMPARE(file_->size(), want.at("fileSize").get<std::size_t>());
        const json& tensors = want.at("tensors");
        QCOMPARE(h.tensors.size(), tensors.size());
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const GgufTensorInfo& t = h.tensors[i];
            QCOMPARE(t.name, tensors[i].at("name").get<std::string>());
            QCOMPARE(t.dims, tensors[i].at("dims").get<std::vector<std::uint64_t>>());
            QCOMPARE(t.ggmlType, tensors[i].at("type").get<std::uint32_t>());
            QCOMPARE(t.fileOffset, tensors[i].at("fileOffset").get<std::uint64_t>());
            QCOMPARE(t.nBytes, tensors[i].at("nBytes").get<std::uint64_t>());
            std::string hex;
            for (std::uint64_t k = 0; k < t.nBytes; ++k) {
                static constexpr char kHex[] = "0123456789abcdef";
                const std::uint8_t b = file_->data()[t.fileOffset + k];
                hex += kHex[b >> 4];
                hex += kHex[b & 15];
            }
            QCOMPARE(hex, tensors[i].at("dataHex").get<std::string>());
            total += t.nBytes;
        }
        QCOMPARE(h.tensorBytes(), total);
    }

    void roundTrip_data()
    {
        QTest::addColumn<int>("version");
        QTest::addColumn<int>("alignment");
        QTest::newRow("v2") << 2 << 32;
        QTest::newRow("v3") << 3 << 32;
        QTest::newRow("v3 alignment 1") << 3 << 1;
        QTest::newRow("v2 alignment 128") << 2 << 128;
    }

    void roundTrip()
    {
        QFETCH(int, version);
        QFETCH(int, alignment);
        const std::vector<GgufKeyValue> kvs = everyValueType();
        std::vector<GgufTensorToWrite> tensors = {
            {"f32", {3, 2}, 0, std::string(24, '\x11')},
            {"q8", {32}, 8, std::string(34, '\x22')},
            {"empty", {0, 5}, 1, std::string()},
            {"scalar", {}, 0, std::string(4, '\x33')},
            {"newer quant", {7}, 200, std::string(5, '\x44')},  // unknown type: listed, size unknown
            {"bf16", {1, 1, 1, 3}, 30, std::string("\x01\x02\x03\x04\x05\x06", 6)},
        };
        const Result<std::string> image = serializeGguf(static_cast<std::uint32_t>(version), kvs, tensors,
                                                        static_cast<std::uint64_t>(alignment));
        QVERIFY2(image.isOk(), image.isOk() ? "" : image.error().toString().c_str());
        const Result<GgufHeader> parsed = parseGgufHeader(asBytes(*image), image->size(), "rt.gguf");
        QVERIFY2(parsed.isOk(), parsed.isOk() ? "" : parsed.error().toString().c_str());
        const GgufHeader& h = *parsed;
        QCOMPARE(h.version, static_cast<std::uint32_t>(version));
        QCOMPARE(h.alignment, static_cast<std::uint64_t>(alignment));
        QCOMPARE(h.dataStart % static_cast<std::uint64_t>(alignment), std::uint64_t{0});
        const std::size_t extra = alignment == 32 ? 0 : 1;  // the writer adds general.alignment
        QCOMPARE(h.metadata.size(), kvs.size() + extra);
        for (std::size_t i = 0; i < kvs.size(); ++i) {
            QCOMPARE(h.metadata[i].key, kvs[i].key);
            QVERIFY2(sameValue(h.metadata[i].value, kvs[i].value), kvs[i].key.c_str());
        }
        if (extra)
            QCOMPARE(h.find("general.alignment")->asUint(), std::optional<std::uint64_t>(alignment));
        QCOMPARE(h.tensors.size(), tensors.size());
        const std::vector<std::uint64_t> wantBytes = {24, 34, 0, 4, 0, 6};
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const GgufTensorInfo& t = h.tensors[i];
            QCOMPARE(t.name, tensors[i].name);
            QCOMPARE(t.dims, tensors[i].dims);
            QCOMPARE(t.ggmlType, tensors[i].ggmlType);
            QCOMPARE(t.nBytes, wantBytes[i]);
            QCOMPARE(t.fileOffset % static_cast<std::uint64_t>(alignment), std::uint64_t{0});
            QVERIFY(t.fileOffset >= h.dataStart);
            QCOMPARE(image->substr(t.fileOffset, tensors[i].data.size()), tensors[i].data);
        }
        QCOMPARE(h.tensors[4].nElements(), std::uint64_t{7});
        QCOMPARE(h.tensors[3].nElements(), std::uint64_t{1});
        QCOMPARE(h.tensors[2].nElements(), std::uint64_t{0});
    }

    void llamaLikeHeader()
    {
        std::vector<std::string> tokens;
        for (int i = 0; i < 32000; ++i)
            tokens.push_back("tok" + std::to_string(i));
        GgufBuilder b(3);
        b.addString("general.architecture", "llama")
            .addUint32("llama.context_length", 8192)
            .addUint32("general.file_type", 15)
            .add("tokenizer.ggml.tokens", ggufStringArray(tokens))
            .addFilledTensor("output_norm.weight", {4096}, 0)
            .addFilledTensor("blk.0.attn_k.weight", {64, 32}, 1)
            .addFilledTensor("blk.0.attn_q.weight", {64, 4}, 8)
            .addFilledTensor("token_embd.weight", {256, 3}, 12);
        const Result<std::string> image = b.serialize();
        QVERIFY(image.isOk());
        const Result<GgufHeader> h = parseGgufHeader(asBytes(*image), image->size(), "llama.gguf");
        QVERIFY2(h.isOk(), h.isOk() ? "" : h.error().toString().c_str());
        QCOMPARE(h->architecture(), std::string("llama"));
        QCOMPARE(h->contextLength(), std::optional<std::uint64_t>(8192));
        QCOMPARE(h->quantizationName(), std::string("Q4_K_M"));
        QCOMPARE(h->parameterCount(), std::uint64_t{4096 + 64 * 32 + 64 * 4 + 256 * 3});
        // F32 4 B/elem; F16 2 B/elem; Q8_0 34 B per 32; Q4_K 144 B per 256.
        const std::vector<std::uint64_t> sizes = {4096 * 4, 64 * 32 * 2, 8 * 34, 3 * 144};
        for (std::size_t i = 0; i < sizes.size(); ++i)
            QCOMPARE(h->tensors[i].nBytes, sizes[i]);
        QCOMPARE(h->tensorBytes(), std::uint64_t{16384 + 4096 + 272 + 432});
        const GgufArray* toks = h->find("tokenizer.ggml.tokens")->asArray();
        QVERIFY(toks);
        QCOMPARE(toks->values.size(), std::size_t{32000});
        QCOMPARE(*toks->values[31999].asString(), std::string("tok31999"));

        // Without general.file_type the type holding the most bytes names the file.
        GgufHeader noFileType = *h;
        noFileType.metadata.erase(noFileType.metadata.begin() + 2);
        QCOMPARE(noFileType.quantizationName(), std::string("F32"));
        noFileType.tensors.erase(noFileType.tensors.begin());
        QCOMPARE(noFileType.quantizationName(), std::string("F16"));
        QCOMPARE(GgufHeader().quantizationName(), std::string());
        QCOMPARE(GgufHeader().contextLength(), std::optional<std::uint64_t>());
    }

    void valueAccessors()
    {
        using T = GgufValueType;
        QCOMPARE(ggufInt(T::Int32, -1).asUint(), std::optional<std::uint64_t>());
        QCOMPARE(ggufInt(T::Int32, 5).asUint(), std::optional<std::uint64_t>(5));
        QCOMPARE(ggufUint(T::Uint64, ~std::uint64_t{0}).asInt(), std::optional<std::int64_t>());
        QCOMPARE(ggufUint(T::Uint8, 9).asInt(), std::optional<std::int64_t>(9));
        QCOMPARE(ggufUint(T::Uint8, 9).asFloat(), std::optional<double>(9.0));
        QCOMPARE(ggufString("x").asUint(), std::optional<std::uint64_t>());
        QVERIFY(!ggufBool(true).asString());
        QVERIFY(!ggufString("x").asArray());
    }

    void readMissingFile()
    {
        const Result<GgufHeader> h = readGgufHeader(std::string(HEARTH_BINARY_DIR) + "/no-such-file.gguf");
        QVERIFY(!h.isOk());
        QCOMPARE(h.error().code, ErrorCode::NotFound);
    }
};

QTEST_APPLESS_MAIN(TestGguf)
#include "tst_gguf.moc"
