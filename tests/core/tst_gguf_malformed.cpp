// hearth-test-labels: model
// Hostile and broken GGUF headers: each must give a Corrupt or Unsupported error that names the
// file and the key or tensor, quickly and without a large allocation. The inputs are written
// byte by byte here (not with Hearth's writer, which refuses to produce them).
#include <QtTest>

#include "model/gguf.h"
#include "model/gguf_writer.h"

using namespace hearth;

namespace {

constexpr std::uint64_t kHuge = std::uint64_t{1} << 60;

// Little-endian byte assembly for hand-made headers.
struct Raw {
    std::string b;

    Raw& u8(std::uint8_t v) { b.push_back(static_cast<char>(v)); return *this; }
    Raw& u32(std::uint32_t v) { for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i))); return *this; }
    Raw& u64(std::uint64_t v) { for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i))); return *this; }
    Raw& str(std::string_view s) { u64(s.size()); b.append(s); return *this; }
    Raw& raw(std::string_view s) { b.append(s); return *this; }
    Raw& zeros(std::size_t n) { b.append(n, '\0'); return *this; }
    Raw& padTo(std::size_t a) { return zeros((a - b.size() % a) % a); }
    Raw& cut(std::size_t n) { b.resize(b.size() - n); return *this; }
    // A key with a u32 value (type 4).
    Raw& kvU32(std::string_view key, std::uint32_t v) { return str(key).u32(4).u32(v); }
    Raw& tensor(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset)
    {
        str(name).u32(static_cast<std::uint32_t>(dims.size()));
        for (auto d : dims)
            u64(d);
        return u32(type).u64(offset);
    }
};

Raw header(std::uint64_t nTensors, std::uint64_t nKv, std::uint32_t version = 3)
{
    Raw r;
    r.raw("GGUF").u32(version).u64(nTensors).u64(nKv);
    return r;
}

