// hearth-test-labels: model
// The library scan over a temporary tree of valid, broken and partial models (folders, GGUF
// files, split GGUF sets, a Hugging Face hub cache with symlinked snapshots), and the persisted
// index: reuse of unchanged entries, and noticing changed, added and removed files.
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "model/model_library.h"
#include "support/library_tree.h"
#include "util/mapped_file.h"

using namespace hearth;
using namespace hearth::test;
namespace fs = std::filesystem;

namespace {

#define CHECK_OK(expr)                                                                \
    do {                                                                              \
        const Status s_ = (expr);                                                     \
        QVERIFY2(s_.isOk(), s_.isOk() ? "" : s_.error().toString().c_str());          \
    } while (0)

void truncateFile(const std::string& path, std::uintmax_t dropBytes)
{
    const auto size = fs::file_size(path);
    fs::resize_file(path, size - dropBytes);
}

// Moves the files of `staging` into `repo`/blobs under made-up hashes and links them from
// `repo`/snapshots/`rev`, as huggingface_hub lays out its cache.
void linkIntoSnapshot(const fs::path& staging, const fs::path& repo, const std::string& rev)
{
    fs::create_directories(repo / "blobs");
    fs::create_directories(repo / "snapshots" / rev);
    for (const auto& f : fs::directory_iterator(staging)) {
        const std::string blob = rev + "-" + f.path().filename().string() + ".blob";
        fs::rename(f.path(), repo / "blobs" / blob);
        fs::create_symlink(fs::path("../../blobs") / blob, repo / "snapshots" / rev / f.path().filename());
    }
}

const ModelEntry* findByName(const std::vector<ModelEntry>& entries, const std::string& name)
{
    for (const auto& e : entries)
        if (e.displayName == name)
            return &e;
    return nullptr;
}

void bumpMtime(const std::string& path)
{
    fs::last_write_time(path, fs::last_write_time(path) + std::chrono::seconds(10));
}

}  // namespace

class TestModelLibrary : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    std::string m_lib;
    std::string m_hub;
    LibraryScan m_scan;

    std::string tmp(const std::string& rel) const { return m_tmp.path().toStdString() + "/" + rel; }

