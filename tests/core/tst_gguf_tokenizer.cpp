// hearth-test-labels: tokenizer
// GGUF-embedded vocabularies against Hugging Face: each GGUF is built here from a real
// tokenizer.json fixture the way llama.cpp's convert_hf_to_gguf.py writes tokenizer.ggml.* (tokens
// in id order with [PADn] fillers, token types from the added-token flags, merges as "a b",
// SentencePiece-style scores from the merge order), and its ids must equal the HF goldens in
// fixtures/tokenizer-goldens (made by tests/reference/make_tokenizer_goldens.py).
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/gguf_writer.h"
#include "tokenizer/gguf_tokenizer.h"

using namespace hearth;

namespace {

enum TokenType : std::int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

std::string readAll(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string fixture(const std::string& rel) { return std::string(HEARTH_FIXTURES_DIR) + "/" + rel; }

struct Conversion {
    const char* name;  // fixture folder
    const char* ggmlModel;
    const char* pre;
    bool addBos;
};

const Conversion kConversions[] = {
    {"qwen3", "gpt2", "qwen2", false},
    {"llama3_1", "gpt2", "llama-bpe", true},
    // DeepSeek's tokenizer.json has no BOS post-processor, and the goldens come from it.
    {"deepseek_v3", "gpt2", "deepseek-v3", false},
    {"llama2", "llama", "", true},
};

bool isBytePiece(const std::string& p)
{
    return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>';
}

// tokenizer.json + tokenizer_config.json -> a GGUF file image with only tokenizer keys.
Result<std::string> convert(const Conversion& c)
{
    nlohmann::json tj = nlohmann::json::parse(readAll(fixture(std::string("tokenizers/") + c.name + "/tokenizer.json")));
    nlohmann::json config = nlohmann::json::parse(readAll(fixture(std::string("tokenizers/") + c.name + "/tokenizer_config.json")));
    std::map<int, std::pair<std::string, int>> byId;
    for (auto it = tj["model"]["vocab"].begin(); it != tj["model"]["vocab"].end(); ++it) {
        int type = kNormal;
        if (isBytePiece(it.key()) && tj["model"].value("byte_fallback", false)) type = kByte;
        byId[it.value().get<int>()] = {it.key(), type};
    }
    for (const auto& t : tj["added_tokens"]) {
        int type = t["special"].get<bool>() ? kControl : kUserDefined;
        if (tj["model"]["unk_token"].is_string() && t["content"] == tj["model"]["unk_token"]) type = kUnknown;
        byId[t["id"].get<int>()] = {t["content"].get<std::string>(), type};
    }
    // SentencePiece scores order the merges; tokenizer.json keeps that order as merge ranks, so a
    // piece's score is minus the rank of the first merge that makes it. (Vocabulary order is not
    // the score order: Llama 2's whitespace runs "▁▁", "▁▁▁▁" have low ids but the lowest scores.)
    std::map<std::string, int> firstRank;
    int rank = 0;
    for (const auto& m : tj["model"]["merges"]) {
        std::string merged = m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>();
        merged.erase(merged.find(' '), 1);
        firstRank.emplace(merged, rank++);
    }
    int n = byId.rbegin()->first + 1;
    std::vector<std::string> tokens;
    std::vector<GgufValue> types, scores;
    for (int id = 0; id < n; ++id) {
        auto it = byId.find(id);
        if (it == byId.end()) {
            tokens.push_back("[PAD" + std::to_string(id) + "]");
            types.push_back(ggufInt(GgufValueType::Int32, kUnused));
        } else {
            tokens.push_back(it->second.first);
            types.push_back(ggufInt(GgufValueType::Int32, it->second.second));
        }
        double score = 0.0;
        if (it != byId.end() && it->second.second == kNormal) {
            auto r = firstRank.find(it->second.first);
            score = r != firstRank.end() ? -static_cast<double>(r->second) : -1e9;
        }
        scores.push_back(ggufFloat(GgufValueType::Float32, score));
    }
    auto idOf = [&](const char* key) -> std::optional<int> {
        auto it = config.find(key);
        if (it == config.end() || it->is_null()) return std::nullopt;
        std::string text = it->is_string() ? it->get<std::string>() : (*it)["content"].get<std::string>();
        for (const auto& [id, entry] : byId)
            if (entry.first == text) return id;
        return std::nullopt;
    };

    GgufBuilder b;
    b.addString("general.architecture", c.ggmlModel == std::string("llama") ? "llama" : "qwen2");
    b.addString("tokenizer.ggml.model", c.ggmlModel);
    if (*c.pre) b.addString("tokenizer.ggml.pre", c.pre);
    b.add("tokenizer.ggml.tokens", ggufStringArray(tokens));
    b.add("tokenizer.ggml.token_type", ggufArray(GgufValueType::Int32, std::move(types)));
    if (c.ggmlModel == std::string("llama")) {
        b.add("tokenizer.ggml.scores", ggufArray(GgufValueType::Float32, std::move(scores)));
        b.addBool("tokenizer.ggml.add_space_prefix", true);
    } else {
        std::vector<std::string> merges;
        for (const auto& m : tj["model"]["merges"])
            merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
        b.add("tokenizer.ggml.merges", ggufStringArray(merges));
    }
    if (auto bos = idOf("bos_token")) b.addUint32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(*bos));
    if (auto eos = idOf("eos_token")) b.addUint32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(*eos));
    if (auto unk = idOf("unk_token")) b.addUint32("tokenizer.ggml.unknown_token_id", static_cast<std::uint32_t>(*unk));
    b.addBool("tokenizer.ggml.add_bos_token", c.addBos);
    b.addBool("tokenizer.ggml.add_eos_token", false);
    return b.serialize();
}

