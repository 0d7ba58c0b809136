// `hearth-cli list` and `hearth-cli inspect`: the model library and one model in detail.
//
// `list --json` prints
//   {"models": [{"name", "path", "source" ("folder"|"hf-cache"|"gguf-file"), "format"
//     ("safetensors"|"gguf"), "architecture", "parameter_count", "dtype", "size_on_disk_bytes",
//     "weight_bytes", "tensor_count", "context_length", "has_tokenizer", "ok", "error",
//     "estimate": null | {"context_length", "weights_bytes", "kv_cache_bytes", "workspace_bytes",
//                         "total_bytes", "kv_bytes_per_token"},
//     "fit": null | "fits" | "tight" | "does-not-fit"}],
//    "free_bytes": null | N, "warnings": [...],
//    "scan": {"header_reads", "reused", "added", "changed", "removed"}}
// `inspect --json` prints
//   {"ok": true, "path", "name", "format", "architecture", "parameter_count", "dtype",
//    "tensor_count", "weight_bytes", "size_on_disk_bytes", "context_length", "has_tokenizer",
//    "tensor_types": {"BF16": nTensors, ...}, "files": [{"path", "size_bytes"}],
//    "config": null | {...ModelConfig...}            (safetensors with config.json)
//    "metadata": null | {key: value or {"array": type, "length": n}}   (gguf)
//    "estimate": null | {as above}}
// or, for a broken model, {"ok": false, "path", "error"} with exit code 1.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "engine/backend_probe.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "model/model_library.h"
#include "model/safetensors.h"
#include "util/paths.h"

namespace fs = std::filesystem;

