// ModelConfig from published config.json / generation_config.json files (tests/fixtures/configs),
// parameter counts against the totals the model cards publish, and a table of malformed configs
// that must fail with the right code and a message naming the file and the key.
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "model/model_config.h"
#include "util/mapped_file.h"

using namespace hearth;

Q_DECLARE_METATYPE(hearth::ErrorCode)

namespace {

struct ExpectedConfig {
    const char* dir;
    const char* architectureName;
    const char* modelType;
    ModelArch arch;
    std::int64_t hiddenSize, nLayers, nHeads, nKvHeads, headDim, intermediateSize, vocabSize, maxPositions;
    double rmsNormEps, ropeTheta;
    RopeScalingType ropeType;
    double ropeFactor;
    std::int64_t ropeOriginalMax;
    double lowFreqFactor, highFreqFactor;
    bool tied, attentionBias, qkNorm, mlpBias;
    std::optional<std::int64_t> slidingWindow;
    DType dtype;
    std::optional<std::int32_t> bos;
    std::vector<std::int32_t> eosInConfig;  // parseModelConfig(config.json) alone
    std::vector<std::int32_t> eosMerged;    // loadModelConfig: config + generation_config
    std::optional<std::int32_t> pad;        // after the merge
    std::optional<bool> doSample;
    std::optional<double> temperature, topP;
    std::optional<std::int64_t> topK;
    std::optional<double> repetitionPenalty;
};

const ExpectedConfig kExpected[] = {
    {"qwen2.5-7b-instruct", "Qwen2ForCausalLM", "qwen2", ModelArch::Qwen2, 3584, 28, 28, 4, 128, 18944, 152064, 32768,
     1e-6, 1e6, RopeScalingType::None, 1.0, 0, 1.0, 4.0, false, true, false, false, std::nullopt, DType::BF16, 151643,
     {151645}, {151645, 151643}, 151643, true, 0.7, 0.8, 20, 1.05},
    {"qwen2.5-7b-instruct-yarn", "Qwen2ForCausalLM", "qwen2", ModelArch::Qwen2, 3584, 28, 28, 4, 128, 18944, 152064,
     32768, 1e-6, 1e6, RopeScalingType::Yarn, 4.0, 32768, 1.0, 4.0, false, true, false, false, std::nullopt, DType::BF16,
     151643, {151645}, {151645, 151643}, 151643, true, 0.7, 0.8, 20, 1.05},
    {"qwen3-8b", "Qwen3ForCausalLM", "qwen3", ModelArch::Qwen3, 4096, 36, 32, 8, 128, 12288, 151936, 40960, 1e-6, 1e6,
     RopeScalingType::None, 1.0, 0, 1.0, 4.0, false, false, true, false, std::nullopt, DType::BF16, 151643, {151645},
     {151645, 151643}, 151643, true, 0.6, 0.95, 20, std::nullopt},
    {"llama-3.1-8b-instruct", "LlamaForCausalLM", "llama", ModelArch::Llama, 4096, 32, 32, 8, 128, 14336, 128256,
     131072, 1e-5, 5e5, RopeScalingType::Llama3, 8.0, 8192, 1.0, 4.0, false, false, false, false, std::nullopt,
     DType::BF16, 128000, {128001, 128008, 128009}, {128001, 128008, 128009}, std::nullopt, true, 0.6, 0.9,
     std::nullopt, std::nullopt},
    {"llama-2-7b", "LlamaForCausalLM", "llama", ModelArch::Llama, 4096, 32, 32, 32, 128, 11008, 32000, 4096, 1e-5,
     1e4, RopeScalingType::None, 1.0, 0, 1.0, 4.0, false, false, false, false, std::nullopt, DType::F16, 1, {2}, {2},
     0, true, 0.6, 0.9, std::nullopt, std::nullopt},
    {"mistral-7b-instruct-v0.3", "MistralForCausalLM", "mistral", ModelArch::Mistral, 4096, 32, 32, 8, 128, 14336,
     32768, 32768, 1e-5, 1e6, RopeScalingType::None, 1.0, 0, 1.0, 4.0, false, false, false, false, std::nullopt,
     DType::BF16, 1, {2}, {2}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
    {"qwen3-0.6b-transformers5", "Qwen3ForCausalLM", "qwen3", ModelArch::Qwen3, 1024, 28, 16, 8, 128, 3072, 151936,
     40960, 1e-6, 1e6, RopeScalingType::None, 1.0, 0, 1.0, 4.0, true, false, true, false, std::nullopt, DType::BF16,
     151643, {151645}, {151645}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
};

std::string fixtureDir(const char* dir)
{
    return std::string(HEARTH_FIXTURES_DIR) + "/configs/" + dir;
}

// A small valid Llama config that the malformed rows start from.
nlohmann::json baseConfig()
{
    return nlohmann::json::parse(R"({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "torch_dtype": "bfloat16",
        "bos_token_id": 1, "eos_token_id": 2})");
}

// The base config with `key` set to `valueJson` (or removed when valueJson is empty).
QByteArray patched(const char* key, const char* valueJson)
{
    nlohmann::json j = baseConfig();
    if (*valueJson == '\0')
        j.erase(key);
    else
        j[key] = nlohmann::json::parse(valueJson);
    return QByteArray::fromStdString(j.dump());
}

Result<ModelConfig> parseText(const QByteArray& text)
{
    return parseModelConfig(std::string_view(text.constData(), std::size_t(text.size())), "test/config.json");
}

bool writeFile(const std::string& path, const std::string& contents)
{
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        return false;
    const bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
    return std::fclose(f) == 0 && ok;
}

}  // namespace

class TestModelConfig : public QObject {
    Q_OBJECT

private slots:
    void publishedConfigs_data()
    {
        QTest::addColumn<int>("index");
        for (int i = 0; i < int(std::size(kExpected)); ++i)
            QTest::newRow(kExpected[i].dir) << i;
    }

