// hearth-test-labels: model
// Safetensors: the writer matches Python's json+struct writer byte for byte, files round-trip,
// every kind of corrupt header is refused with a message naming the file and the tensor, and
// sharded indexes are validated (missing shards, unknown tensors, path traversal).
#include <QtTest>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/safetensors.h"

using namespace hearth;

namespace {

std::string readAll(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeAll(const std::string& path, std::string_view bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file from a literal header: 8-byte little-endian length, header, zeroed data.
QByteArray rawFile(std::string_view header, std::size_t nDataBytes, std::uint64_t lengthField)
{
    QByteArray out;
    for (int i = 0; i < 8; ++i)
        out.append(static_cast<char>((lengthField >> (8 * i)) & 0xFF));
    out.append(header.data(), static_cast<qsizetype>(header.size()));
    out.append(QByteArray(static_cast<qsizetype>(nDataBytes), '\0'));
    return out;
}

QByteArray rawFile(std::string_view header, std::size_t nDataBytes = 0)
{
    return rawFile(header, nDataBytes, header.size());
}

std::span<const std::uint8_t> asBytes(const QByteArray& b)
{
    return {reinterpret_cast<const std::uint8_t*>(b.constData()), static_cast<std::size_t>(b.size())};
}

std::span<const std::uint8_t> asBytes(const std::string& s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

QByteArray codeName(ErrorCode c) { return QByteArray(errorCodeName(c)); }

// Byte k of the i-th reference tensor, as tests/reference/make_safetensors_fixture.py makes it.
std::string referenceBytes(int index, std::size_t n)
{
    std::string out(n, '\0');
    for (std::size_t k = 0; k < n; ++k)
        out[k] = static_cast<char>((static_cast<std::size_t>(index) * 31 + k * 7 + 3) & 0xFF);
    return out;
}

struct ReferenceTensor {
    const char* name;
    DType dtype;
    std::vector<std::int64_t> shape;
};

// Must match TENSORS in tests/reference/make_safetensors_fixture.py.
const std::vector<ReferenceTensor> kReferenceTensors = {
    {"z.bias", DType::F64, {1}},
    {"model.norm.weight", DType::F32, {4}},
    {"model.embed_tokens.weight", DType::BF16, {3, 2}},
    {"scalar", DType::F16, {}},
    {"empty", DType::U8, {0, 5}},
    {"ints", DType::I32, {2, 2, 1}},
    {"q8", DType::I8, {5}},
    {"weird \"name\"\\\t\x7f\x01 \xc3\xa9 \xf0\x9f\x98\x80/\xe2\x80\xa8", DType::U8, {1}},
    {"bool", DType::Bool, {3}},
    {"i64", DType::I64, {2}},
};
const std::map<std::string, std::string> kReferenceMetadata = {{"format", "pt"},
                                                               {"source", "hearth \"fixture\" \xe2\x9c\x93"}};

std::size_t byteSize(DType dtype, const std::vector<std::int64_t>& shape)
{
    std::size_t n = dtypeSize(dtype);
    for (const std::int64_t d : shape)
        n *= static_cast<std::size_t>(d);
    return n;
}

std::string referencePath() { return std::string(HEARTH_FIXTURES_DIR) + "/safetensors/reference.safetensors"; }

const char* kValidTensor = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private slots:
    void writerMatchesPythonReference()
    {
        const std::string expected = readAll(referencePath());
        QVERIFY2(expected.size() > 8, "fixture missing: run tests/reference/make_safetensors_fixture.py");
        std::vector<std::string> data;
        std::vector<TensorToWrite> tensors;
        for (std::size_t i = 0; i < kReferenceTensors.size(); ++i)
            data.push_back(referenceBytes(static_cast<int>(i), byteSize(kReferenceTensors[i].dtype, kReferenceTensors[i].shape)));
        for (std::size_t i = 0; i < kReferenceTensors.size(); ++i)
            tensors.push_back({kReferenceTensors[i].name, kReferenceTensors[i].dtype, kReferenceTensors[i].shape,
                               asBytes(data[i])});
        const std::string got = serializeSafetensors(tensors, kReferenceMetadata);
        QCOMPARE(QByteArray::fromStdString(got), QByteArray::fromStdString(expected));
    }

    void readerAcceptsPythonReference()
    {
        const std::string file = readAll(referencePath());
        auto header = parseSafetensorsHeader(asBytes(file), file.size(), "reference.safetensors");
        QVERIFY2(header.isOk(), header.isOk() ? "" : header.error().message.c_str());
        QCOMPARE(header->metadata, kReferenceMetadata);
        QCOMPARE(header->tensors.size(), kReferenceTensors.size());
        const std::uint64_t headerLength = [&] {
            std::uint64_t n = 0;
            for (int i = 7; i >= 0; --i)
                n = (n << 8) | static_cast<unsigned char>(file[static_cast<std::size_t>(i)]);
            return n;
        }();
        QCOMPARE(header->dataStart, 8 + headerLength);
        // Python wrote the tensors back to back in list order, so offsets are running sums.
        std::uint64_t offset = header->dataStart;
        for (std::size_t i = 0; i < kReferenceTensors.size(); ++i) {
            const ReferenceTensor& ref = kReferenceTensors[i];
            const auto it = std::find_if(header->tensors.begin(), header->tensors.end(),
                                         [&](const TensorInfo& t) { return t.name == ref.name; });
            QVERIFY2(it != header->tensors.end(), ref.name);
            QCOMPARE(it->dtype, ref.dtype);
            QCOMPARE(it->shape, ref.shape);
            QCOMPARE(it->nBytes, byteSize(ref.dtype, ref.shape));
            QCOMPARE(it->fileOffset, offset);
            QCOMPARE(QByteArray::fromStdString(file.substr(it->fileOffset, it->nBytes)),
                     QByteArray::fromStdString(referenceBytes(static_cast<int>(i), it->nBytes)));
            offset += it->nBytes;
        }
        QCOMPARE(offset, file.size());
        for (std::size_t i = 1; i < header->tensors.size(); ++i)
            QVERIFY(header->tensors[i - 1].fileOffset <= header->tensors[i].fileOffset);
    }

    void roundTrip()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString() + "/round.safetensors";
        const std::vector<DType> dtypes = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::F8_E4M3,
                                           DType::F8_E5M2, DType::I64, DType::I32, DType::I16, DType::I8,
                                           DType::U64, DType::U32, DType::U16, DType::U8, DType::Bool};
        const std::vector<std::vector<std::int64_t>> shapes = {{}, {3}, {2, 5}, {2, 1, 3}, {0}, {4, 0, 2}};
        std::vector<std::string> names;
        std::vector<std::string> data;
        std::vector<TensorToWrite> tensors;
        for (const DType dtype : dtypes)
            for (const auto& shape : shapes) {
                names.push_back("t." + std::string(dtypeName(dtype)) + "." + std::to_string(names.size()));
                data.push_back(referenceBytes(static_cast<int>(names.size()), byteSize(dtype, shape)));
            }
        std::size_t k = 0;
        std::uint64_t totalBytes = 0;
        for (const DType dtype : dtypes)
            for (const auto& shape : shapes) {
                tensors.push_back({names[k], dtype, shape, asBytes(data[k])});
                totalBytes += data[k].size();
                ++k;
            }
        const Status written = writeSafetensors(path, tensors);
        QVERIFY2(written.isOk(), written.isOk() ? "" : written.message().c_str());

        const std::string raw = readAll(path);
        std::uint64_t headerLength = 0;
        for (int i = 7; i >= 0; --i)
            headerLength = (headerLength << 8) | static_cast<unsigned char>(raw[static_cast<std::size_t>(i)]);
        QCOMPARE(headerLength % 8, std::uint64_t{0});
        QCOMPARE(raw.size(), 8 + headerLength + totalBytes);

        auto model = SafetensorsModel::open(path);
        QVERIFY2(model.isOk(), model.isOk() ? "" : model.error().message.c_str());
        QCOMPARE(model->files(), std::vector<std::string>{path});
        QCOMPARE(model->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
        QCOMPARE(model->tensors().size(), tensors.size());
        QCOMPARE(model->totalTensorBytes(), totalBytes);
        QCOMPARE(model->totalFileBytes(), raw.size());
        for (std::size_t i = 1; i < model->tensors().size(); ++i)
            QVERIFY(model->tensors()[i - 1].name < model->tensors()[i].name);
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const TensorInfo* t = model->find(names[i]);
            QVERIFY2(t, names[i].c_str());
            QCOMPARE(t->dtype, tensors[i].dtype);
            QCOMPARE(t->shape, tensors[i].shape);
            QCOMPARE(t->nBytes, data[i].size());
            QCOMPARE(t->nElements(), static_cast<std::int64_t>(data[i].size() / dtypeSize(t->dtype)));
            QCOMPARE(t->fileIndex, 0);
            const auto bytes = model->data(*t);
            QCOMPARE(QByteArray(reinterpret_cast<const char*>(bytes.data()), static_cast<qsizetype>(bytes.size())),
                     QByteArray::fromStdString(data[i]));
            QCOMPARE(QByteArray::fromStdString(raw.substr(t->fileOffset, t->nBytes)), QByteArray::fromStdString(data[i]));
        }
        QVERIFY(model->find("absent") == nullptr);
        QVERIFY(model->find("") == nullptr);

        // The moved-from model behaves as an empty one rather than crashing.
        SafetensorsModel moved = std::move(*model);
        QCOMPARE(moved.tensors().size(), tensors.size());
        QVERIFY(model->tensors().empty());  // NOLINT(bugprone-use-after-move): checking the defined state
    }

    void emptyAndMetadataRoundTrip()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/empty.safetensors";
        const std::map<std::string, std::string> metadata = {{"a\n", "b\"\\"}, {"format", "pt"}};
        QVERIFY(writeSafetensors(path, {}, metadata).isOk());
        auto model = SafetensorsModel::open(path);
        QVERIFY2(model.isOk(), model.isOk() ? "" : model.error().message.c_str());
        QVERIFY(model->tensors().empty());
        QCOMPARE(model->metadata(), metadata);
        QCOMPARE(model->totalTensorBytes(), std::uint64_t{0});
        // No metadata at all: the header is just "{}" padded, as Python writes an empty dict.
        QCOMPARE(QByteArray::fromStdString(serializeSafetensors({}, {})), rawFile("{}      "));
    }

