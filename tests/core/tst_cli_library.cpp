// hearth-test-labels: model
// `hearth-cli list` and `hearth-cli inspect` run as a user would, on a temporary library with
// valid and broken models: exit codes and the documented JSON fields.
#include <QtTest>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/library_tree.h"

using namespace hearth;
using namespace hearth::test;
namespace fs = std::filesystem;

namespace {

#define CHECK_OK(expr)                                                       \
    do {                                                                     \
        const Status s_ = (expr);                                            \
        QVERIFY2(s_.isOk(), s_.isOk() ? "" : s_.error().toString().c_str()); \
    } while (0)

struct Run {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

const nlohmann::json* findModel(const nlohmann::json& list, const std::string& name)
{
    for (const auto& m : list["models"])
        if (m["name"] == name)
            return &m;
    return nullptr;
}

}  // namespace

class TestCliLibrary : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;

    QString tmp(const char* rel) const { return m_tmp.path() + u'/' + QString::fromUtf8(rel); }
    std::string tmpStd(const char* rel) const { return tmp(rel).toStdString(); }

    Run hearthCli(const QStringList& args) const
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"HOME"_qs, tmp("home"));
        env.insert(u"XDG_CACHE_HOME"_qs, tmp("cache"));
        env.insert(u"XDG_DATA_HOME"_qs, tmp("data"));
        env.insert(u"HF_HOME"_qs, tmp("hf"));
        env.remove(u"HF_HUB_CACHE"_qs);
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(HEARTH_BINARY_DIR "/bin/hearth-cli"), args);
        Run r;
        if (!p.waitForFinished(60000) || p.exitStatus() != QProcess::NormalExit)
            return r;  // a crash or hang reads as exit code -1
        r.exitCode = p.exitCode();
        r.out = p.readAllStandardOutput();
        r.err = p.readAllStandardError();
        return r;
    }

    static nlohmann::json parse(const Run& r)
    {
        return nlohmann::json::parse(r.out.toStdString(), nullptr, false);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        QVERIFY2(QFile::exists(QStringLiteral(HEARTH_BINARY_DIR "/bin/hearth-cli")), "build hearth-cli first");
        CHECK_OK(writeTinyFolderModel(tmpStd("lib/Tiny-Qwen")));
        CHECK_OK(writeTinyFolderModel(tmpStd("lib/Truncated")));
        fs::resize_file(tmpStd("lib/Truncated/model.safetensors"), fs::file_size(tmpStd("lib/Truncated/model.safetensors")) - 64);
        CHECK_OK(writeTinyFolderModel(tmpStd("lib/Foo"), {.architecture = "FooForCausalLM", .modelType = "foo"}));
        CHECK_OK(writeTinyGguf(tmpStd("lib/tiny.gguf")));
        CHECK_OK(writeTextFile(tmpStd("lib/garbage.gguf"), "GGUF but not really"));
        CHECK_OK(writeTextFile(tmpStd("lib/notes.txt"), "hello"));
        // The default sources: the models folder under XDG_DATA_HOME and the hub cache under HF_HOME.
        CHECK_OK(writeTinyGguf(tmpStd("data/hearth/models/default.gguf")));
        CHECK_OK(writeTinyFolderModel(tmpStd("hf/hub/models--org--Hub/snapshots/r1")));
        CHECK_OK(writeTextFile(tmpStd("hf/hub/models--org--Hub/refs/main"), "r1"));
    }

    void listJson()
    {
        const QStringList args = {u"list"_qs, u"--json"_qs, u"--no-hf-cache"_qs, u"--dir"_qs, tmp("lib"),
                                  u"--free-gib"_qs, u"10"_qs};
        const Run r = hearthCli(args);
        QCOMPARE(r.exitCode, 0);
        const auto j = parse(r);
        QVERIFY2(j.is_object(), r.out.constData());
        QCOMPARE(j["models"].size(), std::size_t(5));
        QCOMPARE(j["free_bytes"].get<std::uint64_t>(), std::uint64_t(10) << 30);
        QCOMPARE(j["scan"]["header_reads"].get<int>(), 5);

        const auto* tiny = findModel(j, "Tiny-Qwen");
        QVERIFY(tiny);
        QCOMPARE((*tiny)["ok"].get<bool>(), true);
        QCOMPARE((*tiny)["format"].get<std::string>(), std::string("safetensors"));
        QCOMPARE((*tiny)["source"].get<std::string>(), std::string("folder"));
        QCOMPARE((*tiny)["parameter_count"].get<std::uint64_t>(), kTinyFolderParams);
        QCOMPARE((*tiny)["has_tokenizer"].get<bool>(), true);
        QCOMPARE((*tiny)["estimate"]["kv_bytes_per_token"].get<std::uint64_t>(), kTinyFolderKvBytesPerToken);
        QCOMPARE((*tiny)["estimate"]["context_length"].get<std::int64_t>(), kTinyFolderContext);
        QCOMPARE((*tiny)["fit"].get<std::string>(), std::string("fits"));

        const auto* gguf = findModel(j, "tiny");
        QVERIFY(gguf);
        QCOMPARE((*gguf)["format"].get<std::string>(), std::string("gguf"));
        QCOMPARE((*gguf)["source"].get<std::string>(), std::string("gguf-file"));
        QCOMPARE((*gguf)["parameter_count"].get<std::uint64_t>(), kTinyGgufParams);

        for (const char* name : {"Truncated", "Foo", "garbage"}) {
            const auto* m = findModel(j, name);
            QVERIFY2(m, name);
            QCOMPARE((*m)["ok"].get<bool>(), false);
            QVERIFY2(!(*m)["error"].get<std::string>().empty(), name);
            QVERIFY((*m)["fit"].is_null());
        }
        QVERIFY(findModel(j, "Foo")->at("error").get<std::string>().find("FooForCausalLM") != std::string::npos);

        // The second run reuses the index in XDG_CACHE_HOME.
        QVERIFY(fs::exists(tmpStd("cache/hearth/library.json")));
        const auto again = parse(hearthCli(args));
        QCOMPARE(again["scan"]["header_reads"].get<int>(), 0);
        QCOMPARE(again["scan"]["reused"].get<int>(), 5);
    }

    void listVerdicts_data()
    {
        QTest::addColumn<QString>("freeGib");
        QTest::addColumn<QString>("context");
        QTest::addColumn<QString>("fit");
        // The tiny model needs 512 MiB + 4 KiB of KV + a small workspace: about 0.5 GiB.
        QTest::newRow("plenty") << u"10"_qs << u"0"_qs << u"fits"_qs;
        QTest::newRow("none") << u"0.1"_qs << u"0"_qs << u"does-not-fit"_qs;
        QTest::newRow("tight") << u"0.51"_qs << u"0"_qs << u"tight"_qs;
    }

    void listVerdicts()
    {
        QFETCH(QString, freeGib);
        QFETCH(QString, context);
        QFETCH(QString, fit);
        const Run r = hearthCli({u"list"_qs, u"--json"_qs, u"--no-hf-cache"_qs, u"--dir"_qs, tmp("lib"),
                                 u"--free-gib"_qs, freeGib, u"--context"_qs, context});
        QCOMPARE(r.exitCode, 0);
        const auto j = parse(r);
        const auto* tiny = findModel(j, "Tiny-Qwen");
        QVERIFY(tiny);
        QCOMPARE(QString::fromStdString((*tiny)["fit"].get<std::string>()), fit);
    }

    void listDefaultSources()
    {
        const Run r = hearthCli({u"list"_qs, u"--json"_qs});
        QCOMPARE(r.exitCode, 0);
        const auto j = parse(r);
        QVERIFY(findModel(j, "default"));
        const auto* hub = findModel(j, "org/Hub");
        QVERIFY(hub);
        QCOMPARE((*hub)["source"].get<std::string>(), std::string("hf-cache"));
        QVERIFY(!findModel(j, "Tiny-Qwen"));
    }

    void listTable()
    {
        const Run r = hearthCli({u"list"_qs, u"--no-hf-cache"_qs, u"--dir"_qs, tmp("lib"), u"--free-gib"_qs, u"10"_qs});
        QCOMPARE(r.exitCode, 0);
        const QString out = QString::fromUtf8(r.out);
        QVERIFY2(out.contains(u"NAME"_qs) && out.contains(u"Tiny-Qwen"_qs) && out.contains(u"Qwen2ForCausalLM"_qs),
                 r.out.constData());
        QVERIFY(out.contains(u"safetensors/BF16"_qs));
        QVERIFY(out.contains(u"Not usable:"_qs));
        QVERIFY(out.contains(u"FooForCausalLM"_qs));
    }

    void listMissingFolderFails()
    {
        const Run r = hearthCli({u"list"_qs, u"--dir"_qs, tmp("no-such-folder")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("no-such-folder"));
    }

    void inspectFolder()
    {
        const Run r = hearthCli({u"inspect"_qs, tmp("lib/Tiny-Qwen"), u"--json"_qs});
        QCOMPARE(r.exitCode, 0);
        const auto j = parse(r);
        QVERIFY2(j.is_object(), r.out.constData());
        QCOMPARE(j["ok"].get<bool>(), true);
        QCOMPARE(j["format"].get<std::string>(), std::string("safetensors"));
        QCOMPARE(j["parameter_count"].get<std::uint64_t>(), kTinyFolderParams);
        // embed + 12 per layer * 2 + norm + lm_head.
        QCOMPARE(j["tensor_count"].get<int>(), 27);
        QCOMPARE(j["tensor_types"]["BF16"].get<int>(), 27);
        QCOMPARE(j["weight_bytes"].get<std::uint64_t>(), kTinyFolderWeightBytes);
        QCOMPARE(j["config"]["num_hidden_layers"].get<int>(), 2);
        QCOMPARE(j["config"]["num_key_value_heads"].get<int>(), 1);
        QCOMPARE(j["config"]["head_dim"].get<int>(), 4);
        QCOMPARE(j["config"]["architecture"].get<std::string>(), std::string("Qwen2ForCausalLM"));
        QCOMPARE(j["estimate"]["context_length"].get<std::int64_t>(), kTinyFolderContext);
        QCOMPARE(j["estimate"]["kv_cache_bytes"].get<std::uint64_t>(), kTinyFolderKvBytesPerToken * 128);
        QCOMPARE(j["files"].size(), std::size_t(3));
    }

    void inspectContext()
    {
        const Run r = hearthCli({u"inspect"_qs, tmp("lib/Tiny-Qwen/model.safetensors"), u"--json"_qs,
                                 u"--context"_qs, u"1000"_qs});
        QCOMPARE(r.exitCode, 0);
        const auto j = parse(r);
        QCOMPARE(j["estimate"]["context_length"].get<std::int64_t>(), 1000);
        QCOMPARE(j["estimate"]["kv_cache_bytes"].get<std::uint64_t>(), kTinyFolderKvBytesPerToken * 1000);
    }

    void inspectGguf()
    {
        const Run r = hearthCli({u"inspect"_qs, tmp("lib/tiny.gguf"), u"--json"_qs});
        QCOMPARE(r.exitCode, 0);
        const auto j = parse(r);
        QCOMPARE(j["format"].get<std::string>(), std::string("gguf"));
        QCOMPARE(j["architecture"].get<std::string>(), std::string("qwen2"));
        QCOMPARE(j["parameter_count"].get<std::uint64_t>(), kTinyGgufParams);
        QCOMPARE(j["tensor_count"].get<int>(), 3);
        QCOMPARE(j["tensor_types"]["F16"].get<int>(), 2);
        QCOMPARE(j["tensor_types"]["F32"].get<int>(), 1);
        QCOMPARE(j["metadata"]["general.architecture"].get<std::string>(), std::string("qwen2"));
        QCOMPARE(j["metadata"]["qwen2.context_length"].get<std::int64_t>(), kTinyGgufContext);
        QCOMPARE(j["metadata"]["tokenizer.ggml.tokens"]["length"].get<int>(), 32);
        QVERIFY(j["config"].is_null());
        // Default context: min(4096, 8192).
        QCOMPARE(j["estimate"]["context_length"].get<std::int64_t>(), kTinyGgufContext);
    }

    void inspectText()
    {
        const Run r = hearthCli({u"inspect"_qs, tmp("lib/Tiny-Qwen")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("Parameters:   2K (1736)"), r.out.constData());
        QVERIFY(r.out.contains("Memory at 128 tokens"));
    }

    void inspectBroken_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("reason");
        QTest::newRow("truncated") << u"lib/Truncated/model.safetensors"_qs << u"model.safetensors"_qs;
        QTest::newRow("unknown architecture") << u"lib/Foo"_qs << u"FooForCausalLM"_qs;
        QTest::newRow("garbage gguf") << u"lib/garbage.gguf"_qs << u"garbage.gguf"_qs;
        QTest::newRow("not a model") << u"lib/notes.txt"_qs << u"not a model"_qs;
        QTest::newRow("missing") << u"lib/nothing"_qs << u"no such file"_qs;
        QTest::newRow("folder without config") << u"lib"_qs << u"not a model folder"_qs;
    }

    void inspectBroken()
    {
        QFETCH(QString, path);
        QFETCH(QString, reason);
        const Run r = hearthCli({u"inspect"_qs, tmp(path.toUtf8().constData()), u"--json"_qs});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(QString::fromUtf8(r.err).contains(reason), r.err.constData());
        const auto j = parse(r);
        QVERIFY2(j.is_object(), r.out.constData());
        QCOMPARE(j["ok"].get<bool>(), false);
        QVERIFY(QString::fromStdString(j["error"].get<std::string>()).contains(reason));
    }
};

QTEST_APPLESS_MAIN(TestCliLibrary)
#include "tst_cli_library.moc"
