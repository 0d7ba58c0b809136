// hearth-test-labels: load
// The load pipeline on generated safetensors files (one file and two shards; odd tensor sizes,
// tensors straddling chunk boundaries, 16-bit tensors at odd offsets) with tiny staging buffers
// and a slow fake reader: every tensor's bytes equal the file's, read here independently with
// std::ifstream and the header parsed with nlohmann::json; conversion while loading equals the
// element-wise conversion of those bytes (the conversion itself is checked in tst_load_convert);
// progress is monotonic and ends at the total; cancel (from the callback or another thread),
// read errors, truncated files and files changed while loading stop the load with a clear error
// and leave the sink holding nothing; O_DIRECT is used where allowed and falls back on tmpfs.
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "load/half_convert.h"
#include "load/host_sink.h"
#include "load/loader.h"
#include "model/safetensors.h"

using namespace hearth;

namespace {

struct GenTensor {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> bytes;
};

std::vector<GenTensor> makeTensors(const std::string& prefix, unsigned seed)
{
    std::mt19937 rng(seed);
    // U8 tensors of odd sizes put the 16-bit ones after them at odd offsets.
    const std::vector<std::pair<DType, std::vector<std::int64_t>>> specs = {
        {DType::U8, {1}},      {DType::BF16, {3, 1001}}, {DType::U8, {4097}}, {DType::F16, {2, 777}},
        {DType::U8, {13}},     {DType::F32, {5, 9}},     {DType::BF16, {1500}}, {DType::U8, {8191}},
        {DType::BF16, {7, 3}}, {DType::U8, {50001}},   {DType::BF16, {4099, 3}},
    };
    std::vector<GenTensor> out;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        GenTensor t{prefix + "t" + std::to_string(i), specs[i].first, specs[i].second, {}};
        std::size_t n = dtypeSize(t.dtype);
        for (std::int64_t d : t.shape)
            n *= static_cast<std::size_t>(d);
        t.bytes.resize(n);
        for (auto& b : t.bytes)
            b = static_cast<std::uint8_t>(rng());
        out.push_back(std::move(t));
    }
    return out;
}

bool writeFile(const std::string& path, const std::vector<GenTensor>& tensors)
{
    std::vector<TensorToWrite> w;
    for (const GenTensor& t : tensors)
        w.push_back(TensorToWrite{t.name, t.dtype, t.shape, t.bytes});
    return writeSafetensors(path, w).isOk();
}

// One model.safetensors, or two shards with an index.
bool writeModel(const std::string& dir, bool sharded)
{
    if (!sharded)
        return writeFile(dir + "/model.safetensors", makeTensors("a.", 1));
    const auto a = makeTensors("a.", 2);
    const auto b = makeTensors("b.", 3);
    if (!writeFile(dir + "/model-00001-of-00002.safetensors", a) || !writeFile(dir + "/model-00002-of-00002.safetensors", b))
        return false;
    nlohmann::json map;
    for (const auto& t : a)
        map[t.name] = "model-00001-of-00002.safetensors";
    for (const auto& t : b)
        map[t.name] = "model-00002-of-00002.safetensors";
    std::ofstream(dir + "/model.safetensors.index.json") << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", map}}.dump();
    return true;
}

struct FileTensor {
    std::string dtype;
    std::vector<std::uint8_t> bytes;
};

// Every tensor of every safetensors file in `dir`, read with ifstream from the offsets in its header.
std::map<std::string, FileTensor> readTensorsIndependently(const std::string& dir)
{
    std::map<std::string, FileTensor> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".safetensors")
            continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::uint64_t headerLen = 0;
        in.read(reinterpret_cast<char*>(&headerLen), 8);
        std::string header(headerLen, '\0');
        in.read(header.data(), static_cast<std::streamsize>(headerLen));
        const auto json = nlohmann::json::parse(header);
        for (const auto& [name, info] : json.items()) {
            if (name == "__metadata__")
                continue;
            const auto begin = info["data_offsets"][0].get<std::uint64_t>();
            const auto end = info["data_offsets"][1].get<std::uint64_t>();
            FileTensor t{info["dtype"].get<std::string>(), std::vector<std::uint8_t>(end - begin)};
            in.seekg(static_cast<std::streamoff>(8 + headerLen + begin));
            in.read(reinterpret_cast<char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
            out[name] = std::move(t);
        }
    }
    return out;
}

// A FileReader around the real one: slow, and able to fail, refuse a direct read, or run a hook
// (change the file) before a given read.
class FakeReader final : public FileReader {
public:
    std::chrono::microseconds delay{0};
    int failAtRead = -1;           // this read (0-based, over all files) fails with EIO
    bool refuseFirstDirectRead = false;
    int hookAtRead = -1;
    std::function<void()> hook;
    std::atomic<int> reads{0};
    std::atomic<bool> refused{false};

