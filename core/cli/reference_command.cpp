// `hearth-cli gen-reference OUTDIR`: writes the synthetic reference models (two tiny Qwen2 models
// and a LoRA adapter) whose Hugging Face outputs are the project's correctness oracle.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "model/reference_models.h"
#include "util/sha256.h"

namespace hearth::cli {

void registerReferenceCommand(CLI::App& app, int& exitCode)
{
    auto* cmd = app.add_subcommand("gen-reference",
                                   "Write the synthetic reference models (ref-qwen2-d64, ref-qwen2-d128, ref-qwen2-d64-lora)");
    struct Options {
        std::string outDir;
        std::string tokenizerDir = "tests/fixtures/tokenizers/qwen3";
    };
    auto opts = std::make_shared<Options>();
    cmd->add_option("OUTDIR", opts->outDir, "Folder to write the three model folders into")->required();
    cmd->add_option("--tokenizer", opts->tokenizerDir,
                    "Folder with the Qwen tokenizer.json and tokenizer_config.json to copy into the models")
        ->capture_default_str();
    cmd->callback([opts, &exitCode] {
        const Status written = writeReferenceModels(opts->outDir, opts->tokenizerDir);
        if (!written) {
            std::fprintf(stderr, "hearth-cli: %s\n", written.error().toString().c_str());
            exitCode = 1;
            return;
        }
        // Print the digests so they can be checked against the published sums at a glance.
        for (const char* file : {"ref-qwen2-d64/model.safetensors", "ref-qwen2-d128/model.safetensors",
                                 "ref-qwen2-d64-lora/adapter_model.safetensors"}) {
            const std::string path = opts->outDir + "/" + file;
            auto digest = sha256File(path);
            if (!digest) {
                std::fprintf(stderr, "hearth-cli: %s\n", digest.error().toString().c_str());
                exitCode = 1;
                return;
            }
            std::printf("%s  %s\n", digest->c_str(), file);
        }
        exitCode = 0;
    });
}

}  // namespace hearth::cli