    void writerRefusesInvalidTensors_data()
    {
        QTest::addColumn<QByteArray>("name");
        QTest::addColumn<int>("nBytes");
        QTest::addColumn<int>("dim");
        QTest::newRow("size mismatch") << QByteArray("w") << 7 << 2;
        QTest::newRow("negative dim") << QByteArray("w") << 0 << -2;
        QTest::newRow("reserved name") << QByteArray("__metadata__") << 8 << 2;
        QTest::newRow("duplicate name") << QByteArray("dup") << 8 << 2;
    }

    void writerRefusesInvalidTensors()
    {
        QFETCH(QByteArray, name);
        QFETCH(int, nBytes);
        QFETCH(int, dim);
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/bad.safetensors";
        const std::string bytes(static_cast<std::size_t>(nBytes), 'x');
        const std::string good(8, 'y');
        std::vector<TensorToWrite> tensors = {{"dup", DType::F32, {2}, asBytes(good)},
                                              {name.toStdString(), DType::F32, {dim}, asBytes(bytes)}};
        const Status s = writeSafetensors(path, tensors);
        QVERIFY(!s.isOk());
        QCOMPARE(codeName(s.error().code), codeName(ErrorCode::InvalidArgument));
        QVERIFY2(s.message().find(name.toStdString()) != std::string::npos, s.message().c_str());
        QVERIFY(!std::filesystem::exists(path));
    }

