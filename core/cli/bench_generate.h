// `hearth-cli bench` without --load: the generation benchmark over the Engine (any backend).
// bench_command.cpp owns the subcommand; these add the generation options to it and run it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace hearth::cli {

struct BenchGenerateArgs {
    std::string backend = "auto";
    std::string promptLengths = "128,512,2048,8192";
    std::string streams = "1,4,16,32,64";
    int decodeTokens = 128;
    std::string longContexts = "8192,32768";
    bool quick = false;
    bool compareLlamacpp = false;
    bool noGemmTune = false;  // CUDA: every GEMM on cuBLAS's default, to compare with the tuned plans
    int threads = 0;
    unsigned seed = 1234;
    double timeoutS = 600.0;  // per wait (load, one run); a stuck engine ends the bench with an error
    // Set by addBenchGenerateOptions: whether the user gave these (else --quick may replace them).
    CLI::Option* promptLengthsOpt = nullptr;
    CLI::Option* streamsOpt = nullptr;
    CLI::Option* decodeTokensOpt = nullptr;
    CLI::Option* longContextsOpt = nullptr;
};

// Adds --backend, --prompt-lengths, --streams, --decode-tokens, --long-contexts, --quick, ... to `cmd`.
void addBenchGenerateOptions(CLI::App* cmd, BenchGenerateArgs& args);

// Runs the generation benchmark on `model`; returns the exit code (0, 1 failure, 2 bad options).
int runBenchGenerate(const BenchGenerateArgs& args, const std::string& model, bool json);

}  // namespace hearth::cli
