#include "demo_model.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <filesystem>

#include "model/reference_models.h"
#include "util/mapped_file.h"
#include "util/paths.h"

namespace hearth::gui {

namespace fs = std::filesystem;

namespace {

// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest move to U+0100 up.
QString byteLevelChar(int byte)
{
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
    if (printable) return QString(QChar(byte));
    int shifted = 0;
    for (int b = 0; b < byte; ++b) {
        const bool p = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (!p) ++shifted;
    }
    return QString(QChar(256 + shifted));
}

QJsonObject byteLevel()
{
    return QJsonObject{{QStringLiteral("type"), QStringLiteral("ByteLevel")},
                       {QStringLiteral("add_prefix_space"), false},
                       {QStringLiteral("trim_offsets"), false},
                       {QStringLiteral("use_regex"), false}};
}

// A byte-level BPE vocabulary of the 256 bytes (ids 0-255, no merges) plus Qwen's three special
// tokens at their Qwen ids, which the reference model's config names as bos/eos.
std::string tokenizerJson()
{
    QJsonObject vocab;
    for (int b = 0; b < 256; ++b) vocab.insert(byteLevelChar(b), b);
    QJsonArray added;
    const std::pair<const char*, int> specials[] = {{"<|endoftext|>", 151643}, {"<|im_start|>", 151644}, {"<|im_end|>", 151645}};
    for (const auto& [content, id] : specials)
        added.append(QJsonObject{{QStringLiteral("id"), id},
                                 {QStringLiteral("content"), QLatin1String(content)},
                                 {QStringLiteral("single_word"), false},
                                 {QStringLiteral("lstrip"), false},
                                 {QStringLiteral("rstrip"), false},
                                 {QStringLiteral("normalized"), false},
                                 {QStringLiteral("special"), true}});
    const QJsonObject model{{QStringLiteral("type"), QStringLiteral("BPE")},
                            {QStringLiteral("dropout"), QJsonValue()},
                            {QStringLiteral("unk_token"), QJsonValue()},
                            {QStringLiteral("continuing_subword_prefix"), QString()},
                            {QStringLiteral("end_of_word_suffix"), QString()},
                            {QStringLiteral("fuse_unk"), false},
                            {QStringLiteral("byte_fallback"), false},
                            {QStringLiteral("ignore_merges"), false},
                            {QStringLiteral("vocab"), vocab},
                            {QStringLiteral("merges"), QJsonArray()}};
    const QJsonObject root{{QStringLiteral("version"), QStringLiteral("1.0")},
                           {QStringLiteral("truncation"), QJsonValue()},
                           {QStringLiteral("padding"), QJsonValue()},
                           {QStringLiteral("added_tokens"), added},
                           {QStringLiteral("normalizer"), QJsonValue()},
                           {QStringLiteral("pre_tokenizer"), byteLevel()},
                           {QStringLiteral("post_processor"), byteLevel()},
                           {QStringLiteral("decoder"), byteLevel()},
                           {QStringLiteral("model"), model}};
    return QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();
}

std::string tokenizerConfigJson()
{
    const QString chatTemplate = QStringLiteral(
        "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
        "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}");
    const QJsonObject root{{QStringLiteral("add_bos_token"), false},
                           {QStringLiteral("bos_token"), QJsonValue()},
                           {QStringLiteral("eos_token"), QStringLiteral("<|im_end|>")},
                           {QStringLiteral("pad_token"), QStringLiteral("<|endoftext|>")},
                           {QStringLiteral("model_max_length"), 32768},
                           {QStringLiteral("tokenizer_class"), QStringLiteral("Qwen2Tokenizer")},
                           {QStringLiteral("chat_template"), chatTemplate}};
    return QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();
}

Status removeAll(const fs::path& path)
{
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return makeError(ErrorCode::Io, "demo model: cannot remove " + path.string() + ": " + ec.message());
    return Status::ok();
}

}  // namespace

QString defaultDemoModelDir()
{
    return QString::fromStdString(defaultModelsDir()) + QLatin1Char('/') + QLatin1String(kDemoModelName);
}

bool isDemoModel(const std::string& path)
{
    return fs::path(path).filename() == kDemoModelName;
}

Status createDemoModel(const std::string& targetDir)
{
    const fs::path target(targetDir);
    if (target.filename() != kDemoModelName)
        return makeError(ErrorCode::InvalidArgument, "demo model: refusing to write into " + targetDir +
                                                         " (its folder must be named " + kDemoModelName + ")");
    const fs::path staging = target.parent_path() / (std::string(".") + kDemoModelName + ".partial");
    HEARTH_TRY_STATUS(removeAll(staging));
    const fs::path tokenizerDir = staging / "tokenizer";
    HEARTH_TRY_STATUS(makeDirs(tokenizerDir.string()));
    HEARTH_TRY_STATUS(writeFileAtomically((tokenizerDir / "tokenizer.json").string(), tokenizerJson()));
    HEARTH_TRY_STATUS(writeFileAtomically((tokenizerDir / "tokenizer_config.json").string(), tokenizerConfigJson()));
    HEARTH_TRY_STATUS(writeReferenceModels((staging / "models").string(), tokenizerDir.string()));
    HEARTH_TRY_STATUS(writeFileAtomically(
        (staging / "models" / kReferenceModelD64 / "README.txt").string(),
        "Hearth's built-in demo model: a tiny Qwen2-shaped model with RANDOM weights.\n"
        "It produces nonsense. It exists so you can try loading, chat and the local API without a download.\n"
        "Delete this folder (or use Delete in the library) when you no longer need it.\n"));
    HEARTH_TRY_STATUS(removeAll(target));
    std::error_code ec;
    fs::rename(staging / "models" / kReferenceModelD64, target, ec);
    if (ec) return makeError(ErrorCode::Io, "demo model: cannot move it into " + targetDir + ": " + ec.message());
    return removeAll(staging);
}

}  // namespace hearth::gui