std::map<std::string, std::unique_ptr<Tokenizer>>& tokenizers()
{
    static std::map<std::string, std::unique_ptr<Tokenizer>> t;
    return t;
}

QString describeDiff(const std::string& text, const std::vector<TokenId>& got, const std::vector<TokenId>& want)
{
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    return QStringLiteral("'%1': first difference at %2: got %3, want %4 (sizes %5/%6)")
        .arg(QString::fromStdString(text.substr(0, 60)))
        .arg(i)
        .arg(i < got.size() ? QString::number(got[i]) : QStringLiteral("end"))
        .arg(i < want.size() ? QString::number(want[i]) : QStringLiteral("end"))
        .arg(got.size())
        .arg(want.size());
}

}  // namespace

class TestGgufTokenizer : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        for (const Conversion& c : kConversions) {
            auto image = convert(c);
            QVERIFY2(image.isOk(), image.isOk() ? "" : image.error().toString().c_str());
            std::string path = m_dir.filePath(QString::fromLatin1(c.name) + QStringLiteral(".gguf")).toStdString();
            std::ofstream(path, std::ios::binary) << *image;
            auto tokenizer = loadGgufTokenizer(path);
            QVERIFY2(tokenizer.isOk(), tokenizer.isOk() ? "" : tokenizer.error().toString().c_str());
            tokenizers()[c.name] = std::move(tokenizer).value();
        }
    }

    void goldens_data()
    {
        QTest::addColumn<QString>("name");
        for (const Conversion& c : kConversions) QTest::newRow(c.name) << QString::fromLatin1(c.name);
    }

    void goldens()
    {
        QFETCH(QString, name);
        const Tokenizer& tok = *tokenizers().at(name.toStdString());
        nlohmann::json golden = nlohmann::json::parse(readAll(fixture("tokenizer-goldens/ids_" + name.toStdString() + ".json")));
        const nlohmann::json& rows = golden["rows"];
        QVERIFY(rows.size() >= 300);
        int nStrings = 0;
        for (const auto& row : rows) {
            std::string text = row["text"].get<std::string>();
            struct Mode {
                const char* key;
                EncodeOptions options;
            } modes[] = {{"ids_special_noadd", {true, false}}, {"ids_special_add", {true, true}},
                         {"ids_literal_noadd", {false, false}}, {"ids_literal_add", {false, true}}};
            for (const Mode& m : modes) {
                auto want = row[m.key].get<std::vector<TokenId>>();
                auto got = tok.encode(text, m.options);
                QVERIFY2(got == want, qPrintable(QString::fromLatin1(m.key) + QStringLiteral(" ") + describeDiff(text, got, want)));
            }
            auto ids = row["ids_special_noadd"].get<std::vector<TokenId>>();
            QCOMPARE(tok.decode(ids), row["decoded"].get<std::string>());
            QCOMPARE(tok.decode(ids, true), row["decoded_skip"].get<std::string>());
            ++nStrings;
        }
        qInfo("%s: %d strings x 4 modes identical to HF tokenizers %s", qPrintable(name), nStrings,
              golden["tokenizers_version"].get<std::string>().c_str());
    }

    void specialIds()
    {
        const Tokenizer& qwen = *tokenizers().at("qwen3");
        auto imEnd = qwen.pieceToToken("<|im_end|>");
        QVERIFY(imEnd.has_value());
        QVERIFY(qwen.isSpecial(*imEnd));
        const auto& eot = qwen.specialTokens().endOfTurn;
        QVERIFY(std::find(eot.begin(), eot.end(), *imEnd) != eot.end());
        QVERIFY(!qwen.specialTokens().addBosByDefault);
        const Tokenizer& llama2 = *tokenizers().at("llama2");
        QCOMPARE(llama2.specialTokens().bos, std::optional<TokenId>(1));
        QCOMPARE(llama2.specialTokens().eos, std::optional<TokenId>(2));
        QCOMPARE(llama2.specialTokens().unk, std::optional<TokenId>(0));
        QCOMPARE(llama2.tokenToPiece(13), std::string("<0x0A>"));
        QCOMPARE(llama2.tokenBytes(13, false), std::string("\n"));
        QCOMPARE(llama2.tokenBytes(*llama2.pieceToToken("\xE2\x96\x81Hello"), true), std::string("Hello"));
        QCOMPARE(llama2.tokenBytes(*llama2.pieceToToken("\xE2\x96\x81Hello"), false), std::string(" Hello"));
        QCOMPARE(llama2.vocabSize(), std::size_t{32000});
    }

    // Broken tokenizer keys are error values naming the key.
    void malformed_data()
    {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no model") << QStringLiteral("no model") << QStringLiteral("tokenizer.ggml.model");
        QTest::newRow("unknown model") << QStringLiteral("unknown model") << QStringLiteral("not supported");
        QTest::newRow("no tokens") << QStringLiteral("no tokens") << QStringLiteral("tokenizer.ggml.tokens");
        QTest::newRow("types short") << QStringLiteral("types short") << QStringLiteral("token_type");
        QTest::newRow("bad type") << QStringLiteral("bad type") << QStringLiteral("token_type[1]");
        QTest::newRow("bos out of range") << QStringLiteral("bos out of range") << QStringLiteral("bos_token_id");
        QTest::newRow("gpt2 without merges") << QStringLiteral("gpt2 without merges") << QStringLiteral("merges");
        QTest::newRow("unknown pre") << QStringLiteral("unknown pre") << QStringLiteral("tokenizer.ggml.pre");
        QTest::newRow("bad merge") << QStringLiteral("bad merge") << QStringLiteral("merges");
        QTest::newRow("spm without bytes or unk") << QStringLiteral("spm without bytes or unk") << QStringLiteral("byte tokens");
    }

    void malformed()
    {
        QFETCH(QString, what);
        QFETCH(QString, expected);
        std::string w = what.toStdString();
        GgufBuilder b;
        if (w != "no model") b.addString("tokenizer.ggml.model", w == "unknown model" ? "wordpiece" : (w == "spm without bytes or unk" ? "llama" : "gpt2"));
        if (w == "unknown pre") b.addString("tokenizer.ggml.pre", "klingon");
        if (w != "no tokens") b.add("tokenizer.ggml.tokens", ggufStringArray({"a", "b", "ab"}));
        if (w == "types short") b.add("tokenizer.ggml.token_type", ggufArray(GgufValueType::Int32, {ggufInt(GgufValueType::Int32, 1)}));
        if (w == "bad type")
            b.add("tokenizer.ggml.token_type", ggufArray(GgufValueType::Int32, {ggufInt(GgufValueType::Int32, 1), ggufInt(GgufValueType::Int32, 9),
                                                                             ggufInt(GgufValueType::Int32, 1)}));
        if (w == "bos out of range") b.addUint32("tokenizer.ggml.bos_token_id", 7);
        if (w != "gpt2 without merges") b.add("tokenizer.ggml.merges", ggufStringArray({w == "bad merge" ? "a b c" : "a b"}));
        auto image = b.serialize();
        QVERIFY(image.isOk());
        auto header = parseGgufHeader({reinterpret_cast<const std::uint8_t*>(image->data()), image->size()}, image->size(), "t.gguf");
        QVERIFY(header.isOk());
        auto tokenizer = tokenizerFromGguf(*header, "t.gguf");
        QVERIFY(!tokenizer.isOk());
        QVERIFY2(QString::fromStdString(tokenizer.error().message).contains(expected), tokenizer.error().message.c_str());
        QVERIFY(tokenizer.error().message.rfind("t.gguf", 0) == 0);
    }

private:
    QTemporaryDir m_dir;
};

QTEST_APPLESS_MAIN(TestGgufTokenizer)
#include "tst_gguf_tokenizer.moc"