namespace hearth::cli {

namespace {

nlohmann::json estimateJson(const MemoryEstimate& m)
{
    return {{"context_length", m.contextLength}, {"weights_bytes", m.weightsBytes},
            {"kv_cache_bytes", m.kvCacheBytes},  {"workspace_bytes", m.workspaceBytes},
            {"total_bytes", m.totalBytes},       {"kv_bytes_per_token", m.kvBytesPerToken}};
}

bool hasShape(const ModelEntry& e) { return e.shape.nLayers > 0 && e.shape.hiddenSize > 0; }

std::optional<std::uint64_t> freeDeviceBytes(double freeGib)
{
    if (freeGib >= 0)
        return static_cast<std::uint64_t>(freeGib * double(1ull << 30));
    const BackendReport r = probeBackends();
    if (!r.gpus.empty())
        return r.gpus.front().freeBytes;
    return std::nullopt;
}

struct ListOptions {
    std::vector<std::string> dirs;
    bool noHfCache = false;
    bool json = false;
    std::int64_t context = 0;
    double freeGib = -1;
};

int runList(const ListOptions& o)
{
    LibraryScanOptions scanOptions = defaultScanOptions();
    if (!o.dirs.empty()) {
        scanOptions.folders.clear();
        for (const auto& d : o.dirs) {
            std::error_code ec;
            if (!fs::is_directory(d, ec)) {
                std::fprintf(stderr, "hearth-cli list: %s: no such folder\n", d.c_str());
                return 1;
            }
            scanOptions.folders.push_back(fs::absolute(d, ec).lexically_normal().string());
        }
    }
    scanOptions.includeHfCache = !o.noHfCache;
    const LibraryScan scan = scanLibrary(scanOptions);
    const auto freeBytes = freeDeviceBytes(o.freeGib);

    if (o.json) {
        nlohmann::json models = nlohmann::json::array();
        for (const auto& e : scan.entries) {
            nlohmann::json m = {{"name", e.displayName}, {"path", e.path}, {"source", modelSourceKindName(e.sourceKind)},
                                {"format", e.format}, {"architecture", e.architecture},
                                {"parameter_count", e.parameterCount}, {"dtype", e.dtype},
                                {"size_on_disk_bytes", e.sizeOnDiskBytes}, {"weight_bytes", e.weightBytes},
                                {"tensor_count", e.tensorCount}, {"context_length", e.contextLength},
                                {"has_tokenizer", e.hasTokenizer}, {"ok", e.ok}, {"error", e.error},
                                {"estimate", nullptr}, {"fit", nullptr}};
            if (e.ok && hasShape(e)) {
                const MemoryEstimate est = e.estimate(o.context);
                m["estimate"] = estimateJson(est);
                if (freeBytes)
                    m["fit"] = fitVerdictName(fitsIn(est.totalBytes, *freeBytes));
            }
            models.push_back(std::move(m));
        }
        const nlohmann::json out = {
            {"models", models},
            {"free_bytes", freeBytes ? nlohmann::json(*freeBytes) : nlohmann::json(nullptr)},
            {"warnings", scan.stats.warnings},
            {"scan", {{"header_reads", scan.stats.headerReads}, {"reused", scan.stats.reused},
                      {"added", scan.stats.added}, {"changed", scan.stats.changed}, {"removed", scan.stats.removed}}}};
        std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return 0;
    }

    for (const auto& w : scan.stats.warnings)
        std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::vector<std::vector<std::string>> rows = {
        {"NAME", "ARCH", "PARAMS", "FORMAT", "SIZE", "CONTEXT", "TOKENIZER", "FIT"}};
    std::vector<const ModelEntry*> broken;
    for (const auto& e : scan.entries) {
        if (!e.ok) {
            broken.push_back(&e);
            continue;
        }
        std::string fit = "-";
        if (hasShape(e) && freeBytes) {
            const MemoryEstimate est = e.estimate(o.context);
            fit = std::string(fitVerdictName(fitsIn(est.totalBytes, *freeBytes))) + " (" + formatBytes(est.totalBytes) + ")";
        }
        rows.push_back({e.displayName, e.architecture, formatParameterCount(e.parameterCount), e.format + "/" + e.dtype,
                        formatBytes(e.sizeOnDiskBytes), e.contextLength > 0 ? std::to_string(e.contextLength) : "-",
                        e.hasTokenizer ? "yes" : "no", fit});
    }
    if (rows.size() == 1 && broken.empty()) {
        std::printf("No models found. Looked in:\n");
        for (const auto& f : scanOptions.folders)
            std::printf("  %s\n", f.c_str());
        if (scanOptions.includeHfCache)
            std::printf("  %s (Hugging Face cache)\n", scanOptions.hfCacheDir.c_str());
        return 0;
    }
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i)
            widths[i] = std::max(widths[i], r[i].size());
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i)
            line += r[i] + (i + 1 < r.size() ? std::string(widths[i] - r[i].size() + 2, ' ') : "");
        std::printf("%s\n", line.c_str());
    }
    if (freeBytes)
        std::printf("\nFit against %s free%s.\n", formatBytes(*freeBytes).c_str(),
                    o.context > 0 ? (" at " + std::to_string(o.context) + " tokens of context").c_str()
                                  : " at min(model context, 8192) tokens");
    if (!broken.empty()) {
        std::printf("\nNot usable:\n");
        for (const auto* e : broken)
            std::printf("  %s (%s): %s\n", e->displayName.c_str(), e->path.c_str(), e->error.c_str());
    }
    return 0;
}

nlohmann::json configJson(const ModelConfig& c)
{
    nlohmann::json eos = c.eosTokenIds;
    nlohmann::json j = {{"architecture", c.architectureName}, {"model_type", c.modelType},
                        {"family", modelArchName(c.arch)}, {"hidden_size", c.hiddenSize},
                        {"num_hidden_layers", c.nLayers}, {"num_attention_heads", c.nHeads},
                        {"num_key_value_heads", c.nKvHeads}, {"head_dim", c.headDim},
                        {"intermediate_size", c.intermediateSize}, {"vocab_size", c.vocabSize},
                        {"max_position_embeddings", c.maxPositions}, {"rms_norm_eps", c.rmsNormEps},
                        {"rope_theta", c.ropeTheta}, {"tie_word_embeddings", c.tieWordEmbeddings},
                        {"attention_bias", c.attentionBias}, {"qk_norm", c.qkNorm}, {"mlp_bias", c.mlpBias},
                        {"dtype", std::string(dtypeName(c.dtype))}, {"hidden_act", c.hiddenAct},
                        {"eos_token_ids", eos}, {"kv_bytes_per_token_fp16", c.kvBytesPerToken(2)},
                        {"parameter_count_from_config", c.parameterCount()}};
    j["sliding_window"] = c.slidingWindow ? nlohmann::json(*c.slidingWindow) : nlohmann::json(nullptr);
    j["bos_token_id"] = c.bosTokenId ? nlohmann::json(*c.bosTokenId) : nlohmann::json(nullptr);
    j["pad_token_id"] = c.padTokenId ? nlohmann::json(*c.padTokenId) : nlohmann::json(nullptr);
    static const char* const kRopeNames[] = {"none", "linear", "dynamic", "yarn", "llama3"};
    j["rope_scaling"] = {{"type", kRopeNames[static_cast<int>(c.ropeScaling.type)]},
                         {"factor", c.ropeScaling.factor},
                         {"original_max_position_embeddings", c.ropeScaling.originalMaxPositions}};
    return j;
}