    void publishedConfigs()
    {
        QFETCH(int, index);
        const ExpectedConfig& e = kExpected[index];
        auto loaded = loadModelConfig(fixtureDir(e.dir));
        QVERIFY2(loaded.isOk(), loaded.isOk() ? "" : loaded.error().toString().c_str());
        const ModelConfig& c = *loaded;
        QCOMPARE(c.architectureName, std::string(e.architectureName));
        QCOMPARE(c.modelType, std::string(e.modelType));
        QCOMPARE(c.arch, e.arch);
        QCOMPARE(c.hiddenSize, e.hiddenSize);
        QCOMPARE(c.nLayers, e.nLayers);
        QCOMPARE(c.nHeads, e.nHeads);
        QCOMPARE(c.nKvHeads, e.nKvHeads);
        QCOMPARE(c.headDim, e.headDim);
        QCOMPARE(c.intermediateSize, e.intermediateSize);
        QCOMPARE(c.vocabSize, e.vocabSize);
        QCOMPARE(c.maxPositions, e.maxPositions);
        QCOMPARE(c.rmsNormEps, e.rmsNormEps);
        QCOMPARE(c.ropeTheta, e.ropeTheta);
        QCOMPARE(c.ropeScaling.type, e.ropeType);
        QCOMPARE(c.ropeScaling.factor, e.ropeFactor);
        QCOMPARE(c.ropeScaling.originalMaxPositions, e.ropeOriginalMax);
        QCOMPARE(c.ropeScaling.lowFreqFactor, e.lowFreqFactor);
        QCOMPARE(c.ropeScaling.highFreqFactor, e.highFreqFactor);
        QCOMPARE(c.ropeScaling.betaFast, 32.0);
        QCOMPARE(c.ropeScaling.betaSlow, 1.0);
        QVERIFY(!c.ropeScaling.attentionFactor && !c.ropeScaling.mscale && !c.ropeScaling.mscaleAllDim);
        QCOMPARE(c.tieWordEmbeddings, e.tied);
        QCOMPARE(c.attentionBias, e.attentionBias);
        QCOMPARE(c.qkNorm, e.qkNorm);
        QCOMPARE(c.mlpBias, e.mlpBias);
        QCOMPARE(c.slidingWindow, e.slidingWindow);
        QCOMPARE(c.dtype, e.dtype);
        QCOMPARE(c.bosTokenId, e.bos);
        QCOMPARE(c.eosTokenIds, e.eosMerged);
        QCOMPARE(c.padTokenId, e.pad);
        QCOMPARE(c.hiddenAct, std::string("silu"));
        QCOMPARE(c.generation.doSample, e.doSample);
        QCOMPARE(c.generation.temperature, e.temperature);
        QCOMPARE(c.generation.topP, e.topP);
        QCOMPARE(c.generation.topK, e.topK);
        QCOMPARE(c.generation.repetitionPenalty, e.repetitionPenalty);
        QVERIFY(!c.generation.minP);
        QVERIFY(!c.generation.maxNewTokens);

        // config.json alone carries only its own eos ids.
        auto text = readTextFile(fixtureDir(e.dir) + "/config.json");
        QVERIFY(text.isOk());
        auto alone = parseModelConfig(*text, "config.json");
        QVERIFY(alone.isOk());
        QCOMPARE(alone->eosTokenIds, e.eosInConfig);
    }