    Result<std::unique_ptr<WeightFile>> open(const std::string& path, bool wantDirect) override;

private:
    // Direct wherever the file system allows, even for the freshly written (cached) test files,
    // so the aligned head and tail reads run in every test.
    std::unique_ptr<FileReader> m_real = makePosixFileReader(PosixReaderOptions{2.0, false});
};

class FakeFile final : public WeightFile {
public:
    FakeFile(FakeReader& owner, std::unique_ptr<WeightFile> real) : m_owner(owner), m_real(std::move(real)) {}
    bool direct() const override { return m_real->direct(); }
    std::string mode() const override { return m_real->mode(); }
    Result<std::size_t> readAt(void* dst, std::size_t nBytes, std::uint64_t offset) override
    {
        const int index = m_owner.reads.fetch_add(1);
        if (index == m_owner.hookAtRead && m_owner.hook)
            m_owner.hook();
        std::this_thread::sleep_for(m_owner.delay);
        if (index == m_owner.failAtRead)
            return makeError(ErrorCode::Io, "fake: read failed: Input/output error");
        if (m_owner.refuseFirstDirectRead && m_real->direct() && !m_owner.refused.exchange(true))
            return makeError(ErrorCode::Unsupported, "fake: direct read refused: Invalid argument");
        return m_real->readAt(dst, nBytes, offset);
    }
    Status dropDirect(const std::string& why) override { return m_real->dropDirect(why); }
    Result<FileIdentity> identity() override { return m_real->identity(); }

private:
    FakeReader& m_owner;
    std::unique_ptr<WeightFile> m_real;
};

Result<std::unique_ptr<WeightFile>> FakeReader::open(const std::string& path, bool wantDirect)
{
    HEARTH_TRY_ASSIGN(std::unique_ptr<WeightFile> real, m_real->open(path, wantDirect));
    return std::unique_ptr<WeightFile>(std::make_unique<FakeFile>(*this, std::move(real)));
}

LoadPipelineOptions tinyOptions(FileReader* reader)
{
    LoadPipelineOptions o;
    o.nReaders = 3;
    o.nBuffers = 3;
    o.chunkBytes = 4096;
    o.reader = reader;
    return o;
}

std::string workTempRoot() { return std::string(HEARTH_BINARY_DIR) + "/test-tmp"; }

// Checks that every tensor of `set` equals the file's bytes (converted where the plan asked).
void compareWithFiles(const HostTensorSet& set, const std::string& dir)
{
    const auto files = readTensorsIndependently(dir);
    QCOMPARE(set.tensors().size(), files.size());
    for (const auto& [name, want] : files) {
        const HostTensor* got = set.find(name);
        QVERIFY2(got, name.c_str());
        QCOMPARE(got->nBytes, std::uint64_t(want.bytes.size()));
        QVERIFY2(reinterpret_cast<std::uintptr_t>(got->data) % 64 == 0, name.c_str());
        std::vector<std::uint8_t> expected = want.bytes;
        const bool toHalf = want.dtype == "BF16" && got->dtype == DType::F16;
        const bool toBf16 = want.dtype == "F16" && got->dtype == DType::BF16;
        for (std::size_t i = 0; (toHalf || toBf16) && i + 1 < expected.size(); i += 2) {
            const auto v = static_cast<std::uint16_t>(expected[i] | (expected[i + 1] << 8));
            const std::uint16_t c = toHalf ? bf16ToHalf(v) : halfToBf16(v);
            expected[i] = static_cast<std::uint8_t>(c & 0xff);
            expected[i + 1] = static_cast<std::uint8_t>(c >> 8);
        }
        QVERIFY2(std::memcmp(got->data, expected.data(), expected.size()) == 0, name.c_str());
    }
}

}  // namespace

