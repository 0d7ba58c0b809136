// hearth-test-labels: tokenizer
// tokenizer.json tokenizers against Hugging Face `tokenizers`: the goldens in
// fixtures/tokenizer-goldens were made by tests/reference/make_tokenizer_goldens.py from the same
// four tokenizer.json files, so every id, decode and special id here is HF's, not ours.
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/hf_tokenizer.h"
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

struct Golden {
    std::unique_ptr<Tokenizer> tokenizer;
    nlohmann::json rows;
};

std::map<std::string, Golden>& goldens()
{
    static std::map<std::string, Golden> g;
    return g;
}

std::vector<TokenId> toIds(const nlohmann::json& list) { return list.get<std::vector<TokenId>>(); }

// "first difference at 3: got 12, want 13 (sizes 9/9)" so a failure says where.
QString describeDiff(const std::vector<TokenId>& got, const std::vector<TokenId>& want)
{
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    return QStringLiteral("first difference at %1: got %2, want %3 (sizes %4/%5)")
        .arg(i)
        .arg(i < got.size() ? QString::number(got[i]) : QStringLiteral("end"))
        .arg(i < want.size() ? QString::number(want[i]) : QStringLiteral("end"))
        .arg(got.size())
        .arg(want.size());
}

void writeFile(const QString& path, const std::string& text)
{
    std::ofstream out(path.toStdString(), std::ios::binary);
    out << text;
}

}  // namespace

