// hearth-test-labels: tokenizer
// StreamDecoder: streamed text must equal Hugging Face's decode of the same ids (from the goldens
// made by tests/reference/make_tokenizer_goldens.py), never show a broken character, and cut at
// stop strings that span token boundaries.
#include <QStringDecoder>
#include <QtTest>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

using namespace hearth;

namespace {

const char* const kNames[] = {"qwen3", "llama3_1", "deepseek_v3", "llama2"};

std::string fixture(const std::string& rel) { return std::string(HEARTH_FIXTURES_DIR) + "/" + rel; }

std::string readAll(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Fixture {
    std::unique_ptr<Tokenizer> tokenizer;
    nlohmann::json rows;
};

std::map<std::string, Fixture>& fixtures()
{
    static std::map<std::string, Fixture> f;
    return f;
}

const Tokenizer& tok(const char* name) { return *fixtures().at(name).tokenizer; }

// True when every chunk is valid UTF-8 on its own: no half characters ever reach the screen.
bool validUtf8(const std::string& s)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    QString ignored = decoder.decode(QByteArrayView(s.data(), static_cast<qsizetype>(s.size())));
    return !decoder.hasError();
}

struct Streamed {
    std::vector<std::string> chunks;
    std::string text;
    bool allChunksValid = true;
};

Streamed stream(const Tokenizer& t, const std::vector<TokenId>& ids, StreamDecoderOptions options = {})
{
    StreamDecoder decoder(t, std::move(options));
    Streamed s;
    for (TokenId id : ids) {
        std::string chunk = decoder.push(id);
        s.allChunksValid = s.allChunksValid && validUtf8(chunk);
        s.chunks.push_back(chunk);
        s.text += chunk;
    }
    std::string tail = decoder.finish();
    s.allChunksValid = s.allChunksValid && validUtf8(tail);
    s.chunks.push_back(tail);
    s.text += tail;
    return s;
}

}  // namespace