    void parameterCounts_data()
    {
        QTest::addColumn<QString>("dir");
        QTest::addColumn<double>("published");
        // Totals from the model cards / hub pages.
        QTest::newRow("Qwen2.5-7B") << QStringLiteral("qwen2.5-7b-instruct") << 7.62e9;
        QTest::newRow("Qwen3-8B") << QStringLiteral("qwen3-8b") << 8.19e9;
        QTest::newRow("Llama-3.1-8B") << QStringLiteral("llama-3.1-8b-instruct") << 8.03e9;
        QTest::newRow("Llama-2-7B") << QStringLiteral("llama-2-7b") << 6.74e9;
        QTest::newRow("Mistral-7B-v0.3") << QStringLiteral("mistral-7b-instruct-v0.3") << 7.25e9;
    }

    void parameterCounts()
    {
        QFETCH(QString, dir);
        QFETCH(double, published);
        auto c = loadModelConfig(fixtureDir(dir.toUtf8().constData()));
        QVERIFY(c.isOk());
        const double count = double(c->parameterCount());
        QVERIFY2(std::abs(count - published) <= 0.005 * published,
                 qPrintable(QStringLiteral("%1 parameters vs %2 published").arg(count, 0, 'f', 0).arg(published, 0, 'f', 0)));
    }

    void tiedEmbeddingsAreCountedOnce()
    {
        // Qwen3-0.6B: 0.6B in total, 0.44B without embeddings (its model card).
        auto c = loadModelConfig(fixtureDir("qwen3-0.6b-transformers5"));
        QVERIFY(c.isOk());
        const double total = double(c->parameterCount());
        const double nonEmbedding = total - double(c->vocabSize * c->hiddenSize);
        QVERIFY(std::abs(total - 0.6e9) < 0.01 * 0.6e9);
        QVERIFY(std::abs(nonEmbedding - 0.44e9) < 0.01 * 0.44e9);
    }

    void kvBytesPerToken()
    {
        // Llama-3.1-8B: 128 KiB of fp16 KV per token; Qwen2.5-7B: 56 KiB (4 KV heads of 128, 28 layers).
        auto llama = loadModelConfig(fixtureDir("llama-3.1-8b-instruct"));
        auto qwen = loadModelConfig(fixtureDir("qwen2.5-7b-instruct"));
        QVERIFY(llama.isOk() && qwen.isOk());
        QCOMPARE(llama->kvBytesPerToken(), std::int64_t(128 * 1024));
        QCOMPARE(qwen->kvBytesPerToken(), std::int64_t(56 * 1024));
        QCOMPARE(qwen->kvBytesPerToken(1), std::int64_t(28 * 1024));
    }