class TestTokenizerJson : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        for (const char* name : kNames) {
            auto tokenizer = loadTokenizer(fixture(std::string("tokenizers/") + name));
            QVERIFY2(tokenizer.isOk(), tokenizer.isOk() ? "" : tokenizer.error().toString().c_str());
            nlohmann::json golden = nlohmann::json::parse(readAll(fixture(std::string("tokenizer-goldens/ids_") + name + ".json")));
            goldens()[name] = Golden{std::move(tokenizer).value(), golden["rows"]};
        }
        QVERIFY(goldens().at("qwen3").rows.size() >= 300);
    }

    void idsMatchHf_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("row");
        for (const char* name : kNames) {
            const auto& rows = goldens().at(name).rows;
            for (std::size_t i = 0; i < rows.size(); ++i)
                QTest::addRow("%s/%03d", name, static_cast<int>(i)) << QString::fromLatin1(name) << static_cast<int>(i);
        }
    }

    void idsMatchHf()
    {
        QFETCH(QString, name);
        QFETCH(int, row);
        const Golden& g = goldens().at(name.toStdString());
        const nlohmann::json& r = g.rows[static_cast<std::size_t>(row)];
        const std::string text = r["text"].get<std::string>();
        struct Mode {
            const char* key;
            bool parseSpecial;
            bool addSpecial;
        };
        for (const Mode& m : {Mode{"ids_special_noadd", true, false}, Mode{"ids_special_add", true, true},
                              Mode{"ids_literal_noadd", false, false}, Mode{"ids_literal_add", false, true}}) {
            EncodeOptions options;
            options.parseSpecial = m.parseSpecial;
            options.addSpecialTokens = m.addSpecial;
            std::vector<TokenId> got = g.tokenizer->encode(text, options);
            std::vector<TokenId> want = toIds(r[m.key]);
            QVERIFY2(got == want, qPrintable(QStringLiteral("%1: %2").arg(QLatin1String(m.key), describeDiff(got, want))));
        }
    }

    void decodeMatchesHf_data() { idsMatchHf_data(); }

    void decodeMatchesHf()
    {
        QFETCH(QString, name);
        QFETCH(int, row);
        const Golden& g = goldens().at(name.toStdString());
        const nlohmann::json& r = g.rows[static_cast<std::size_t>(row)];
        const std::vector<TokenId> ids = toIds(r["ids_special_noadd"]);
        QCOMPARE(g.tokenizer->decode(ids, false), r["decoded"].get<std::string>());
        QCOMPARE(g.tokenizer->decode(ids, true), r["decoded_skip"].get<std::string>());
        QCOMPARE(g.tokenizer->decode(toIds(r["ids_literal_noadd"]), false), r["decoded_literal"].get<std::string>());
        // Byte-level BPE without a normalizer loses nothing: the text itself comes back.
        const std::string text = r["text"].get<std::string>();
        if (name == QLatin1String("llama3_1") || name == QLatin1String("deepseek_v3")) {
            QCOMPARE(g.tokenizer->decode(g.tokenizer->encode(text), false), text);
            EncodeOptions literal;
            literal.parseSpecial = false;
            QCOMPARE(g.tokenizer->decode(g.tokenizer->encode(text, literal), false), text);
        }
    }

    void piecesRoundTrip_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : kNames) QTest::addRow("%s", name) << QString::fromLatin1(name);
    }

    void piecesRoundTrip()
    {
        QFETCH(QString, name);
        const Tokenizer& t = *goldens().at(name.toStdString()).tokenizer;
        std::size_t checked = 0;
        for (std::size_t id = 0; id < t.vocabSize(); ++id) {
            std::string piece = t.tokenToPiece(static_cast<TokenId>(id));
            if (piece.empty()) continue;
            auto back = t.pieceToToken(piece);
            QVERIFY2(back && *back == static_cast<TokenId>(id), qPrintable(QStringLiteral("id %1 piece '%2'").arg(id).arg(QString::fromStdString(piece))));
            ++checked;
        }
        QVERIFY(checked > 30000);
        QVERIFY(!t.pieceToToken("no such piece \x01\x02"));
        QVERIFY(t.tokenToPiece(-1).empty());
        QVERIFY(t.tokenToPiece(static_cast<TokenId>(t.vocabSize() + 10)).empty());
    }

    void knownPieces()
    {
        // Spellings and ids as HF reports them (tokenizer.id_to_token / token_to_id).
        const Tokenizer& qwen = *goldens().at("qwen3").tokenizer;
        QCOMPARE(qwen.tokenToPiece(9707), std::string("Hello"));
        QCOMPARE(qwen.tokenToPiece(151645), std::string("<|im_end|>"));
        QCOMPARE(qwen.pieceToToken("\xC4\xA0world").value_or(-1), 1879);
        const Tokenizer& llama2 = *goldens().at("llama2").tokenizer;
        QCOMPARE(llama2.tokenToPiece(13), std::string("<0x0A>"));
        QCOMPARE(llama2.tokenToPiece(1), std::string("<s>"));
        QCOMPARE(llama2.tokenBytes(13, false), std::string("\n"));
        QCOMPARE(llama2.tokenBytes(12014, true), std::string("hi"));
        QCOMPARE(llama2.tokenBytes(12014, false), std::string(" hi"));
    }

    void specialTokens()
    {
        const Tokenizer& qwen = *goldens().at("qwen3").tokenizer;
        QCOMPARE(qwen.specialTokens().eos.value_or(-1), 151645);
        QCOMPARE(qwen.specialTokens().pad.value_or(-1), 151643);
        QVERIFY(!qwen.specialTokens().bos);
        QVERIFY(!qwen.specialTokens().addBosByDefault);
        const auto& qe = qwen.specialTokens().endOfTurn;
        QVERIFY(std::find(qe.begin(), qe.end(), 151645) != qe.end());
        QVERIFY(std::find(qe.begin(), qe.end(), 151643) != qe.end());
        QVERIFY(qwen.isSpecial(151644));
        QVERIFY(!qwen.isSpecial(9707));
        QCOMPARE(qwen.vocabSize(), std::size_t(151669));

        const Tokenizer& llama = *goldens().at("llama3_1").tokenizer;
        QCOMPARE(llama.specialTokens().bos.value_or(-1), 128000);
        QCOMPARE(llama.specialTokens().eos.value_or(-1), 128009);
        QVERIFY(llama.specialTokens().addBosByDefault);
        const auto& le = llama.specialTokens().endOfTurn;
        for (TokenId id : {128009, 128001}) QVERIFY2(std::find(le.begin(), le.end(), id) != le.end(), qPrintable(QString::number(id)));
        // This package's vocabulary is Llama 3.0's: 128008 is a reserved token, not <|eom_id|>.
        QVERIFY(std::find(le.begin(), le.end(), 128008) == le.end());

        const Tokenizer& llama2 = *goldens().at("llama2").tokenizer;
        QCOMPARE(llama2.specialTokens().bos.value_or(-1), 1);
        QCOMPARE(llama2.specialTokens().eos.value_or(-1), 2);
        QCOMPARE(llama2.specialTokens().unk.value_or(-1), 0);
        QVERIFY(llama2.specialTokens().addBosByDefault);

        const Tokenizer& deepseek = *goldens().at("deepseek_v3").tokenizer;
        QCOMPARE(deepseek.specialTokens().bos.value_or(-1), 0);
        QCOMPARE(deepseek.specialTokens().eos.value_or(-1), 1);
    }

    void eomIdEndsATurnWhenPresent()
    {
        // Llama 3.1 proper has <|eom_id|> (after tool calls); a small vocabulary stands in for it.
        QTemporaryDir dir;
        writeFile(dir.filePath(QStringLiteral("tokenizer.json")),
                  "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": ["
                  "{\"id\": 1, \"content\": \"<|eom_id|>\", \"special\": true},"
                  "{\"id\": 2, \"content\": \"<|eot_id|>\", \"special\": true}]}");
        auto t = loadTokenizer(dir.path().toStdString());
        QVERIFY(t.isOk());
        QCOMPARE((*t)->specialTokens().endOfTurn, (std::vector<TokenId>{2, 1}));
        QCOMPARE((*t)->encode("a<|eom_id|>a"), (std::vector<TokenId>{0, 1, 0}));
    }

    void vocabMatchesNlohmann_data() { piecesRoundTrip_data(); }

    void vocabMatchesNlohmann()
    {
        // The loader reads vocab and merges with its own scanner; nlohmann's DOM of the same file
        // is the reference for every spelling and id.
        QFETCH(QString, name);
        const Tokenizer& t = *goldens().at(name.toStdString()).tokenizer;
        const nlohmann::json doc = nlohmann::json::parse(readAll(fixture("tokenizers/" + name.toStdString() + "/tokenizer.json")));
        std::set<std::string> added;
        for (const auto& a : doc["added_tokens"]) added.insert(a["content"].get<std::string>());
        std::size_t checked = 0;
        for (const auto& [piece, id] : doc["model"]["vocab"].items()) {
            auto got = t.pieceToToken(piece);
            QVERIFY2(got && *got == id.get<TokenId>(), piece.c_str());
            if (!added.count(piece)) QCOMPARE(t.tokenToPiece(id.get<TokenId>()), piece);
            ++checked;
        }
        QCOMPARE(checked, doc["model"]["vocab"].size());
    }

    void escapesAndDuplicatesAsInADom_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("merged");
        QTest::newRow("escaped keys, line merges")
            << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\\u0041\": 0, \"b\": 1, \"Ab\": 2, \"\\\"q\\\\\": 3, \"\\ud83d\\ude00\": 4, \"a\\/b\\n\\t\": 5, \"\\u00e9\": 6},"
                          " \"merges\": [\"\\u0041 b\"]}}")
            << QStringLiteral("Ab") << QStringLiteral("Ab");
        QTest::newRow("pair merges with escapes")
            << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"x\": 0, \"\\u00e9\": 1, \"x\\u00e9\": 2}, \"merges\": [[\"x\", \"\\u00e9\"]]}}")
            << QStringLiteral("x\u00e9") << QStringLiteral("x\u00e9");
        QTest::newRow("duplicate keys: last wins")
            << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"a\": 3, \"c\": 3}, \"merges\": [\"a b\"]}}")
            << QStringLiteral("ab") << QStringLiteral("ab");
        QTest::newRow("vocab and merges given twice, spaced, after a BOM")
            << QByteArray("\xEF\xBB\xBF \n{ \"model\" :{\"vocab\":{\"z\":0},\"merges\":[ ],\"type\":\"BPE\",\r\n\t\"vocab\" : { \"a\" : 0 , \"b\" :1, \"ab\":2 } ,"
                          " \"merges\" : [ [ \"a\" , \"b\" ] ] } , \"model_extra\": [1, {\"k\": null}] } ")
            << QStringLiteral("ab") << QStringLiteral("ab");
    }

    void escapesAndDuplicatesAsInADom()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, text);
        QFETCH(QString, merged);
        auto t = tok::HfTokenizer::fromJsonText(json.toStdString(), "test/tokenizer.json");
        QVERIFY2(t.isOk(), t.isOk() ? "" : t.error().message.c_str());
        nlohmann::json doc = nlohmann::json::parse(json.toStdString());
        for (const auto& [piece, id] : doc["model"]["vocab"].items()) {
            auto got = (*t)->pieceToToken(piece);
            QVERIFY2(got && *got == id.get<TokenId>(), piece.c_str());
        }
        // The merge applies: the text is one token, the merged spelling's.
        const TokenId mergedId = doc["model"]["vocab"][merged.toStdString()].get<TokenId>();
        QCOMPARE((*t)->encode(text.toStdString()), std::vector<TokenId>{mergedId});
    }

    void scannerRefusesWhatNlohmannRefuses_data()
    {
        QTest::addColumn<QByteArray>("json");
        auto vocab = [](const char* entries) -> QByteArray {
            return QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {") + entries + "}, \"merges\": []}}";
        };
        QTest::newRow("lone high surrogate") << vocab("\"\\ud800\": 0");
        QTest::newRow("lone low surrogate") << vocab("\"\\udc00\": 0");
        QTest::newRow("bad escape") << vocab("\"\\x41\": 0");
        QTest::newRow("short unicode escape") << vocab("\"\\u41\": 0");
        QTest::newRow("raw control character") << vocab("\"a\x01\": 0");
        QTest::newRow("invalid utf-8") << vocab("\"a\xC0\xAF\": 0");
        QTest::newRow("encoded surrogate") << vocab("\"a\xED\xA0\x80\": 0");
        QTest::newRow("trailing comma") << vocab("\"a\": 0,");
        QTest::newRow("leading zero") << vocab("\"a\": 01");
        QTest::newRow("bare minus") << vocab("\"a\": -");
        QTest::newRow("missing colon") << vocab("\"a\" 0");
        QTest::newRow("bad literal") << vocab("\"a\": nul");
        QTest::newRow("text after the object") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}} x");
        QTest::newRow("bad merge list") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a a\",]}}");
        QTest::newRow("bad merge pair") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\" \"a\"]]}}");
        QTest::newRow("bad value elsewhere") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": tru}}");
        QTest::newRow("bad model field") << QByteArray("{\"model\": {\"type\": \"BPE\", \"dropout\": 1e, \"vocab\": {\"a\": 0}, \"merges\": []}}");
        QTest::newRow("unclosed") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [");
        QTest::newRow("bom not at start") << QByteArray("{\"model\": \xEF\xBB\xBF{\"vocab\": {\"a\": 0}, \"merges\": []}}");
    }

    void scannerRefusesWhatNlohmannRefuses()
    {
        QFETCH(QByteArray, json);
        QVERIFY2(nlohmann::json::parse(json.toStdString(), nullptr, false).is_discarded(), "the reference accepts this row");
        auto t = tok::HfTokenizer::fromJsonText(json.toStdString(), "test/tokenizer.json");
        QVERIFY(!t.isOk());
        QVERIFY2(t.error().message.find("test/tokenizer.json") != std::string::npos, t.error().message.c_str());
    }

    void malformedFilesGiveErrors_data()
    {
        QTest::addColumn<QByteArray>("json");
        const std::string llama2 = readAll(fixture("tokenizers/llama2/tokenizer.json"));
        const char* tiny = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}, %s}";
        auto withExtra = [&](const char* extra) {
            char buf[1024];
            std::snprintf(buf, sizeof buf, tiny, extra);
            return QByteArray(buf);
        };
        QTest::newRow("empty") << QByteArray();
        QTest::newRow("open brace") << QByteArray("{");
        QTest::newRow("array") << QByteArray("[]");
        QTest::newRow("no model") << QByteArray("{\"normalizer\": null}");
        QTest::newRow("vocab not object") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": [], \"merges\": []}}");
        QTest::newRow("id is string") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}, \"merges\": []}}");
        QTest::newRow("negative id") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -5}, \"merges\": []}}");
        QTest::newRow("huge id") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 2000000000}, \"merges\": []}}");
        QTest::newRow("merge unknown") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a z\"]}}");
        QTest::newRow("merge shape") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}");
        QTest::newRow("wordpiece") << QByteArray("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}");
        QTest::newRow("bad regex") << withExtra("\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(unclosed\"}, \"behavior\": \"Isolated\"}");
        QTest::newRow("bad behavior") << withExtra("\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": \"Sideways\"}");
        QTest::newRow("unknown normalizer") << withExtra("\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}");
        QTest::newRow("normalizer no type") << withExtra("\"normalizer\": {\"normalizers\": []}");
        QTest::newRow("decoder list") << withExtra("\"decoder\": {\"type\": \"Sequence\", \"decoders\": 5}");
        QTest::newRow("added bad id") << withExtra("\"added_tokens\": [{\"content\": \"<x>\", \"id\": -1}]");
        QTest::newRow("added no content") << withExtra("\"added_tokens\": [{\"id\": 7}]");
        QTest::newRow("template missing special") << withExtra("\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {}}");
        QTest::newRow("template id outside vocab") << withExtra("\"post_processor\": {\"type\": \"RobertaProcessing\", \"cls\": [\"<s>\", 99], \"sep\": [\"</s>\", 1]}");
        QTest::newRow("deep nesting") << (QByteArray("{\"model\": ") + QByteArray(100000, '[') + QByteArray(100000, ']') + "}");
        QTest::newRow("truncated real file") << QByteArray::fromStdString(llama2.substr(0, 200000));
    }

    void malformedFilesGiveErrors()
    {
        QFETCH(QByteArray, json);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeFile(dir.filePath(QStringLiteral("tokenizer.json")), json.toStdString());
        auto result = loadTokenizer(dir.path().toStdString());
        QVERIFY(!result.isOk());
        QVERIFY(!result.error().message.empty());
        QVERIFY2(result.error().message.find("tokenizer.json") != std::string::npos, result.error().message.c_str());
    }

    void otherSourcesRejectGarbage()
    {
        // loadTokenizer hands tokenizer.model and .gguf to their readers; garbage in either is an
        // error naming the file, a missing path is NotFound, another extension Unsupported.
        QTemporaryDir dir;
        writeFile(dir.filePath(QStringLiteral("tokenizer.model")), "spm");
        writeFile(dir.filePath(QStringLiteral("model.gguf")), "GGUF");
        writeFile(dir.filePath(QStringLiteral("vocab.txt")), "a");
        auto spm = loadTokenizer(dir.path().toStdString());
        QVERIFY(!spm.isOk());
        QVERIFY2(spm.error().message.find("tokenizer.model") != std::string::npos, spm.error().message.c_str());
        auto gguf = loadTokenizer(dir.filePath(QStringLiteral("model.gguf")).toStdString());
        QVERIFY(!gguf.isOk());
        QVERIFY2(gguf.error().message.find("model.gguf") != std::string::npos, gguf.error().message.c_str());
        auto other = loadTokenizer(dir.filePath(QStringLiteral("vocab.txt")).toStdString());
        QVERIFY(!other.isOk());
        QCOMPARE(other.error().code, ErrorCode::Unsupported);
        auto missing = loadTokenizer(dir.filePath(QStringLiteral("nothing-here")).toStdString());
        QVERIFY(!missing.isOk());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
    }

    void invalidUtf8InputIsRepaired()
    {
        // HF only accepts valid strings; Hearth repairs first, so raw bytes encode like their
        // U+FFFD replacement and never crash.
        const Tokenizer& qwen = *goldens().at("qwen3").tokenizer;
        QCOMPARE(qwen.encode("a\xFF" "b"), qwen.encode("a\xEF\xBF\xBD" "b"));
        QCOMPARE(qwen.encode("\xE4\xBD"), qwen.encode("\xEF\xBF\xBD"));
    }
};

QTEST_APPLESS_MAIN(TestTokenizerJson)
#include "tst_tokenizer_json.moc"