class TestStreamDecoder : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        for (const char* name : kNames) {
            auto t = loadTokenizer(fixture(std::string("tokenizers/") + name));
            QVERIFY2(t.isOk(), t.isOk() ? "" : t.error().toString().c_str());
            auto golden = nlohmann::json::parse(readAll(fixture(std::string("tokenizer-goldens/ids_") + name + ".json")));
            fixtures()[name] = Fixture{std::move(t).value(), golden["rows"]};
        }
    }

    void streamEqualsHfDecode_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : kNames) QTest::addRow("%s", name) << QString::fromLatin1(name);
    }

    void streamEqualsHfDecode()
    {
        QFETCH(QString, name);
        const Fixture& f = fixtures().at(name.toStdString());
        int checked = 0;
        for (const auto& row : f.rows) {
            auto ids = row["ids_special_noadd"].get<std::vector<TokenId>>();
            StreamDecoderOptions keep;
            keep.skipSpecial = false;
            Streamed all = stream(*f.tokenizer, ids, keep);
            QVERIFY(all.allChunksValid);
            QCOMPARE(all.text, row["decoded"].get<std::string>());
            Streamed skipped = stream(*f.tokenizer, ids);
            QVERIFY(skipped.allChunksValid);
            QCOMPARE(skipped.text, row["decoded_skip"].get<std::string>());
            ++checked;
        }
        QVERIFY(checked >= 300);
    }

    void everyPrefixIsAPrefixOfTheDecode_data() { streamEqualsHfDecode_data(); }

    void everyPrefixIsAPrefixOfTheDecode()
    {
        // Text already emitted is never taken back: after each token the emitted text is a prefix
        // of HF's decode of the whole sequence.
        QFETCH(QString, name);
        const Fixture& f = fixtures().at(name.toStdString());
        for (std::size_t r = 0; r < f.rows.size(); r += 7) {
            const auto& row = f.rows[r];
            auto ids = row["ids_special_noadd"].get<std::vector<TokenId>>();
            if (ids.size() > 300) continue;
            const std::string full = row["decoded_skip"].get<std::string>();
            StreamDecoder decoder(*f.tokenizer);
            std::string emitted;
            for (TokenId id : ids) {
                emitted += decoder.push(id);
                QVERIFY2(full.compare(0, emitted.size(), emitted) == 0, row["text"].get<std::string>().c_str());
            }
            emitted += decoder.finish();
            QCOMPARE(emitted, full);
        }
    }

    void cjkAndEmojiSplitAcrossByteTokens_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("mustSplit");
        for (const char* name : kNames) {
            QTest::addRow("%s cjk", name) << QString::fromLatin1(name) << QStringLiteral("冷启动时间从分钟级压缩至秒级,龘靐齉") << false;
            QTest::addRow("%s emoji", name) << QString::fromLatin1(name) << QStringLiteral("👨‍👩‍👧‍👦 and 🇩🇪 ok") << true;
            QTest::addRow("%s rare cjk", name) << QString::fromLatin1(name) << QStringLiteral("𠀋𠂉𪚥 龘") << true;
        }
    }

    void cjkAndEmojiSplitAcrossByteTokens()
    {
        QFETCH(QString, name);
        QFETCH(QString, text);
        QFETCH(bool, mustSplit);
        const Tokenizer& t = tok(name.toLatin1().constData());
        const std::string utf8 = text.toStdString();
        auto ids = t.encode(utf8);
        // At least one character must really be split across tokens, or the test shows nothing.
        int splitTokens = 0;
        for (TokenId id : ids) splitTokens += validUtf8(t.tokenBytes(id, false)) ? 0 : 1;
        if (!mustSplit && splitTokens == 0) return;
        QVERIFY(splitTokens > 0);
        Streamed s = stream(t, ids);
        QVERIFY(s.allChunksValid);
        QCOMPARE(s.text, t.decode(ids, true));
        QCOMPARE(s.text, utf8);
        // Each emitted chunk is whole characters; the split character arrives once.
        int emptyChunks = 0;
        for (const auto& c : s.chunks) emptyChunks += c.empty() ? 1 : 0;
        QVERIFY(emptyChunks > 0);
    }

    void metaspaceLeadingSpaceDropped()
    {
        const Tokenizer& t = tok("llama2");
        auto ids = t.encode("Hello world");
        Streamed s = stream(t, ids);
        QCOMPARE(s.text, std::string("Hello world"));
        QCOMPARE(s.chunks.front(), std::string("Hello"));
        // A special token first (kept) means the next token is no longer at the start.
        StreamDecoderOptions keep;
        keep.skipSpecial = false;
        std::vector<TokenId> withBos = {1};
        withBos.insert(withBos.end(), ids.begin(), ids.end());
        QCOMPARE(stream(t, withBos, keep).text, t.decode(withBos, false));
        QCOMPARE(stream(t, withBos).text, t.decode(withBos, true));
    }

    void stopStrings_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("stops");
        QTest::addColumn<QString>("expected");
        QTest::addColumn<QString>("matched");
        for (const char* name : {"qwen3", "llama2"}) {
            QString n = QString::fromLatin1(name);
            QTest::addRow("%s spans tokens", name) << n << QStringLiteral("The answer is 42. Observation: done") << QStringList{QStringLiteral("Observation:")}
                                                   << QStringLiteral("The answer is 42. ") << QStringLiteral("Observation:");
            QTest::addRow("%s prefix of another", name) << n << QStringLiteral("say STOP NOW please") << QStringList{QStringLiteral("STOP NOW"), QStringLiteral("STOP")}
                                                        << QStringLiteral("say ") << QStringLiteral("STOP");
            QTest::addRow("%s held then released", name) << n << QStringLiteral("a </b> and </tool> end") << QStringList{QStringLiteral("</tool_call>")}
                                                         << QStringLiteral("a </b> and </tool> end") << QString();
            QTest::addRow("%s no stop", name) << n << QStringLiteral("plain text 你好") << QStringList{} << QStringLiteral("plain text 你好") << QString();
            QTest::addRow("%s cjk stop", name) << n << QStringLiteral("前文你好世界后文") << QStringList{QStringLiteral("世界")} << QStringLiteral("前文你好")
                                               << QStringLiteral("世界");
            QTest::addRow("%s stop at end held until finish", name) << n << QStringLiteral("ends with </to") << QStringList{QStringLiteral("</tool>")}
                                                                    << QStringLiteral("ends with </to") << QString();
        }
    }

    void stopStrings()
    {
        QFETCH(QString, name);
        QFETCH(QString, text);
        QFETCH(QStringList, stops);
        QFETCH(QString, expected);
        QFETCH(QString, matched);
        const Tokenizer& t = tok(name.toLatin1().constData());
        StreamDecoderOptions options;
        for (const QString& s : stops) options.stopStrings.push_back(s.toStdString());
        auto ids = t.encode(text.toStdString());
        StreamDecoder decoder(t, options);
        std::string out;
        for (TokenId id : ids) {
            std::string chunk = decoder.push(id);
            out += chunk;
            // Held text never leaks part of a stop string.
            for (const auto& s : options.stopStrings) QVERIFY(out.find(s) == std::string::npos);
        }
        out += decoder.finish();
        QCOMPARE(QString::fromStdString(out), expected);
        QCOMPARE(decoder.stopped(), !matched.isEmpty());
        if (!matched.isEmpty()) QCOMPARE(QString::fromStdString(decoder.matchedStop().value_or("")), matched);
        // After a stop nothing more comes out.
        if (decoder.stopped()) QVERIFY(decoder.push(ids.back()).empty());
    }

    void stopSpanningTwoAndThreeTokens()
    {
        // Build the ids by hand so the stop surely spans 2 and then 3 tokens.
        const Tokenizer& t = tok("qwen3");
        auto a = t.encode("xx END");
        auto b = t.encode("OF");
        auto c = t.encode("TEXT tail");
        std::vector<TokenId> ids = a;
        ids.insert(ids.end(), b.begin(), b.end());
        ids.insert(ids.end(), c.begin(), c.end());
        StreamDecoderOptions options;
        options.stopStrings = {" ENDOFTEXT"};
        StreamDecoder decoder(t, options);
        std::string out;
        std::vector<std::string> chunks;
        for (TokenId id : ids) {
            chunks.push_back(decoder.push(id));
            out += chunks.back();
        }
        out += decoder.finish();
        QCOMPARE(out, std::string("xx"));
        QVERIFY(decoder.stopped());
        // " END" and "OF" were held (emitted nothing) while the stop was undecided.
        QCOMPARE(chunks[a.size() - 1], std::string());
        QCOMPARE(chunks[a.size()], std::string());
    }

    void finishFlushesIncompleteCharacter()
    {
        const Tokenizer& t = tok("qwen3");
        auto ids = t.encode("ok \xF0\xAA\x9A\xA5");  // a rare CJK character no vocabulary has whole
        QVERIFY(ids.size() >= 2);
        // Drop the last byte token: the emoji never completes and finish() shows U+FFFD once.
        std::vector<TokenId> cut(ids.begin(), ids.end() - 1);
        StreamDecoder decoder(t);
        std::string out;
        for (TokenId id : cut) out += decoder.push(id);
        QVERIFY(std::string("ok ").compare(0, out.size(), out) == 0);
        out += decoder.finish();
        QCOMPARE(out, t.decode(cut));
        QCOMPARE(out, std::string("ok \xEF\xBF\xBD"));
        decoder.reset();
        QCOMPARE(decoder.push(ids.front()), std::string("ok"));
    }
};

QTEST_APPLESS_MAIN(TestStreamDecoder)
#include "tst_stream_decoder.moc"