    void corruptHeaders_data()
    {
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<QByteArray>("tensor");    // must appear quoted in the message; empty: none
        QTest::addColumn<QByteArray>("fragment");  // shows which check refused it

        const std::string valid = kValidTensor;
        const auto tensorHeader = [](const char* body) { return "{\"a\":{" + std::string(body) + "}}"; };
        QTest::newRow("empty file") << QByteArray() << QByteArray() << QByteArray("too short");
        QTest::newRow("shorter than length") << QByteArray("\x05\x00\x00", 3) << QByteArray() << QByteArray("too short");
        QTest::newRow("header length 0") << rawFile("", 16, 0) << QByteArray() << QByteArray("header length is 0");
        QTest::newRow("header length huge") << rawFile("{}", 0, 200ull << 20) << QByteArray() << QByteArray("100 MiB");
        QTest::newRow("header length past eof") << rawFile("{}      ", 0, 100) << QByteArray() << QByteArray("past the end");
        QTest::newRow("header length 2^64-1") << rawFile("{}", 0, ~0ull) << QByteArray() << QByteArray("100 MiB");
        QTest::newRow("not json") << rawFile("{nope") << QByteArray() << QByteArray("not valid JSON");
        QTest::newRow("trailing garbage") << rawFile("{} x") << QByteArray() << QByteArray("not valid JSON");
        QTest::newRow("json array") << rawFile("[1,2]") << QByteArray() << QByteArray("JSON array");
        QTest::newRow("json string") << rawFile("\"x\"") << QByteArray() << QByteArray("JSON string");
        QTest::newRow("invalid utf8 in name") << rawFile("{\"\xff\":{}}") << QByteArray() << QByteArray("not valid JSON");
        QTest::newRow("tensor not object") << rawFile(R"({"a":[1]})") << QByteArray("a") << QByteArray("expected an object");
        QTest::newRow("missing dtype") << rawFile(tensorHeader(R"("shape":[2],"data_offsets":[0,8])"), 8)
                                       << QByteArray("a") << QByteArray("missing \"dtype\"");
        QTest::newRow("bad dtype") << rawFile(tensorHeader(R"("dtype":"F12","shape":[2],"data_offsets":[0,8])"), 8)
                                   << QByteArray("a") << QByteArray("unknown dtype \"F12\"");
        QTest::newRow("dtype not string") << rawFile(tensorHeader(R"("dtype":4,"shape":[2],"data_offsets":[0,8])"), 8)
                                          << QByteArray("a") << QByteArray("\"dtype\" is 4");
        QTest::newRow("negative shape") << rawFile(tensorHeader(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])"), 8)
                                        << QByteArray("a") << QByteArray("negative dimension -2");
        QTest::newRow("non-integer shape") << rawFile(tensorHeader(R"("dtype":"F32","shape":[1.5],"data_offsets":[0,8])"), 8)
                                           << QByteArray("a") << QByteArray("not a non-negative integer");
        QTest::newRow("shape not array") << rawFile(tensorHeader(R"("dtype":"F32","shape":2,"data_offsets":[0,8])"), 8)
                                         << QByteArray("a") << QByteArray("expected an array");
        QTest::newRow("missing shape") << rawFile(tensorHeader(R"("dtype":"F32","data_offsets":[0,8])"), 8)
                                       << QByteArray("a") << QByteArray("missing \"shape\"");
        QTest::newRow("rank 9") << rawFile(tensorHeader(R"("dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4])"), 4)
                                << QByteArray("a") << QByteArray("rank 9");
        QTest::newRow("element count overflow")
            << rawFile(tensorHeader(R"("dtype":"U8","shape":[4294967296,4294967296,4],"data_offsets":[0,8])"), 8)
            << QByteArray("a") << QByteArray("64 bits");
        QTest::newRow("byte count overflow")
            << rawFile(tensorHeader(R"("dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8])"), 8)
            << QByteArray("a") << QByteArray("64 bits");
        QTest::newRow("offsets reversed") << rawFile(tensorHeader(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])"), 8)
                                          << QByteArray("a") << QByteArray("end before they begin");
        QTest::newRow("offsets past end") << rawFile(tensorHeader(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"), 8)
                                          << QByteArray("a") << QByteArray("data_offsets end 16 is past the data section (8 bytes)");
        QTest::newRow("offsets not a pair") << rawFile(tensorHeader(R"("dtype":"F32","shape":[2],"data_offsets":[0])"), 8)
                                            << QByteArray("a") << QByteArray("expected [begin, end]");
        QTest::newRow("offsets negative") << rawFile(tensorHeader(R"("dtype":"F32","shape":[2],"data_offsets":[-1,7])"), 8)
                                          << QByteArray("a") << QByteArray("expected [begin, end]");
        QTest::newRow("no offsets") << rawFile(tensorHeader(R"("dtype":"F32","shape":[2])"), 8)
                                    << QByteArray("a") << QByteArray("missing \"data_offsets\"");
        QTest::newRow("size mismatch vs shape") << rawFile(tensorHeader(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"), 8)
                                                << QByteArray("a") << QByteArray("span 8 bytes but shape [3] of F32 needs 12");
        QTest::newRow("overlapping tensors")
            << rawFile("{" + valid + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)
            << QByteArray("b") << QByteArray("overlap those of tensor 'a'");
        QTest::newRow("duplicate tensor") << rawFile("{" + valid + "," + valid + "}", 8) << QByteArray("a")
                                          << QByteArray("duplicate key");
        QTest::newRow("duplicate field")
            << rawFile(tensorHeader(R"("dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8])"), 8)
            << QByteArray("a") << QByteArray("duplicate key 'dtype'");
        QTest::newRow("metadata not object") << rawFile(R"({"__metadata__":["pt"]})") << QByteArray()
                                             << QByteArray("\"__metadata__\" is an array");
        QTest::newRow("metadata value not string") << rawFile(R"({"__metadata__":{"format":1}})") << QByteArray()
                                                   << QByteArray("'format' is a number");

        // Truncations of the Python-written reference: inside the data, and inside the header.
        const std::string reference = readAll(referencePath());
        QTest::newRow("truncated data") << QByteArray::fromStdString(reference.substr(0, reference.size() - 10))
                                        << QByteArray("i64") << QByteArray("past the data section");
        QTest::newRow("truncated header") << QByteArray::fromStdString(reference.substr(0, 100)) << QByteArray()
                                          << QByteArray("past the end of the file");
    }

    void corruptHeaders()
    {
        QFETCH(QByteArray, file);
        QFETCH(QByteArray, tensor);
        QFETCH(QByteArray, fragment);
        const auto checkMessage = [&](const Error& e, const std::string& fileName) {
            QCOMPARE(codeName(e.code), codeName(ErrorCode::Corrupt));
            QVERIFY2(e.message.rfind(fileName + ": ", 0) == 0, e.message.c_str());
            if (!tensor.isEmpty())
                QVERIFY2(e.message.find("'" + tensor.toStdString() + "'") != std::string::npos, e.message.c_str());
            QVERIFY2(e.message.find(fragment.toStdString()) != std::string::npos, e.message.c_str());
        };

        auto parsed = parseSafetensorsHeader(asBytes(file), static_cast<std::uint64_t>(file.size()), "bad.safetensors");
        QVERIFY(!parsed.isOk());
        checkMessage(parsed.error(), "bad.safetensors");

        // The same bytes from disk, through the mapped-file path.
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/bad.safetensors";
        writeAll(path, std::string_view(file.constData(), static_cast<std::size_t>(file.size())));
        auto model = SafetensorsModel::open(path);
        QVERIFY(!model.isOk());
        checkMessage(model.error(), path);
    }

    void partialReadOfHeader()
    {
        // A caller may hand over only the header bytes; data bounds still come from fileSize.
        const QByteArray file = rawFile(std::string("{") + kValidTensor + "}", 8);
        const QByteArray head = file.left(file.size() - 8);
        auto ok = parseSafetensorsHeader(asBytes(head), static_cast<std::uint64_t>(file.size()), "x.safetensors");
        QVERIFY2(ok.isOk(), ok.isOk() ? "" : ok.error().message.c_str());
        QCOMPARE(ok->tensors.size(), std::size_t{1});
        QCOMPARE(ok->tensors[0].fileOffset, ok->dataStart);

        auto shortRead = parseSafetensorsHeader(asBytes(head.left(20)), static_cast<std::uint64_t>(file.size()), "x.safetensors");
        QVERIFY(!shortRead.isOk());
        QVERIFY2(shortRead.error().message.find("bytes read") != std::string::npos, shortRead.error().message.c_str());
    }

    void zeroSizeTensorsMayShareOffsets()
    {
        const QByteArray file =
            rawFile(std::string("{") + kValidTensor + R"(,"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})", 8);
        auto parsed = parseSafetensorsHeader(asBytes(file), static_cast<std::uint64_t>(file.size()), "z.safetensors");
        QVERIFY2(parsed.isOk(), parsed.isOk() ? "" : parsed.error().message.c_str());
        QCOMPARE(parsed->tensors.size(), std::size_t{2});
    }

    void shardedIndex_data()
    {
        QTest::addColumn<QByteArray>("index");
        QTest::addColumn<QByteArray>("code");       // empty: must open
        QTest::addColumn<QByteArray>("fragments");  // '|'-separated, each must be in the message

        // Plain string literals here: moc misreads raw strings with unbalanced quotes. The lambdas
        // return QByteArray, not a QStringBuilder that would refer to their dead arguments.
        const QByteArray s1 = "model-00001-of-00002.safetensors";
        const QByteArray s2 = "model-00002-of-00002.safetensors";
        const auto entry = [](const QByteArray& tensor, const QByteArray& shard) -> QByteArray {
            return "\"" + tensor + "\":\"" + shard + "\"";
        };
        const auto index = [](const QByteArray& weightMap) -> QByteArray {
            return "{\"metadata\":{\"total_size\":40},\"weight_map\":{" + weightMap + "}}";
        };
        const QByteArray validMap = entry("a", s1) + "," + entry("b", s1) + "," + entry("c", s2);
        const QByteArray corrupt = codeName(ErrorCode::Corrupt);
        QTest::newRow("valid") << index(validMap) << QByteArray() << QByteArray();
        QTest::newRow("missing shard") << index(validMap + "," + entry("d", "model-00003-of-00003.safetensors"))
                                       << codeName(ErrorCode::NotFound)
                                       << QByteArray("model.safetensors.index.json|model-00003-of-00003.safetensors|'d'");
        QTest::newRow("tensor missing from its shard") << index(validMap + "," + entry("d", s1)) << corrupt
                                                       << QByteArray("model.safetensors.index.json|'d'|" + s1);
        QTest::newRow("tensor mapped to the wrong shard")
            << index(entry("a", s2) + "," + entry("b", s1) + "," + entry("c", s2)) << corrupt
            << QByteArray("'a'|" + s2);
        QTest::newRow("path traversal") << index(validMap + "," + entry("x", "../" + s1)) << corrupt
                                        << QByteArray("'x'|../" + s1 + "|not a plain file name");
        QTest::newRow("absolute path") << index(validMap + "," + entry("x", "/etc/passwd")) << corrupt
                                       << QByteArray("'x'|/etc/passwd");
        QTest::newRow("shard not a string") << index(validMap + ",\"x\":7") << corrupt << QByteArray("'x'");
        QTest::newRow("malformed json") << QByteArray("{\"weight_map\":{\"a\":") << corrupt
                                        << QByteArray("model.safetensors.index.json|not valid JSON");
        QTest::newRow("duplicate key") << index(validMap + "," + entry("a", s1)) << corrupt
                                       << QByteArray("duplicate key 'a'");
        QTest::newRow("no weight_map") << QByteArray("{\"metadata\":{}}") << corrupt << QByteArray("weight_map");
        QTest::newRow("empty weight_map") << index("") << corrupt << QByteArray("weight_map");
        QTest::newRow("index is an array") << QByteArray("[]") << corrupt << QByteArray("JSON array");
    }

    void shardedIndex()
    {
        QFETCH(QByteArray, index);
        QFETCH(QByteArray, code);
        QFETCH(QByteArray, fragments);
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        const std::string a(8, 'a'), b(4, 'b'), c(8, 'c');
        QVERIFY(writeSafetensors(folder + "/model-00001-of-00002.safetensors",
                                 {{"a", DType::F32, {2}, asBytes(a)}, {"b", DType::BF16, {2}, asBytes(b)}})
                    .isOk());
        QVERIFY(writeSafetensors(folder + "/model-00002-of-00002.safetensors", {{"c", DType::I8, {2, 4}, asBytes(c)}},
                                 {{"shard", "2"}})
                    .isOk());
        const std::string indexPath = folder + "/model.safetensors.index.json";
        writeAll(indexPath, index.toStdString());

        for (const std::string& openPath : {indexPath, folder}) {
            auto model = SafetensorsModel::open(openPath);
            if (!code.isEmpty()) {
                QVERIFY(!model.isOk());
                QCOMPARE(codeName(model.error().code), code);
                for (const QByteArray& f : fragments.split('|'))
                    QVERIFY2(model.error().message.find(f.toStdString()) != std::string::npos,
                             model.error().message.c_str());
                continue;
            }
            QVERIFY2(model.isOk(), model.isOk() ? "" : model.error().message.c_str());
            QCOMPARE(model->files(), (std::vector<std::string>{folder + "/model-00001-of-00002.safetensors",
                                                               folder + "/model-00002-of-00002.safetensors"}));
            QCOMPARE(model->tensors().size(), std::size_t{3});
            QCOMPARE(model->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
            const TensorInfo* tc = model->find("c");
            QVERIFY(tc);
            QCOMPARE(tc->fileIndex, 1);
            QCOMPARE(tc->dtype, DType::I8);
            const auto bytes = model->data(*tc);
            QCOMPARE(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), c);
            QCOMPARE(model->find("a")->fileIndex, 0);
            QCOMPARE(model->totalTensorBytes(), std::uint64_t{20});
            QCOMPARE(model->totalFileBytes(),
                     std::filesystem::file_size(model->files()[0]) + std::filesystem::file_size(model->files()[1]));
        }
    }

    void tensorInTwoShards()
    {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        const std::string a(8, 'a');
        QVERIFY(writeSafetensors(folder + "/s1.safetensors", {{"a", DType::F32, {2}, asBytes(a)}}).isOk());
        QVERIFY(writeSafetensors(folder + "/s2.safetensors", {{"a", DType::F32, {2}, asBytes(a)}}).isOk());
        writeAll(folder + "/model.safetensors.index.json", R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
        auto model = SafetensorsModel::open(folder);
        QVERIFY(!model.isOk());
        QCOMPARE(codeName(model.error().code), codeName(ErrorCode::Corrupt));
        QVERIFY2(model.error().message.find("'a'") != std::string::npos, model.error().message.c_str());
        QVERIFY2(model.error().message.find("s2.safetensors") != std::string::npos, model.error().message.c_str());
    }

    void corruptShardNamesTheShard()
    {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        const QByteArray bad = rawFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
        writeAll(folder + "/s1.safetensors", bad.toStdString());
        writeAll(folder + "/model.safetensors.index.json", R"({"weight_map":{"a":"s1.safetensors"}})");
        auto model = SafetensorsModel::open(folder + "/model.safetensors.index.json");
        QVERIFY(!model.isOk());
        QCOMPARE(codeName(model.error().code), codeName(ErrorCode::Corrupt));
        QVERIFY2(model.error().message.rfind(folder + "/s1.safetensors: tensor 'a'", 0) == 0, model.error().message.c_str());
    }

    void folderResolution_data()
    {
        QTest::addColumn<QByteArray>("files");     // '|'-separated .safetensors files to create
        QTest::addColumn<QByteArray>("expected");  // file that opens, or the error code's name
        QTest::newRow("model.safetensors wins") << QByteArray("model.safetensors|other.safetensors")
                                                << QByteArray("model.safetensors");
        QTest::newRow("the only file") << QByteArray("adapter_model.safetensors|notes.txt")
                                       << QByteArray("adapter_model.safetensors");
        QTest::newRow("several files") << QByteArray("a.safetensors|b.safetensors")
                                       << codeName(ErrorCode::InvalidArgument);
        QTest::newRow("no file") << QByteArray("config.json") << codeName(ErrorCode::NotFound);
    }

    void folderResolution()
    {
        QFETCH(QByteArray, files);
        QFETCH(QByteArray, expected);
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        const std::string a(8, 'a');
        for (const QByteArray& f : files.split('|'))
            QVERIFY(writeSafetensors(folder + "/" + f.toStdString(), {{f.toStdString(), DType::F32, {2}, asBytes(a)}}).isOk());
        auto model = SafetensorsModel::open(folder);
        if (expected.endsWith(".safetensors")) {
            QVERIFY2(model.isOk(), model.isOk() ? "" : model.error().message.c_str());
            QCOMPARE(model->files(), std::vector<std::string>{folder + "/" + expected.toStdString()});
            QVERIFY(model->find(expected.toStdString()));
        } else {
            QVERIFY(!model.isOk());
            QCOMPARE(codeName(model.error().code), expected);
            QVERIFY2(model.error().message.rfind(folder, 0) == 0, model.error().message.c_str());
            if (files.contains(".safetensors"))
                for (const QByteArray& f : files.split('|'))
                    QVERIFY2(model.error().message.find(f.toStdString()) != std::string::npos, model.error().message.c_str());
        }
    }

    void missingPath()
    {
        auto model = SafetensorsModel::open("/nonexistent/hearth/model.safetensors");
        QVERIFY(!model.isOk());
        QCOMPARE(codeName(model.error().code), codeName(ErrorCode::NotFound));
        QVERIFY(model.error().message.find("/nonexistent/hearth/model.safetensors") != std::string::npos);
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