nlohmann::json ggufValueJson(const GgufValue& v)
{
    if (const GgufArray* a = v.asArray())
        return {{"array", static_cast<int>(a->elementType)}, {"length", a->values.size()}};
    if (const std::string* s = v.asString())
        return *s;
    if (v.type == GgufValueType::Bool)
        return std::get<bool>(v.v);
    if (v.type == GgufValueType::Float32 || v.type == GgufValueType::Float64)
        return v.asFloat().value_or(0.0);
    if (auto u = v.asUint())
        return *u;
    if (auto i = v.asInt())
        return *i;
    return nullptr;
}

// Detail only the files can give: config, metadata, tensor types, file list.
Status addDetail(const ModelEntry& e, nlohmann::json& out)
{
    std::map<std::string, int> types;
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : e.files)
        files.push_back({{"path", f.path}, {"size_bytes", f.sizeBytes}});
    out["files"] = files;
    out["config"] = nullptr;
    out["metadata"] = nullptr;
    if (e.format == "gguf") {
        HEARTH_TRY_ASSIGN(GgufHeader h, readGgufHeader(e.path));
        nlohmann::json meta = nlohmann::json::object();
        for (const auto& kv : h.metadata)
            meta[kv.key] = ggufValueJson(kv.value);
        out["metadata"] = meta;
        out["gguf_version"] = h.version;
        for (const auto& t : h.tensors)
            ++types[ggmlTypeName(t.ggmlType)];
    } else {
        HEARTH_TRY_ASSIGN(ModelConfig c, loadModelConfig(e.path));
        out["config"] = configJson(c);
        HEARTH_TRY_ASSIGN(SafetensorsModel m, SafetensorsModel::open(e.path));
        for (const auto& t : m.tensors())
            ++types[std::string(dtypeName(t.dtype))];
    }
    out["tensor_types"] = types;
    return Status::ok();
}