std::span<const std::uint8_t> asBytes(const std::string& s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

Q_DECLARE_METATYPE(ErrorCode)
Q_DECLARE_METATYPE(std::string)

class TestGgufMalformed : public QObject {
    Q_OBJECT

private slots:
    void malformed_data()
    {
        QTest::addColumn<std::string>("bytes");
        QTest::addColumn<ErrorCode>("code");
        QTest::addColumn<QString>("message");
        const auto row = [](const char* name, const Raw& r, ErrorCode code, const char* message) {
            QTest::newRow(name) << r.b << code << QString::fromUtf8(message);
        };
        const auto C = ErrorCode::Corrupt;
        const auto U = ErrorCode::Unsupported;
        Raw nest = header(0, 1);
        nest.str("bomb").u32(9);
        for (int i = 0; i < 100; ++i)
            nest.u32(9).u64(1);
        nest.zeros(64);

        row("empty file", Raw{}, C, "too small to be a GGUF file");
        row("bad magic", Raw{}.raw("GGML").u32(3).u64(0).u64(0), C, "not a GGUF file");
        row("version 1", header(0, 0, 1), U, "GGUF version 1 is not supported");
        row("version 99", header(0, 0, 99), U, "GGUF version 99 is not supported");
        row("version 0", header(0, 0, 0), U, "GGUF version 0 is not supported");
        row("big-endian", header(0, 0, 0x03000000u), U, "big-endian GGUF files are not supported");
        row("truncated version", Raw{}.raw("GGUF\x03"), C, "truncated while reading the version");
        row("truncated tensor count", Raw{}.raw("GGUF").u32(3).u32(0), C, "the tensor count");
        row("truncated kv count", Raw{}.raw("GGUF").u32(3).u64(0).u32(1), C, "the metadata count");
        row("truncated key", header(0, 1).u64(20).raw("abcde"), C, "the key of metadata entry 0");
        row("truncated value type", header(0, 1).str("abcde").u8(4).u8(0), C, "the value type of key 'abcde'");
        row("truncated value", header(0, 1).str("k").u32(10).raw("abc"), C, "the value of key 'k'");
        row("truncated array length", header(0, 1).str("k").u32(9).u32(4).u32(0), C, "the array length of key 'k'");
        row("truncated array element", header(0, 1).str("arr").u32(9).u32(8).u64(2).str("a").u64(10).raw("xy"), C,
            "the value of key 'arr'");
        row("truncated dims", header(1, 0).str("weight").u32(2).u64(32), C, "the dimensions of tensor 'weight'");
        row("truncated tensor type", header(1, 0).str("weight").u32(1).u64(32).u8(0).u8(0), C,
            "the type of tensor 'weight'");
        row("truncated offset", header(1, 0).str("weight").u32(1).u64(32).u32(0).u32(0), C,
            "the data offset of tensor 'weight'");
        row("huge kv count", header(0, kHuge).zeros(64), C, "claims 1152921504606846976 metadata entries");
        row("huge tensor count", header(kHuge, 0).zeros(64), C, "claims 1152921504606846976 tensors");
        row("huge tensor count after kvs", header(3, 1).kvU32("k", 1).zeros(60), C,
            "claims 3 tensors but only 60 bytes follow the metadata");
        row("huge key length", header(0, 1).u64(std::uint64_t{1} << 62).zeros(16), C, "the key of metadata entry 0");
        row("huge string length", header(0, 1).str("k").u32(8).u64(~std::uint64_t{0}).zeros(16), C,
            "the value of key 'k'");
        row("huge array count", header(0, 1).str("k").u32(9).u32(0).u64(kHuge).zeros(64), C,
            "key 'k' claims an array of 1152921504606846976 elements");
        row("huge string array", header(0, 1).str("toks").u32(9).u32(8).u64(std::uint64_t{1} << 40).zeros(64), C,
            "key 'toks' claims an array of 1099511627776 elements");
        row("nesting bomb", nest, C, "key 'bomb' nests arrays deeper than 8 levels");
        row("bad value type", header(0, 1).str("k").u32(13).u32(0), C, "key 'k' has unknown value type 13");
        row("bad value type max", header(0, 1).str("k").u32(0xffffffffu).u32(0), C, "unknown value type 4294967295");
        row("bad array element type", header(0, 1).str("k").u32(9).u32(42).u64(0), C,
            "key 'k' is an array of unknown value type 42");
        row("duplicate key", header(0, 2).kvU32("k", 1).kvU32("k", 2), C, "duplicate metadata key 'k'");
        row("n_dims 5", header(1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0), C, "tensor 'w' has 5 dimensions (at most 4)");
        row("dims product overflow", header(1, 0).tensor("w", {1ull << 32, 1ull << 32}, 0, 0), C,
            "tensor 'w' has dimensions whose element count overflows");
        row("dim above int64", header(1, 0).tensor("w", {1ull << 63}, 0, 0), C,
            "tensor 'w' has dimensions whose element count overflows");
        row("byte size overflow", header(1, 0).tensor("w", {1ull << 61, 2}, 28, 0), C,
            "tensor 'w' is too large: its byte size overflows");
        row("partial block", header(1, 0).tensor("w", {100, 2}, 12, 0).padTo(32).zeros(288), C,
            "tensor 'w' has rows of 100 elements, not a whole number of Q4_K blocks of 256");
        row("duplicate tensor", header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).padTo(32).zeros(64), C,
            "duplicate tensor 'w'");
        row("misaligned offset", header(1, 0).tensor("w", {4}, 0, 16).padTo(32).zeros(64), C,
            "tensor 'w' has data offset 16, not a multiple of the alignment 32");
        row("misaligned offset alignment 64", header(1, 1).kvU32("general.alignment", 64).tensor("w", {4}, 0, 32)
            .padTo(64).zeros(128), C, "not a multiple of the alignment 64");
        row("data past EOF", header(1, 0).tensor("w", {64}, 0, 0).padTo(32).zeros(32), C,
            "tensor 'w' (256 bytes at data offset 0) ends past the end of the file (the data section has 32 bytes)");
        row("offset past EOF", header(1, 0).tensor("w", {4}, 0, ~std::uint64_t{31}).padTo(32).zeros(32), C,
            "tensor 'w' (16 bytes at data offset 18446744073709551584) ends past the end of the file");
        row("data cut by truncation", header(1, 0).tensor("w", {4}, 0, 0).padTo(32), C, "ends past the end of the file");
        row("no data section", header(1, 0).tensor("new", {4}, 77, 0), C,
            "the file ends at 59 bytes, before its data section at 64");
        row("overlapping tensors", header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).padTo(32).zeros(96),
            C, "tensors 'a' and 'b' overlap in the data section");
        row("alignment 0", header(0, 1).kvU32("general.alignment", 0), C,
            "key 'general.alignment' is 0, which is not a non-zero power of two");
        row("alignment 48", header(0, 1).kvU32("general.alignment", 48), C,
            "key 'general.alignment' is 48, which is not a non-zero power of two");
        row("alignment string", header(0, 1).str("general.alignment").u32(8).str("32"), C,
            "key 'general.alignment' must be an unsigned integer");
        row("alignment negative", header(0, 1).str("general.alignment").u32(5).u32(0xffffffe0u), C,
            "key 'general.alignment' must be an unsigned integer");
        row("control bytes in names", header(0, 2).kvU32("a\nb", 1).kvU32("a\nb", 1), C,
            "duplicate metadata key 'a\\x0ab'");
    }

    void malformed()
    {
        QFETCH(std::string, bytes);
        QFETCH(ErrorCode, code);
        QFETCH(QString, message);
        const Result<GgufHeader> h = parseGgufHeader(asBytes(bytes), bytes.size(), "bad.gguf");
        QVERIFY(!h.isOk());
        const QString got = QString::fromStdString(h.error().message);
        QVERIFY2(h.error().code == code, qPrintable(got));
        QVERIFY2(got.startsWith(QStringLiteral("bad.gguf: ")), qPrintable(got));
        QVERIFY2(got.contains(message), qPrintable(got));
    }

    // Every prefix of a valid file that cuts into its header or its tensor data is Corrupt.
    void truncatedAtEveryByte()
    {
        GgufBuilder b(3);
        b.addString("general.architecture", "llama")
            .add("nested", ggufArray(GgufValueType::Array, {ggufStringArray({"x", "yz"})}))
            .add("f64", ggufFloat(GgufValueType::Float64, 1.5))
            .addFilledTensor("a", {32, 2}, 8, 1)
            .addFilledTensor("b", {3}, 0, 2);
        const Result<std::string> image = b.serialize();
        QVERIFY(image.isOk());
        const Result<GgufHeader> full = parseGgufHeader(asBytes(*image), image->size(), "full.gguf");
        QVERIFY(full.isOk());
        const std::uint64_t end = full->tensors.back().fileOffset + full->tensors.back().nBytes;
        for (std::size_t n = 0; n < end; ++n) {
            const std::string cut = image->substr(0, n);
            const Result<GgufHeader> h = parseGgufHeader(asBytes(cut), cut.size(), "cut.gguf");
            QVERIFY2(!h.isOk(), qPrintable(QStringLiteral("prefix of %1 bytes parsed").arg(n)));
            QVERIFY2(h.error().code == ErrorCode::Corrupt, h.error().message.c_str());
        }
        // The padding after the last tensor is not needed.
        const std::string exact = image->substr(0, end);
        QVERIFY(parseGgufHeader(asBytes(exact), exact.size(), "end.gguf").isOk());
    }

    void fileSizeBelowBytesIsCallerError()
    {
        const std::string h = header(0, 0).b;
        const Result<GgufHeader> r = parseGgufHeader(asBytes(h), 4, "x.gguf");
        QVERIFY(!r.isOk());
        QCOMPARE(r.error().code, ErrorCode::InvalidArgument);
    }

    // A newer quantization type is listed with nBytes 0: the header still reads, its offset is
    // still checked for alignment and bounds, but its size (and so overlap) cannot be.
    void unknownTensorTypeIsListed()
    {
        const std::string ok = header(2, 0).tensor("new", {64}, 77, 0).tensor("w", {4}, 0, 0).padTo(32).zeros(32).b;
        const Result<GgufHeader> h = parseGgufHeader(asBytes(ok), ok.size(), "new.gguf");
        QVERIFY2(h.isOk(), h.isOk() ? "" : h.error().message.c_str());
        QCOMPARE(h->tensors.size(), std::size_t{2});
        QCOMPARE(h->tensors[0].ggmlType, std::uint32_t{77});
        QCOMPARE(h->tensors[0].nBytes, std::uint64_t{0});
        QCOMPARE(h->tensors[0].nElements(), std::uint64_t{64});
        QCOMPARE(ggmlTypeName(77), std::string("type 77"));
        QCOMPARE(h->tensors[1].nBytes, std::uint64_t{16});

        const std::string misaligned = header(1, 0).tensor("new", {64}, 77, 8).padTo(32).zeros(32).b;
        QVERIFY(!parseGgufHeader(asBytes(misaligned), misaligned.size(), "new.gguf").isOk());
        const std::string past = header(1, 0).tensor("new", {64}, 77, 64).padTo(32).zeros(32).b;
        QVERIFY(!parseGgufHeader(asBytes(past), past.size(), "new.gguf").isOk());
    }

    void writerRefuses_data()
    {
        QTest::addColumn<int>("version");
        QTest::addColumn<int>("alignment");
        QTest::addColumn<std::string>("key");
        QTest::addColumn<int>("valueCase");
        QTest::addColumn<int>("tensorCase");
        QTest::newRow("version 1") << 1 << 32 << std::string("k") << 0 << 0;
        QTest::newRow("alignment 3") << 3 << 3 << std::string("k") << 0 << 0;
        QTest::newRow("alignment 0") << 3 << 0 << std::string("k") << 0 << 0;
        QTest::newRow("uint8 out of range") << 3 << 32 << std::string("k") << 1 << 0;
        QTest::newRow("type/content mismatch") << 3 << 32 << std::string("k") << 2 << 0;
        QTest::newRow("mixed array") << 3 << 32 << std::string("k") << 3 << 0;
        QTest::newRow("nested too deep") << 3 << 32 << std::string("k") << 4 << 0;
        QTest::newRow("alignment key differs") << 3 << 32 << std::string("general.alignment") << 5 << 0;
        QTest::newRow("duplicate key") << 3 << 32 << std::string("k") << 6 << 0;
        QTest::newRow("data size mismatch") << 3 << 32 << std::string("k") << 0 << 1;
        QTest::newRow("partial block") << 3 << 32 << std::string("k") << 0 << 2;
        QTest::newRow("5 dims") << 3 << 32 << std::string("k") << 0 << 3;
        QTest::newRow("duplicate tensor") << 3 << 32 << std::string("k") << 0 << 4;
    }

    void writerRefuses()
    {
        using T = GgufValueType;
        QFETCH(int, version);
        QFETCH(int, alignment);
        QFETCH(std::string, key);
        QFETCH(int, valueCase);
        QFETCH(int, tensorCase);
        std::vector<GgufKeyValue> kvs;
        GgufValue deep = ggufArray(T::Uint8, {});
        for (int i = 0; i < 9; ++i)
            deep = ggufArray(T::Array, {deep});
        const std::vector<GgufValue> values = {
            ggufUint(T::Uint32, 1), ggufUint(T::Uint8, 300), GgufValue{T::Uint8, std::string("x")},
            ggufArray(T::Int32, {ggufInt(T::Int32, 1), ggufUint(T::Uint32, 2)}), deep, ggufUint(T::Uint32, 64),
        };
        kvs.push_back({key, values[static_cast<std::size_t>(valueCase == 6 ? 0 : valueCase)]});
        if (valueCase == 6)
            kvs.push_back({key, values[0]});
        std::vector<GgufTensorToWrite> tensors = {{"w", {4}, 0, std::string(16, '\0')}};
        if (tensorCase == 1)
            tensors[0].data.resize(15);
        if (tensorCase == 2)
            tensors[0] = {"w", {100}, 12, std::string(144, '\0')};
        if (tensorCase == 3)
            tensors[0] = {"w", {1, 1, 1, 1, 4}, 0, std::string(16, '\0')};
        if (tensorCase == 4)
            tensors.push_back(tensors[0]);
        const Result<std::string> r = serializeGguf(static_cast<std::uint32_t>(version), kvs, tensors,
                                                    static_cast<std::uint64_t>(alignment));
        QVERIFY(!r.isOk());
        QCOMPARE(r.error().code, ErrorCode::InvalidArgument);
    }
};

QTEST_APPLESS_MAIN(TestGgufMalformed)
#include "tst_gguf_malformed.moc"
