// `hearth-cli info`: what this build is and which backend it would use.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "build_config.h"
#include "cli/commands.h"
#include "engine/backend_probe.h"
#include "util/paths.h"

namespace hearth::cli {

void registerInfoCommand(CLI::App& app, int& exitCode)
{
    auto* cmd = app.add_subcommand("info", "Show the build, the backend and GPU found, and Hearth's folders");
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json, "Print JSON instead of text");
    cmd->callback([json, &exitCode] {
        const BackendReport r = probeBackends();
        if (*json) {
            nlohmann::json gpus = nlohmann::json::array();
            for (const auto& g : r.gpus)
                gpus.push_back({{"index", g.index}, {"name", g.name},
                                {"compute_capability", std::to_string(g.computeMajor) + "." + std::to_string(g.computeMinor)},
                                {"total_bytes", g.totalBytes}, {"free_bytes", g.freeBytes}});
            nlohmann::json j = {{"version", HEARTH_VERSION_STRING}, {"cuda_built", r.cudaBuilt},
                                {"cuda_architectures", r.cudaArchitectures}, {"backend", r.backend},
                                {"reason", r.reason}, {"gpus", gpus},
                                {"paths", {{"config", configDir()}, {"models", defaultModelsDir()},
                                           {"cache", cacheDir()}, {"hf_hub_cache", huggingFaceHubCache()}}}};
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            std::printf("Hearth %s\n", HEARTH_VERSION_STRING);
            std::printf("CUDA backend built: %s%s\n", r.cudaBuilt ? "yes" : "no",
                        r.cudaBuilt ? (" (architectures " + r.cudaArchitectures + ")").c_str() : "");
            std::printf("Backend:            %s\n", r.summary().c_str());
            for (const auto& g : r.gpus)
                std::printf("GPU %d:              %s, compute %d.%d, %.1f / %.1f GiB free\n", g.index, g.name.c_str(),
                            g.computeMajor, g.computeMinor, g.freeBytes / double(1u << 30), g.totalBytes / double(1u << 30));
            std::printf("Models folder:      %s\n", defaultModelsDir().c_str());
            std::printf("Hugging Face cache: %s\n", huggingFaceHubCache().c_str());
            std::printf("Settings:           %s\n", configDir().c_str());
            std::printf("Caches:             %s\n", cacheDir().c_str());
        }
        exitCode = 0;
    });
}

}  // namespace hearth::cli