int runInspect(const std::string& path, bool json, std::int64_t context)
{
    const auto fail = [&](const std::string& message) {
        if (json)
            std::printf("%s\n", nlohmann::json({{"ok", false}, {"path", path}, {"error", message}})
                                    .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                                    .c_str());
        std::fprintf(stderr, "hearth-cli inspect: %s\n", message.c_str());
        return 1;
    };
    auto entry = readModelEntry(path);
    if (!entry)
        return fail(entry.error().message);
    const ModelEntry& e = *entry;
    if (!e.ok)
        return fail(e.error);

    nlohmann::json out = {{"ok", true}, {"path", e.path}, {"name", e.displayName}, {"format", e.format},
                          {"architecture", e.architecture}, {"parameter_count", e.parameterCount},
                          {"dtype", e.dtype}, {"tensor_count", e.tensorCount}, {"weight_bytes", e.weightBytes},
                          {"size_on_disk_bytes", e.sizeOnDiskBytes}, {"context_length", e.contextLength},
                          {"has_tokenizer", e.hasTokenizer}, {"estimate", nullptr}};
    if (Status s = addDetail(e, out); !s)
        return fail(s.message());
    std::optional<MemoryEstimate> est;
    if (hasShape(e)) {
        est = e.estimate(context);
        out["estimate"] = estimateJson(*est);
    }
    if (json) {
        std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return 0;
    }

    std::printf("Model:        %s\n", e.path.c_str());
    std::printf("Format:       %s (%s)\n", e.format.c_str(), e.dtype.c_str());
    std::printf("Architecture: %s\n", e.architecture.c_str());
    std::printf("Parameters:   %s (%llu)\n", formatParameterCount(e.parameterCount).c_str(),
                static_cast<unsigned long long>(e.parameterCount));
    std::printf("Tensors:      %llu, %s of weights\n", static_cast<unsigned long long>(e.tensorCount),
                formatBytes(e.weightBytes).c_str());
    std::string typeList;
    for (const auto& [name, n] : out["tensor_types"].items())
        typeList += (typeList.empty() ? "" : ", ") + name + " x" + std::to_string(n.get<int>());
    std::printf("Tensor types: %s\n", typeList.c_str());
    std::printf("On disk:      %s in %zu files\n", formatBytes(e.sizeOnDiskBytes).c_str(), e.files.size());
    std::printf("Context:      %lld tokens\n", static_cast<long long>(e.contextLength));
    std::printf("Tokenizer:    %s\n", e.hasTokenizer ? "yes" : "no");
    const auto& s = e.shape;
    std::printf("Shape:        %lld layers, hidden %lld, %lld heads / %lld KV heads, head dim %lld, FFN %lld, vocab %lld\n",
                static_cast<long long>(s.nLayers), static_cast<long long>(s.hiddenSize),
                static_cast<long long>(s.nHeads), static_cast<long long>(s.nKvHeads),
                static_cast<long long>(s.headDim), static_cast<long long>(s.intermediateSize),
                static_cast<long long>(s.vocabSize));
    if (e.format == "safetensors") {
        const auto& c = out["config"];
        std::printf("Config:       rope theta %g, rope scaling %s, tied embeddings %s, q/k/v bias %s\n",
                    c["rope_theta"].get<double>(), c["rope_scaling"]["type"].get<std::string>().c_str(),
                    c["tie_word_embeddings"].get<bool>() ? "yes" : "no", c["attention_bias"].get<bool>() ? "yes" : "no");
    } else {
        std::printf("Metadata:     %zu keys (--json lists them)\n", out["metadata"].size());
    }
    if (est) {
        std::printf("Memory at %lld tokens: %s total = weights %s + KV cache %s + workspace %s\n",
                    static_cast<long long>(est->contextLength), formatBytes(est->totalBytes).c_str(),
                    formatBytes(est->weightsBytes).c_str(), formatBytes(est->kvCacheBytes).c_str(),
                    formatBytes(est->workspaceBytes).c_str());
    }
    return 0;
}

}  // namespace

void registerLibraryCommands(CLI::App& app, int& exitCode)
{
    auto list = std::make_shared<ListOptions>();
    auto* listCmd = app.add_subcommand("list", "List the models in the library folders and the Hugging Face cache");
    listCmd->add_option("--dir", list->dirs, "Scan this folder instead of the default models folder (repeatable)");
    listCmd->add_flag("--no-hf-cache", list->noHfCache, "Do not scan the Hugging Face hub cache");
    listCmd->add_flag("--json", list->json, "Print JSON instead of a table");
    listCmd->add_option("--context", list->context, "Context length for the memory estimate (default min(model, 8192))")
        ->check(CLI::NonNegativeNumber);
    listCmd->add_option("--free-gib", list->freeGib, "Free device memory to judge fit against (default: the first GPU's)")
        ->check(CLI::NonNegativeNumber);
    listCmd->callback([list, &exitCode] { exitCode = runList(*list); });

    auto inspectPath = std::make_shared<std::string>();
    auto inspectJson = std::make_shared<bool>(false);
    auto inspectContext = std::make_shared<std::int64_t>(0);
    auto* inspectCmd = app.add_subcommand("inspect", "Show what a model folder, safetensors file or GGUF file holds");
    inspectCmd->add_option("path", *inspectPath, "Model folder, .safetensors file or index, or .gguf file")->required();
    inspectCmd->add_flag("--json", *inspectJson, "Print JSON instead of text");
    inspectCmd->add_option("--context", *inspectContext, "Context length for the memory estimate (default min(model, 8192))")
        ->check(CLI::NonNegativeNumber);
    inspectCmd->callback([inspectPath, inspectJson, inspectContext, &exitCode] {
        exitCode = runInspect(*inspectPath, *inspectJson, *inspectContext);
    });
}

}  // namespace hearth::cli