    void variants()
    {
        {  // Mistral v0.1: sliding_window in force without a switch.
            auto c = parseText(patched("sliding_window", "4096").replace("LlamaForCausalLM", "MistralForCausalLM")
                                   .replace("\"llama\"", "\"mistral\""));
            QVERIFY(c.isOk());
            QCOMPARE(c->arch, ModelArch::Mistral);
            QCOMPARE(c->slidingWindow, std::optional<std::int64_t>(4096));
        }
        {  // Qwen gates it with use_sliding_window.
            nlohmann::json j = baseConfig();
            j["architectures"] = {"Qwen2ForCausalLM"};
            j["model_type"] = "qwen2";
            j["sliding_window"] = 4096;
            j["attention_bias"] = false;  // ignored: Qwen2 always has q/k/v bias
            auto off = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY(off.isOk());
            QVERIFY(!off->slidingWindow);
            QVERIFY(off->attentionBias);
            j["use_sliding_window"] = true;
            auto on = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY(on.isOk());
            QCOMPARE(on->slidingWindow, std::optional<std::int64_t>(4096));
        }
        {  // Llama with attention_bias and mlp_bias: q/k/v/o and gate/up/down biases are counted.
            nlohmann::json j = baseConfig();
            auto plain = parseText(QByteArray::fromStdString(j.dump()));
            j["attention_bias"] = true;
            j["mlp_bias"] = true;
            auto biased = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY(plain.isOk() && biased.isOk());
            QVERIFY(biased->attentionBias && biased->mlpBias);
            // per layer: q 256 + k 128 + v 128 + o 256, gate 512 + up 512 + down 256
            QCOMPARE(biased->parameterCount() - plain->parameterCount(), std::int64_t(2 * (512 + 256 + 1280)));
        }
        {  // Defaults: kv heads = heads, head_dim = hidden / heads (null allowed), F32 without dtype.
            nlohmann::json j = baseConfig();
            j.erase("num_key_value_heads");
            j.erase("torch_dtype");
            j.erase("rope_theta");
            j["head_dim"] = nullptr;
            j["pad_token_id"] = -1;
            j["hidden_size"] = 256.0;  // integral float
            auto c = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY2(c.isOk(), c.isOk() ? "" : c.error().toString().c_str());
            QCOMPARE(c->nKvHeads, std::int64_t(4));
            QCOMPARE(c->headDim, std::int64_t(64));
            QCOMPARE(c->dtype, DType::F32);
            QCOMPARE(c->ropeTheta, 10000.0);
            QVERIFY(!c->padTokenId);
            QCOMPARE(c->hiddenSize, std::int64_t(256));
        }
        {  // No architectures: model_type identifies the family.
            nlohmann::json j = baseConfig();
            j.erase("architectures");
            j["model_type"] = "qwen3";
            auto c = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY(c.isOk());
            QCOMPARE(c->arch, ModelArch::Qwen3);
            QCOMPARE(c->architectureName, std::string("Qwen3ForCausalLM"));
        }
        {  // transformers 5 rope_parameters with llama3 scaling, and yarn with its extra knobs.
            nlohmann::json j = baseConfig();
            j.erase("rope_theta");
            j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                                    {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                                    {"original_max_position_embeddings", 8192}};
            auto c = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY2(c.isOk(), c.isOk() ? "" : c.error().toString().c_str());
            QCOMPARE(c->ropeTheta, 500000.0);
            QCOMPARE(c->ropeScaling.type, RopeScalingType::Llama3);
            QCOMPARE(c->ropeScaling.factor, 8.0);
            QCOMPARE(c->ropeScaling.originalMaxPositions, std::int64_t(8192));
            j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 1e6}, {"factor", 4.0},
                                    {"original_max_position_embeddings", 32768}, {"beta_fast", 16},
                                    {"beta_slow", 2}, {"attention_factor", 1.1}, {"mscale", 0.707},
                                    {"mscale_all_dim", 0.5}};
            auto y = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY(y.isOk());
            QCOMPARE(y->ropeScaling.type, RopeScalingType::Yarn);
            QCOMPARE(y->ropeScaling.betaFast, 16.0);
            QCOMPARE(y->ropeScaling.betaSlow, 2.0);
            QCOMPARE(y->ropeScaling.attentionFactor, std::optional<double>(1.1));
            QCOMPARE(y->ropeScaling.mscale, std::optional<double>(0.707));
            QCOMPARE(y->ropeScaling.mscaleAllDim, std::optional<double>(0.5));
            j["rope_parameters"] = {{"type", "linear"}, {"factor", 2.0}};
            auto lin = parseText(QByteArray::fromStdString(j.dump()));
            QVERIFY(lin.isOk());
            QCOMPARE(lin->ropeScaling.type, RopeScalingType::Linear);
            QCOMPARE(lin->ropeTheta, 10000.0);
        }
    }

    void malformed_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<ErrorCode>("code");
        QTest::addColumn<QString>("mentions");  // the key or value the message must name
        const ErrorCode corrupt = ErrorCode::Corrupt;
        const ErrorCode unsupported = ErrorCode::Unsupported;
        QTest::newRow("not JSON") << QByteArray("{\"hidden_size\": 12") << corrupt << QStringLiteral("not valid JSON");
        QTest::newRow("not an object") << QByteArray("[1, 2]") << corrupt << QStringLiteral("JSON object");
        QTest::newRow("empty") << QByteArray("") << corrupt << QStringLiteral("not valid JSON");
        QTest::newRow("hidden_size string") << patched("hidden_size", "\"4096\"") << corrupt << QStringLiteral("hidden_size");
        QTest::newRow("hidden_size missing") << patched("hidden_size", "") << corrupt << QStringLiteral("hidden_size");
        QTest::newRow("hidden_size fractional") << patched("hidden_size", "256.5") << corrupt << QStringLiteral("hidden_size");
        QTest::newRow("zero heads") << patched("num_attention_heads", "0") << corrupt << QStringLiteral("num_attention_heads");
        QTest::newRow("negative ffn") << patched("intermediate_size", "-512") << corrupt << QStringLiteral("intermediate_size");
        QTest::newRow("negative vocab") << patched("vocab_size", "-1") << corrupt << QStringLiteral("vocab_size");
        QTest::newRow("kv heads do not divide") << patched("num_key_value_heads", "3") << corrupt << QStringLiteral("num_key_value_heads");
        QTest::newRow("kv heads above heads") << patched("num_key_value_heads", "8") << corrupt << QStringLiteral("num_key_value_heads");
        QTest::newRow("absurd layers") << patched("num_hidden_layers", "2147483648") << corrupt << QStringLiteral("num_hidden_layers");
        QTest::newRow("huge vocab") << patched("vocab_size", "1e20") << corrupt << QStringLiteral("vocab_size");
        QTest::newRow("uint64 overflow") << patched("vocab_size", "18446744073709551615") << corrupt << QStringLiteral("vocab_size");
        QTest::newRow("odd head_dim") << patched("head_dim", "63") << corrupt << QStringLiteral("head_dim");
        QTest::newRow("heads do not split hidden") << patched("num_attention_heads", "3").replace("\"num_key_value_heads\":2", "\"num_key_value_heads\":1")
                                                   << corrupt << QStringLiteral("head_dim");
        QTest::newRow("unknown architecture") << patched("architectures", "[\"Phi3ForCausalLM\"]") << unsupported
                                              << QStringLiteral("architecture 'Phi3ForCausalLM' is not supported");
        QTest::newRow("architectures not a list") << patched("architectures", "\"LlamaForCausalLM\"") << corrupt << QStringLiteral("architectures");
        QTest::newRow("architectures empty") << patched("architectures", "[]") << corrupt << QStringLiteral("architectures");
        QTest::newRow("unknown model_type only") << patched("architectures", "").replace("\"llama\"", "\"gemma\"") << unsupported
                                                 << QStringLiteral("gemma");
        QTest::newRow("unknown rope type") << patched("rope_scaling", R"({"rope_type": "longrope", "factor": 4})") << unsupported
                                           << QStringLiteral("longrope");
        QTest::newRow("rope_scaling a string") << patched("rope_scaling", "\"yarn\"") << corrupt << QStringLiteral("rope_scaling");
        QTest::newRow("rope factor string") << patched("rope_scaling", R"({"type": "yarn", "factor": "4"})") << corrupt
                                            << QStringLiteral("rope_scaling.factor");
        QTest::newRow("rope factor negative") << patched("rope_scaling", R"({"type": "linear", "factor": -2})") << corrupt
                                              << QStringLiteral("rope_scaling.factor");
        QTest::newRow("llama3 without original") << patched("rope_scaling", R"({"rope_type": "llama3", "factor": 8})") << corrupt
                                                 << QStringLiteral("original_max_position_embeddings");
        QTest::newRow("rope_parameters theta string") << patched("rope_parameters", R"({"rope_type": "default", "rope_theta": "1e6"})")
                                                      << corrupt << QStringLiteral("rope_parameters.rope_theta");
        QTest::newRow("rope_theta string") << patched("rope_theta", "\"10000\"") << corrupt << QStringLiteral("rope_theta");
        QTest::newRow("rms_norm_eps negative") << patched("rms_norm_eps", "-1e-6") << corrupt << QStringLiteral("rms_norm_eps");
        QTest::newRow("tie_word_embeddings string") << patched("tie_word_embeddings", "\"yes\"") << corrupt << QStringLiteral("tie_word_embeddings");
        QTest::newRow("unknown dtype") << patched("torch_dtype", "\"int4\"") << unsupported << QStringLiteral("int4");
        QTest::newRow("dtype a number") << patched("dtype", "16") << corrupt << QStringLiteral("dtype");
        QTest::newRow("eos a string") << patched("eos_token_id", "\"</s>\"") << corrupt << QStringLiteral("eos_token_id");
        QTest::newRow("eos list with a string") << patched("eos_token_id", "[2, \"x\"]") << corrupt << QStringLiteral("eos_token_id");
        QTest::newRow("eos negative") << patched("eos_token_id", "[-5]") << corrupt << QStringLiteral("eos_token_id");
        QTest::newRow("eos an object") << patched("eos_token_id", "{}") << corrupt << QStringLiteral("eos_token_id");
        QTest::newRow("bos beyond int32") << patched("bos_token_id", "4294967296") << corrupt << QStringLiteral("bos_token_id");
        QTest::newRow("hidden_act a number") << patched("hidden_act", "1") << corrupt << QStringLiteral("hidden_act");
    }

    void malformed()
    {
        QFETCH(QByteArray, json);
        QFETCH(ErrorCode, code);
        QFETCH(QString, mentions);
        auto c = parseText(json);
        QVERIFY2(!c.isOk(), json.constData());
        const QString message = QString::fromStdString(c.error().message);
        QVERIFY2(c.error().code == code, qPrintable(QString::fromUtf8(errorCodeName(c.error().code)) + u": " + message));
        QVERIFY2(message.startsWith(QStringLiteral("test/config.json: ")), qPrintable(message));
        QVERIFY2(message.contains(mentions), qPrintable(message));
    }

    void generationConfig_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("mentions");  // empty: must parse
        QTest::newRow("all fields") << QByteArray(R"({"do_sample": false, "temperature": 0.0, "top_p": 1, "top_k": -1,
            "min_p": 0.05, "repetition_penalty": 1.1, "max_new_tokens": 512, "eos_token_id": [7, 8, 7],
            "bos_token_id": 1, "pad_token_id": null})") << QString();
        QTest::newRow("not JSON") << QByteArray("temperature=1") << QStringLiteral("not valid JSON");
        QTest::newRow("temperature string") << QByteArray(R"({"temperature": "0.7"})") << QStringLiteral("temperature");
        QTest::newRow("temperature negative") << QByteArray(R"({"temperature": -1})") << QStringLiteral("temperature");
        QTest::newRow("top_p above 1") << QByteArray(R"({"top_p": 1.5})") << QStringLiteral("top_p");
        QTest::newRow("top_k float") << QByteArray(R"({"top_k": 2.5})") << QStringLiteral("top_k");
        QTest::newRow("do_sample int") << QByteArray(R"({"do_sample": 1})") << QStringLiteral("do_sample");
        QTest::newRow("eos string") << QByteArray(R"({"eos_token_id": "2"})") << QStringLiteral("eos_token_id");
        QTest::newRow("max_new_tokens negative") << QByteArray(R"({"max_new_tokens": -3})") << QStringLiteral("max_new_tokens");
        QTest::newRow("repetition_penalty zero") << QByteArray(R"({"repetition_penalty": 0})") << QStringLiteral("repetition_penalty");
    }

    void generationConfig()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, mentions);
        auto g = parseGenerationConfig(std::string_view(json.constData(), std::size_t(json.size())), "gen.json");
        if (mentions.isEmpty()) {
            QVERIFY2(g.isOk(), g.isOk() ? "" : g.error().toString().c_str());
            QCOMPARE(g->doSample, std::optional<bool>(false));
            QCOMPARE(g->temperature, std::optional<double>(0.0));
            QCOMPARE(g->topP, std::optional<double>(1.0));
            QVERIFY(!g->topK);  // -1 means no top-k
            QCOMPARE(g->minP, std::optional<double>(0.05));
            QCOMPARE(g->repetitionPenalty, std::optional<double>(1.1));
            QCOMPARE(g->maxNewTokens, std::optional<std::int64_t>(512));
            QCOMPARE(g->eosTokenIds, (std::vector<std::int32_t>{7, 8}));
            QCOMPARE(g->bosTokenId, std::optional<std::int32_t>(1));
            QVERIFY(!g->padTokenId);
            return;
        }
        QVERIFY(!g.isOk());
        QCOMPARE(g.error().code, ErrorCode::Corrupt);
        const QString message = QString::fromStdString(g.error().message);
        QVERIFY2(message.startsWith(QStringLiteral("gen.json: ")) && message.contains(mentions), qPrintable(message));
    }

    void loadErrorsNameTheFile()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string root = dir.path().toStdString();
        auto missing = loadModelConfig(root);
        QVERIFY(!missing.isOk());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QVERIFY(missing.error().message.find("config.json") != std::string::npos);

        QVERIFY(writeFile(root + "/config.json", baseConfig().dump()));
        QVERIFY(writeFile(root + "/generation_config.json", R"({"top_p": "high"})"));
        auto badGeneration = loadModelConfig(root);
        QVERIFY(!badGeneration.isOk());
        QVERIFY2(badGeneration.error().message.find("generation_config.json: 'top_p'") != std::string::npos,
                 badGeneration.error().message.c_str());
    }
};

QTEST_APPLESS_MAIN(TestModelConfig)
#include "tst_model_config.moc"