private slots:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_lib = tmp("lib");
        const std::string l = m_lib + "/";
        CHECK_OK(writeTinyFolderModel(l + "Tiny-Qwen"));
        CHECK_OK(writeTinyFolderModel(l + "org/Sharded", {.tokenizer = false, .nShards = 2}));
        CHECK_OK(writeTinyFolderModel(l + "Truncated"));
        truncateFile(l + "Truncated/model.safetensors", 100);
        CHECK_OK(writeTinyFolderModel(l + "Foo", {.architecture = "FooForCausalLM", .modelType = "foo"}));
        CHECK_OK(writeTinyFolderModel(l + "MissingShard", {.nShards = 2}));
        fs::remove(l + "MissingShard/model-00002-of-00002.safetensors");
        CHECK_OK(writeTinyFolderModel(l + "BadConfig"));
        CHECK_OK(writeTextFile(l + "BadConfig/config.json", "{\"architectures\": [\"Qwen2ForCausalLM\"], "));
        CHECK_OK(writeTinyGguf(l + "tiny.gguf"));
        CHECK_OK(writeTinyGguf(l + "other.gguf", {.architecture = "bert"}));
        CHECK_OK(writeTextFile(l + "garbage.gguf", std::string("GGUF\x03\0\0\0garbage", 15)));
        CHECK_OK(writeSplitGguf(l + "ggufs", "big", 2, {1, 2}));
        CHECK_OK(writeSplitGguf(l + "ggufs", "part", 3, {1, 2}));
        CHECK_OK(writeTinyFolderModel(l + "deep/a/b/Deep4"));
        CHECK_OK(writeTinyFolderModel(l + "deep/a/b/c/TooDeep"));
        CHECK_OK(writeTextFile(l + "NotAModel/config.json", "{}"));
        CHECK_OK(writeTextFile(l + "notes.txt", "not a model"));
        fs::create_directory_symlink(m_lib, l + "loop");          // a loop back to the root
        fs::create_directory_symlink(l + "Tiny-Qwen", l + "alias");  // the same model twice
        fs::create_directory_symlink(l + "cycle-b", l + "cycle-a");   // links that point at each other
        fs::create_directory_symlink(l + "cycle-a", l + "cycle-b");
        fs::create_symlink(l + "gone.gguf", l + "dangling.gguf");

        // Hugging Face hub cache under $HF_HOME/hub.
        qputenv("HF_HOME", tmp("hf").c_str());
        qunsetenv("HF_HUB_CACHE");
        m_hub = tmp("hf/hub");
        const fs::path hub(m_hub);
        CHECK_OK(writeTinyFolderModel(tmp("staging/a")));
        linkIntoSnapshot(tmp("staging/a"), hub / "models--Qwen--Tiny", "rev2");
        CHECK_OK(writeTextFile(tmp("staging/b/config.json"), "not json"));
        CHECK_OK(writeTinyGguf(tmp("staging/b/model.safetensors")));
        linkIntoSnapshot(tmp("staging/b"), hub / "models--Qwen--Tiny", "rev1");
        CHECK_OK(writeTextFile(m_hub + "/models--Qwen--Tiny/refs/main", "rev2\n"));
        // rev1 is the newer folder: only refs/main makes rev2 the choice.
        fs::last_write_time(hub / "models--Qwen--Tiny/snapshots/rev2",
                            fs::last_write_time(hub / "models--Qwen--Tiny/snapshots/rev1") - std::chrono::hours(1));

        CHECK_OK(writeTinyGguf(tmp("staging/c/Tiny-Q8_0.gguf")));
        linkIntoSnapshot(tmp("staging/c"), hub / "models--bartowski--Tiny-GGUF", "abc");

        // No refs/main: the newest snapshot wins.
        CHECK_OK(writeTextFile(tmp("staging/d/config.json"), "{broken"));
        CHECK_OK(writeTinyGguf(tmp("staging/d/model.safetensors")));
        linkIntoSnapshot(tmp("staging/d"), hub / "models--org--NoRef", "old");
        CHECK_OK(writeTinyFolderModel(tmp("staging/e")));
        linkIntoSnapshot(tmp("staging/e"), hub / "models--org--NoRef", "new");
        fs::last_write_time(hub / "models--org--NoRef/snapshots/old",
                            fs::last_write_time(hub / "models--org--NoRef/snapshots/new") - std::chrono::hours(1));

        LibraryScanOptions options;
        options.folders = {m_lib};
        options.includeHfCache = true;  // from HF_HOME
        m_scan = scanLibrary(options);
    }

    void findsEveryModelOnce()
    {
        std::vector<std::string> names;
        for (const auto& e : m_scan.entries)
            names.push_back(e.displayName);
        const std::vector<std::string> expected = {
            "BadConfig", "Foo", "MissingShard", "Qwen/Tiny", "Tiny-Qwen", "Truncated",
            "bartowski/Tiny-GGUF/Tiny-Q8_0", "deep/a/b/Deep4", "garbage", "ggufs/big", "ggufs/part",
            "org/NoRef", "org/Sharded", "other", "tiny"};
        QCOMPARE(names, expected);
        QCOMPARE(m_scan.stats.headerReads, int(expected.size()));
        QCOMPARE(m_scan.stats.reused, 0);
    }

    void entries_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("architecture");
        QTest::addColumn<quint64>("params");
        QTest::addColumn<qint64>("context");
        QTest::addColumn<bool>("tokenizer");
        QTest::addColumn<QString>("dtype");
        QTest::addColumn<QString>("pathEnd");
        QTest::addColumn<QString>("reason");  // substring of the error; "" for usable models

        const quint64 p = kTinyFolderParams;
        const qint64 c = kTinyFolderContext;
        const auto row = [](const char* name) -> QTestData& { return QTest::newRow(name) << QString::fromUtf8(name); };
        row("Tiny-Qwen") << true << u"safetensors"_qs << u"folder"_qs << u"Qwen2ForCausalLM"_qs << p << c << true
                         << u"BF16"_qs << u"lib/Tiny-Qwen"_qs << QString();
        row("org/Sharded") << true << u"safetensors"_qs << u"folder"_qs << u"Qwen2ForCausalLM"_qs << p << c << false
                           << u"BF16"_qs << u"lib/org/Sharded"_qs << QString();
        row("deep/a/b/Deep4") << true << u"safetensors"_qs << u"folder"_qs << u"Qwen2ForCausalLM"_qs << p << c
                              << true << u"BF16"_qs << u"Deep4"_qs << QString();
        row("Truncated") << false << u"safetensors"_qs << u"folder"_qs << u"Qwen2ForCausalLM"_qs << quint64(0) << c
                         << true << u"BF16"_qs << u"Truncated"_qs << u"model.safetensors"_qs;
        row("Foo") << false << u"safetensors"_qs << u"folder"_qs << u"FooForCausalLM"_qs << p << qint64(0) << true
                   << u"BF16"_qs << u"Foo"_qs << u"FooForCausalLM"_qs;
        row("MissingShard") << false << u"safetensors"_qs << u"folder"_qs << u"Qwen2ForCausalLM"_qs << quint64(0) << c
                            << true << u"BF16"_qs << u"MissingShard"_qs << u"missing shard model-00002-of-00002.safetensors"_qs;
        row("BadConfig") << false << u"safetensors"_qs << u"folder"_qs << QString() << p << qint64(0) << true
                         << u"BF16"_qs << u"BadConfig"_qs << u"config.json"_qs;
        row("tiny") << true << u"gguf"_qs << u"gguf-file"_qs << u"qwen2"_qs << quint64(kTinyGgufParams)
                    << qint64(kTinyGgufContext) << true << u"F16"_qs << u"lib/tiny.gguf"_qs << QString();
        row("ggufs/big") << true << u"gguf"_qs << u"gguf-file"_qs << u"llama"_qs << quint64(256 + 8) << qint64(2048)
                         << false << u"F16"_qs << u"big-00001-of-00002.gguf"_qs << QString();
        row("ggufs/part") << false << u"gguf"_qs << u"gguf-file"_qs << QString() << quint64(0) << qint64(0) << false
                          << QString() << u"part-00001-of-00003.gguf"_qs << u"missing shard 3 of 3: part-00003-of-00003.gguf"_qs;
        row("other") << false << u"gguf"_qs << u"gguf-file"_qs << u"bert"_qs << quint64(kTinyGgufParams)
                     << qint64(kTinyGgufContext) << true << u"F16"_qs << u"other.gguf"_qs << u"'bert' is not supported"_qs;
        row("garbage") << false << u"gguf"_qs << u"gguf-file"_qs << QString() << quint64(0) << qint64(0) << false
                       << QString() << u"garbage.gguf"_qs << u"garbage.gguf"_qs;
        row("Qwen/Tiny") << true << u"safetensors"_qs << u"hf-cache"_qs << u"Qwen2ForCausalLM"_qs << p << c << true
                         << u"BF16"_qs << u"models--Qwen--Tiny/snapshots/rev2"_qs << QString();
        row("bartowski/Tiny-GGUF/Tiny-Q8_0") << true << u"gguf"_qs << u"hf-cache"_qs << u"qwen2"_qs
                                             << quint64(kTinyGgufParams) << qint64(kTinyGgufContext) << true << u"F16"_qs
                                             << u"snapshots/abc/Tiny-Q8_0.gguf"_qs << QString();
        row("org/NoRef") << true << u"safetensors"_qs << u"hf-cache"_qs << u"Qwen2ForCausalLM"_qs << p << c << true
                         << u"BF16"_qs << u"models--org--NoRef/snapshots/new"_qs << QString();
    }

    void entries()
    {
        QFETCH(QString, name);
        QFETCH(bool, ok);
        QFETCH(QString, format);
        QFETCH(QString, source);
        QFETCH(QString, architecture);
        QFETCH(quint64, params);
        QFETCH(qint64, context);
        QFETCH(bool, tokenizer);
        QFETCH(QString, dtype);
        QFETCH(QString, pathEnd);
        QFETCH(QString, reason);

        const ModelEntry* e = findByName(m_scan.entries, name.toStdString());
        QVERIFY2(e, qPrintable(name));
        QCOMPARE(e->ok, ok);
        if (reason.isEmpty()) {
            QCOMPARE(QString::fromStdString(e->error), QString());
        } else {
            QVERIFY2(QString::fromStdString(e->error).contains(reason), e->error.c_str());
        }
        QCOMPARE(QString::fromStdString(e->format), format);
        QCOMPARE(QString::fromUtf8(modelSourceKindName(e->sourceKind)), source);
        QCOMPARE(QString::fromStdString(e->architecture), architecture);
        QVERIFY2(QString::fromStdString(e->path).endsWith(pathEnd), e->path.c_str());
        if (!ok && params == 0)
            return;  // nothing more is known about a model whose files do not parse
        QCOMPARE(quint64(e->parameterCount), params);
        QCOMPARE(qint64(e->contextLength), context);
        QCOMPARE(e->hasTokenizer, tokenizer);
        QCOMPARE(QString::fromStdString(e->dtype), dtype);
        QVERIFY(e->sizeOnDiskBytes > 0);
    }

    void sizesComeFromTheFiles()
    {
        const ModelEntry* e = findByName(m_scan.entries, "Tiny-Qwen");
        QVERIFY(e);
        std::uint64_t onDisk = 0;
        for (const auto& f : fs::directory_iterator(m_lib + "/Tiny-Qwen"))
            onDisk += fs::file_size(f.path());
        QCOMPARE(quint64(e->sizeOnDiskBytes), quint64(onDisk));
        QCOMPARE(quint64(e->weightBytes), quint64(kTinyFolderWeightBytes));
        QCOMPARE(e->files.size(), std::size_t(3));  // config.json, model.safetensors, tokenizer.json

        const ModelEntry* big = findByName(m_scan.entries, "ggufs/big");
        QVERIFY(big);
        QCOMPARE(big->files.size(), std::size_t(2));
        QCOMPARE(quint64(big->sizeOnDiskBytes), quint64(fs::file_size(m_lib + "/ggufs/big-00001-of-00002.gguf") +
                                                        fs::file_size(m_lib + "/ggufs/big-00002-of-00002.gguf")));
    }

    void estimateUsesTheShape()
    {
        const ModelEntry* e = findByName(m_scan.entries, "Tiny-Qwen");
        QVERIFY(e);
        const MemoryEstimate m = e->estimate();  // default context: min(128, 8192)
        QCOMPARE(m.contextLength, std::int64_t(128));
        QCOMPARE(quint64(m.kvBytesPerToken), quint64(kTinyFolderKvBytesPerToken));
        QCOMPARE(quint64(m.kvCacheBytes), quint64(kTinyFolderKvBytesPerToken * 128));
        const ModelEntry* g = findByName(m_scan.entries, "tiny");
        QVERIFY(g);
        // GGUF: 2 layers, 1 KV head, head dim 8 / 2 = 4: also 32 bytes per token.
        QCOMPARE(quint64(g->estimate(1000).kvCacheBytes), quint64(32 * 1000));
    }

    void readOneModel_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("entryPath");
        QTest::addColumn<quint64>("params");
        QTest::newRow("folder") << u"lib/Tiny-Qwen"_qs << u"lib/Tiny-Qwen"_qs << quint64(kTinyFolderParams);
        QTest::newRow("safetensors file") << u"lib/Tiny-Qwen/model.safetensors"_qs << u"lib/Tiny-Qwen"_qs
                                          << quint64(kTinyFolderParams);
        QTest::newRow("index") << u"lib/org/Sharded/model.safetensors.index.json"_qs << u"lib/org/Sharded"_qs
                               << quint64(kTinyFolderParams);
        QTest::newRow("gguf") << u"lib/tiny.gguf"_qs << u"lib/tiny.gguf"_qs << quint64(kTinyGgufParams);
        QTest::newRow("second shard") << u"lib/ggufs/big-00002-of-00002.gguf"_qs
                                      << u"lib/ggufs/big-00001-of-00002.gguf"_qs << quint64(264);
    }

    void readOneModel()
    {
        QFETCH(QString, path);
        QFETCH(QString, entryPath);
        QFETCH(quint64, params);
        auto e = readModelEntry(tmp(path.toStdString()));
        QVERIFY2(e.isOk(), e.isOk() ? "" : e.error().message.c_str());
        QVERIFY2(e->ok, e->error.c_str());
        QVERIFY2(QString::fromStdString(e->path).endsWith(entryPath), e->path.c_str());
        QCOMPARE(quint64(e->parameterCount), params);
    }

    void readOneModelRefusesNonModels()
    {
        auto missing = readModelEntry(tmp("lib/nothing-here"));
        QVERIFY(!missing.isOk());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        auto text = readModelEntry(tmp("lib/notes.txt"));
        QVERIFY(!text.isOk());
        QCOMPARE(text.error().code, ErrorCode::Unsupported);
        auto folder = readModelEntry(tmp("lib/ggufs"));
        QVERIFY(!folder.isOk());
        // A broken model is an entry with its reason, not an error.
        auto truncated = readModelEntry(tmp("lib/Truncated"));
        QVERIFY(truncated.isOk());
        QVERIFY(!truncated->ok);
    }

    void missingRootsAreQuiet()
    {
        LibraryScanOptions options;
        options.folders = {tmp("does-not-exist")};
        options.includeHfCache = false;
        const LibraryScan scan = scanLibrary(options);
        QVERIFY(scan.entries.empty());
    }

    void persistence()
    {
        const std::string root = tmp("persist/models");
        const std::string other = tmp("persist/other");
        const std::string index = tmp("persist/cache/library.json");
        CHECK_OK(writeTinyFolderModel(root + "/A"));
        CHECK_OK(writeTinyFolderModel(root + "/B", {.nShards = 2}));
        CHECK_OK(writeTinyGguf(root + "/c.gguf"));
        CHECK_OK(writeTinyGguf(other + "/d.gguf"));
        LibraryScanOptions options;
        options.folders = {root};
        options.includeHfCache = false;
        options.indexPath = index;

        LibraryScan s = scanLibrary(options);
        QCOMPARE(s.entries.size(), std::size_t(3));
        QCOMPARE(s.stats.headerReads, 3);
        QCOMPARE(s.stats.added, 3);
        QVERIFY(fs::exists(index));
        const auto indexJson = nlohmann::json::parse(*readTextFile(index), nullptr, false);
        QVERIFY(indexJson.is_object());
        QCOMPARE(indexJson["entries"].size(), std::size_t(3));

        // Unchanged: nothing is read again, and the entries are the same.
        LibraryScan again = scanLibrary(options);
        QCOMPARE(again.stats.headerReads, 0);
        QCOMPARE(again.stats.reused, 3);
        QCOMPARE(again.entries.size(), std::size_t(3));
        for (std::size_t i = 0; i < 3; ++i) {
            QCOMPARE(again.entries[i].path, s.entries[i].path);
            QCOMPARE(again.entries[i].parameterCount, s.entries[i].parameterCount);
            QCOMPARE(again.entries[i].dtype, s.entries[i].dtype);
            QCOMPARE(again.entries[i].shape.nLayers, s.entries[i].shape.nLayers);
            QCOMPARE(again.entries[i].files, s.entries[i].files);
        }

        // Touching a file is noticed.
        bumpMtime(root + "/A/config.json");
        s = scanLibrary(options);
        QCOMPARE(s.stats.headerReads, 1);
        QCOMPARE(s.stats.changed, 1);
        QCOMPARE(s.stats.reused, 2);

        // Replacing a file is noticed, and the new contents are read.
        CHECK_OK(writeTinyGguf(root + "/c.gguf", {.extraTensors = 2}));
        s = scanLibrary(options);
        QCOMPARE(s.stats.changed, 1);
        QCOMPARE(s.stats.headerReads, 1);
        QCOMPARE(quint64(findByName(s.entries, "c")->parameterCount), quint64(kTinyGgufParams + 16));

        // A shard going missing changes the folder's signature.
        fs::remove(root + "/B/model-00002-of-00002.safetensors");
        s = scanLibrary(options);
        QCOMPARE(s.stats.changed, 1);
        QVERIFY(!findByName(s.entries, "B")->ok);

        // Deleting is noticed.
        fs::remove_all(root + "/B");
        s = scanLibrary(options);
        QCOMPARE(s.stats.removed, 1);
        QCOMPARE(s.stats.headerReads, 0);
        QCOMPARE(s.entries.size(), std::size_t(2));

        // Adding is noticed.
        CHECK_OK(writeTinyGguf(root + "/e.gguf"));
        s = scanLibrary(options);
        QCOMPARE(s.stats.added, 1);
        QCOMPARE(s.stats.headerReads, 1);
        QCOMPARE(s.entries.size(), std::size_t(3));

        // Scanning another folder keeps this folder's entries in the index.
        LibraryScanOptions otherOptions = options;
        otherOptions.folders = {other};
        s = scanLibrary(otherOptions);
        QCOMPARE(s.stats.removed, 0);
        QCOMPARE(s.entries.size(), std::size_t(1));
        s = scanLibrary(options);
        QCOMPARE(s.stats.headerReads, 0);
        QCOMPARE(s.stats.reused, 3);
    }

    void corruptIndexIsRebuilt_data()
    {
        QTest::addColumn<QByteArray>("contents");
        QTest::addColumn<bool>("warns");
        QTest::newRow("garbage") << QByteArray("{not json at all") << true;
        QTest::newRow("binary") << QByteArray("\x00\xff\x12", 3) << true;
        QTest::newRow("array") << QByteArray("[1, 2, 3]") << true;
        QTest::newRow("other version") << QByteArray("{\"version\": 99, \"entries\": []}") << true;
        QTest::newRow("bad entries") << QByteArray("{\"version\": 1, \"entries\": [3, {\"path\": 5}, {\"path\": \"x\"}]}")
                                     << false;
        QTest::newRow("empty file") << QByteArray() << true;
    }

    void corruptIndexIsRebuilt()
    {
        QFETCH(QByteArray, contents);
        QFETCH(bool, warns);
        const std::string root = tmp("corrupt/models");
        const std::string index = tmp("corrupt/library.json");
        CHECK_OK(writeTinyFolderModel(root + "/A"));
        CHECK_OK(writeTinyGguf(root + "/c.gguf"));
        CHECK_OK(writeTextFile(index, contents.toStdString()));
        LibraryScanOptions options;
        options.folders = {root};
        options.includeHfCache = false;
        options.indexPath = index;

        LibraryScan s = scanLibrary(options);
        QCOMPARE(s.entries.size(), std::size_t(2));
        QCOMPARE(s.stats.headerReads, 2);
        QCOMPARE(!s.stats.warnings.empty(), warns);
        s = scanLibrary(options);  // the rebuilt index is used
        QCOMPARE(s.stats.reused, 2);
        QCOMPARE(s.stats.headerReads, 0);
    }

    void formatting_data()
    {
        QTest::addColumn<quint64>("n");
        QTest::addColumn<QString>("params");
        QTest::addColumn<QString>("bytes");
        QTest::newRow("7.6B") << quint64(7615616512ull) << u"7.6B"_qs << u"7.1 GiB"_qs;
        QTest::newRow("494M") << quint64(494032768ull) << u"494M"_qs << u"471.1 MiB"_qs;
        QTest::newRow("small") << quint64(1736) << u"2K"_qs << u"1.7 KiB"_qs;
        QTest::newRow("tiny") << quint64(12) << u"12"_qs << u"12 B"_qs;
    }

    void formatting()
    {
        QFETCH(quint64, n);
        QFETCH(QString, params);
        QFETCH(QString, bytes);
        QCOMPARE(QString::fromStdString(formatParameterCount(n)), params);
        QCOMPARE(QString::fromStdString(formatBytes(n)), bytes);
    }
};

QTEST_APPLESS_MAIN(TestModelLibrary)
#include "tst_model_library.moc"