class TestLoadPipeline : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { std::filesystem::create_directories(workTempRoot()); }

    void bytesArriveIntact_data()
    {
        QTest::addColumn<bool>("sharded");
        QTest::addColumn<int>("readers");
        QTest::addColumn<int>("buffers");
        QTest::addColumn<int>("chunk");
        QTest::addColumn<int>("target");  // 0 as stored, 1 F16, 2 BF16
        QTest::newRow("one file, 3 readers, 3 buffers, 4 KiB") << false << 3 << 3 << 4096 << 0;
        QTest::newRow("shards, 3 readers, 3 buffers, 4 KiB") << true << 3 << 3 << 4096 << 0;
        QTest::newRow("shards, 1 reader, 1 buffer, 4 KiB") << true << 1 << 1 << 4096 << 0;
        QTest::newRow("shards, 4 readers, 2 buffers, 8 KiB") << true << 4 << 2 << 8192 << 0;
        QTest::newRow("one file, chunk larger than the file") << false << 2 << 3 << (1 << 20) << 0;
        QTest::newRow("shards to F16") << true << 3 << 3 << 4096 << 1;
        QTest::newRow("shards to BF16") << true << 3 << 3 << 4096 << 2;
        QTest::newRow("one file to F16, 1 reader") << false << 1 << 2 << 4096 << 1;
    }

    void bytesArriveIntact()
    {
        QFETCH(bool, sharded);
        QFETCH(int, readers);
        QFETCH(int, buffers);
        QFETCH(int, chunk);
        QFETCH(int, target);
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), sharded));
        const std::optional<DType> half = target == 1 ? std::optional(DType::F16) : target == 2 ? std::optional(DType::BF16) : std::nullopt;
        auto plan = makeLoadPlan(dir.path().toStdString(), half);
        QVERIFY2(plan.isOk(), plan.isOk() ? "" : plan.error().toString().c_str());
        QCOMPARE(plan->files.size(), std::size_t(sharded ? 2 : 1));
        FakeReader reader;
        reader.delay = std::chrono::microseconds(200);
        LoadPipelineOptions o = tinyOptions(&reader);
        o.nReaders = readers;
        o.nBuffers = buffers;
        o.chunkBytes = static_cast<std::uint64_t>(chunk);
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, o);
        QVERIFY2(report.isOk(), report.isOk() ? "" : report.error().toString().c_str());
        QCOMPARE(report->bytesLoaded, plan->totalBytes);
        auto set = sink.takeTensors();
        QVERIFY(set);
        QCOMPARE(sink.liveBytes(), std::uint64_t(0));  // staging freed, tensors handed over
        compareWithFiles(*set, dir.path().toStdString());
    }

    void progressIsMonotonicAndEndsAtTotal()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), true));
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        FakeReader reader;
        reader.delay = std::chrono::microseconds(3000);  // ~30 chunks at 3 ms / 3 readers: several 50 ms windows
        LoadPipelineOptions o = tinyOptions(&reader);
        o.progressIntervalS = 0.01;
        std::vector<LoadProgress> seen;
        o.onProgress = [&](const LoadProgress& p) { seen.push_back(p); };
        o.stagesBefore = {LoadStageTime{kLoadStageOpening, 1.5, false}};
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, o);
        QVERIFY(report.isOk());
        QVERIFY2(seen.size() >= 3, std::to_string(seen.size()).c_str());
        const std::uint64_t total = plan->totalBytes;
        std::uint64_t last = 0;
        double lastElapsed = -1.0;
        for (const LoadProgress& p : seen) {
            QCOMPARE(p.stage, std::string(kLoadStageReading));
            QCOMPARE(p.bytesTotal, total);
            QVERIFY(p.bytesDone >= last);
            QVERIFY(p.bytesDone <= total);
            QVERIFY(p.elapsedS >= lastElapsed);
            QCOMPARE(p.files.size(), std::size_t(2));
            QCOMPARE(p.files[0].bytesDone + p.files[1].bytesDone, p.bytesDone);
            QCOMPARE(p.breakdown.size(), std::size_t(1));
            QVERIFY(p.rateBytesPerS >= 0.0 && p.etaS >= 0.0);
            last = p.bytesDone;
            lastElapsed = p.elapsedS;
        }
        QCOMPARE(seen.back().bytesDone, total);
        QCOMPARE(seen.back().files[0].bytesDone, seen.back().files[0].bytesTotal);
        QCOMPARE(seen.back().files[1].bytesDone, seen.back().files[1].bytesTotal);
        QCOMPARE(seen.back().file, std::string("model-00002-of-00002.safetensors"));
        QVERIFY(seen.back().rateBytesPerS > 0.0);
        QCOMPARE(report->lastProgress.bytesDone, total);
    }

    void cancelFromProgressCallback()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), true));
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        FakeReader reader;
        reader.delay = std::chrono::microseconds(1000);
        LoadPipelineOptions o = tinyOptions(&reader);
        o.progressEveryBytes = 1;  // every chunk
        std::atomic<bool> cancel{false};
        o.cancel = &cancel;
        std::uint64_t atCancel = 0;
        o.onProgress = [&](const LoadProgress& p) {
            if (!cancel && p.bytesDone > p.bytesTotal / 3) {
                atCancel = p.bytesDone;
                cancel = true;
            }
        };
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, o);
        QVERIFY(!report.isOk());
        QCOMPARE(report.error().code, ErrorCode::Cancelled);
        QVERIFY(atCancel > 0 && atCancel < plan->totalBytes);
        QCOMPARE(sink.liveBytes(), std::uint64_t(0));
        QVERIFY(sink.takeTensors() == nullptr);  // nothing loaded stays usable
        // The readers stopped: at most one more chunk per buffer was read after the cancel.
        QVERIFY2(reader.reads.load() < static_cast<int>(plan->totalBytes / 4096), std::to_string(reader.reads.load()).c_str());
    }

    void cancelFromAnotherThread()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), true));
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        FakeReader reader;
        reader.delay = std::chrono::milliseconds(5);
        LoadPipelineOptions o = tinyOptions(&reader);
        std::atomic<bool> cancel{false};
        o.cancel = &cancel;
        std::uint64_t lastDone = 0;
        o.onProgress = [&](const LoadProgress& p) { lastDone = p.bytesDone; };
        HostSink sink;
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
            cancel = true;
        });
        const auto start = std::chrono::steady_clock::now();
        auto report = runLoadPipeline(*plan, sink, o);
        const auto took = std::chrono::steady_clock::now() - start;
        canceller.join();
        QVERIFY(!report.isOk());
        QCOMPARE(report.error().code, ErrorCode::Cancelled);
        QVERIFY(lastDone < plan->totalBytes);
        QCOMPARE(sink.liveBytes(), std::uint64_t(0));
        QVERIFY(took < std::chrono::seconds(2));
    }

    void readErrorStopsEverything()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), true));
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        FakeReader reader;
        reader.delay = std::chrono::microseconds(500);
        reader.failAtRead = 4;
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, tinyOptions(&reader));
        QVERIFY(!report.isOk());
        QCOMPARE(report.error().code, ErrorCode::Io);
        QVERIFY2(report.error().message.find("Input/output error") != std::string::npos, report.error().message.c_str());
        QCOMPARE(sink.liveBytes(), std::uint64_t(0));
        QVERIFY2(reader.reads.load() < 12, std::to_string(reader.reads.load()).c_str());
    }

    void truncatedFileIsNamed()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), true));
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        const std::string second = plan->files[1].path;
        const std::uint64_t cut = plan->files[1].identity.sizeBytes / 2;
        FakeReader reader;
        reader.hookAtRead = 1;
        reader.hook = [&] { QVERIFY(::truncate(second.c_str(), static_cast<off_t>(cut)) == 0); };
        LoadPipelineOptions o = tinyOptions(&reader);
        o.nReaders = 1;
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, o);
        QVERIFY(!report.isOk());
        QCOMPARE(report.error().code, ErrorCode::Corrupt);
        const std::string& m = report.error().message;
        QVERIFY2(m.rfind("model-00002-of-00002.safetensors is truncated: expected ", 0) == 0, m.c_str());
        QVERIFY2(m.find(" bytes at offset ") != std::string::npos && m.find(", got ") != std::string::npos, m.c_str());
        QCOMPARE(sink.liveBytes(), std::uint64_t(0));
    }

    void fileChangedWhileLoading()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), false));
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        const std::string path = plan->files[0].path;
        FakeReader reader;
        reader.hookAtRead = 2;
        reader.hook = [&] {
            // Rewritten in place (same inode, same size), as an editor or a download resuming would.
            std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(plan->files[0].readEnd - 1));
            f.put('\x5a');
            f.close();
            const auto t = std::filesystem::last_write_time(path);
            std::filesystem::last_write_time(path, t + std::chrono::seconds(5));
        };
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, tinyOptions(&reader));
        QVERIFY(!report.isOk());
        QCOMPARE(report.error().code, ErrorCode::Corrupt);
        QVERIFY2(report.error().message.find("model.safetensors changed while it was being loaded") != std::string::npos,
                 report.error().message.c_str());
        QCOMPARE(sink.liveBytes(), std::uint64_t(0));
    }

    void fileChangedBeforeOpen()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), false));
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        std::ofstream(plan->files[0].path, std::ios::app | std::ios::binary) << "x";
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, tinyOptions(nullptr));
        QVERIFY(!report.isOk());
        QVERIFY2(report.error().message.find("changed after its header was read (its size went from") != std::string::npos,
                 report.error().message.c_str());
        QCOMPARE(sink.liveBytes(), std::uint64_t(0));
    }

    void directFallsBackOnTmpfs()
    {
        if (!std::filesystem::is_directory("/dev/shm"))
            QSKIP("no /dev/shm (tmpfs) on this machine");
        QTemporaryDir dir(QStringLiteral("/dev/shm/hearth-load-XXXXXX"));
        QVERIFY(dir.isValid());
        QVERIFY(writeModel(dir.path().toStdString(), false));
        const std::string file = dir.path().toStdString() + "/model.safetensors";
        // tmpfs takes O_DIRECT since Linux 6.6; there the refusal is simulated at the same spot.
        const int fd = ::open(file.c_str(), O_RDONLY | O_DIRECT);
        PosixReaderOptions ro;
        ro.refuseDirectAtOpen = fd >= 0;
        if (fd >= 0)
            ::close(fd);
        qInfo("tmpfs %s O_DIRECT", fd >= 0 ? "accepts (refusal simulated)" : "refuses");
        const std::unique_ptr<FileReader> real = makePosixFileReader(ro);
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, tinyOptions(real.get()));
        QVERIFY2(report.isOk(), report.isOk() ? "" : report.error().toString().c_str());
        QCOMPARE(report->readMode, std::string("buffered"));
        QVERIFY2(report->fileModes[0].rfind("buffered (O_DIRECT refused at open", 0) == 0, report->fileModes[0].c_str());
        QCOMPARE(report->bytesFromDisk, report->bytesLoaded);  // buffered reads take no alignment slack
        auto set = sink.takeTensors();
        compareWithFiles(*set, dir.path().toStdString());
    }

    void cachedFilesAreReadBuffered()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), false));
        const std::string file = dir.path().toStdString() + "/model.safetensors";
        const int probe = ::open(file.c_str(), O_RDONLY | O_DIRECT);
        if (probe < 0)
            QSKIP("the build folder's file system refuses O_DIRECT");
        ::close(probe);
        const std::unique_ptr<FileReader> reader = makePosixFileReader();
        {
            auto cached = reader->open(file, true);  // just written: in the page cache
            QVERIFY(cached.isOk());
            QVERIFY2((*cached)->mode().find("% in the page cache)") != std::string::npos, (*cached)->mode().c_str());
            QVERIFY(!(*cached)->direct());
        }
        // Written back and dropped from the cache, the file is read directly.
        const int fd = ::open(file.c_str(), O_RDONLY);
        QVERIFY(fd >= 0);
        QCOMPARE(::fsync(fd), 0);
        QCOMPARE(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        ::close(fd);
        auto cold = reader->open(file, true);
        QVERIFY(cold.isOk());
        if ((*cold)->mode() != "direct")
            QSKIP(qPrintable(QString::fromStdString("the kernel kept the pages: " + (*cold)->mode())));
        QVERIFY((*cold)->direct());
    }

    void directReadsWhereAllowed_data()
    {
        QTest::addColumn<bool>("refuseFirstRead");
        QTest::newRow("direct") << false;
        QTest::newRow("refused at the first read") << true;
    }

    void directReadsWhereAllowed()
    {
        QFETCH(bool, refuseFirstRead);
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/pipe-XXXXXX"));
        QVERIFY(writeModel(dir.path().toStdString(), true));
        const std::string file = dir.path().toStdString() + "/model-00001-of-00002.safetensors";
        const int fd = ::open(file.c_str(), O_RDONLY | O_DIRECT);
        if (fd < 0)
            QSKIP("the build folder's file system refuses O_DIRECT");
        ::close(fd);
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(plan.isOk());
        FakeReader reader;
        reader.refuseFirstDirectRead = refuseFirstRead;
        LoadPipelineOptions o = tinyOptions(&reader);
        o.nReaders = refuseFirstRead ? 1 : 3;  // one reader: the refusal is the file's first read
        HostSink sink;
        auto report = runLoadPipeline(*plan, sink, o);
        QVERIFY2(report.isOk(), report.isOk() ? "" : report.error().toString().c_str());
        if (refuseFirstRead) {
            QVERIFY2(report->fileModes[0].rfind("buffered (O_DIRECT refused at read", 0) == 0, report->fileModes[0].c_str());
            QCOMPARE(report->fileModes[1], std::string("direct"));
            QCOMPARE(report->readMode, std::string("mixed"));
        } else {
            QCOMPARE(report->readMode, std::string("direct"));
            // Aligned reads take the unaligned head and tail with them.
            QVERIFY(report->bytesFromDisk > report->bytesLoaded);
        }
        auto set = sink.takeTensors();
        compareWithFiles(*set, dir.path().toStdString());
    }
};

QTEST_APPLESS_MAIN(TestLoadPipeline)
#include "tst_load_pipeline.moc"
