// `hearth-cli bench-tokenize TOKENIZER FILE`: encoding speed on one thread, for docs/PERFORMANCE.md
// and tests/perf/bench_tokenize.py (which runs HF tokenizers on the same text the same way).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/mapped_file.h"

namespace hearth::cli {

namespace {

std::vector<std::string_view> splitLines(std::string_view text)
{
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        end = end == std::string_view::npos ? text.size() : end + 1;
        lines.push_back(text.substr(start, end - start));
        start = end;
    }
    return lines;
}

}  // namespace

void registerTokenizeBenchCommand(CLI::App& app, int& exitCode)
{
    auto* cmd = app.add_subcommand("bench-tokenize", "Measure single-threaded encoding speed (MB/s) of a tokenizer on a text file");
    auto tokenizerPath = std::make_shared<std::string>();
    auto filePath = std::make_shared<std::string>();
    auto perLine = std::make_shared<bool>(false);
    auto repeats = std::make_shared<int>(3);
    cmd->add_option("TOKENIZER", *tokenizerPath, "Model folder or tokenizer.json")->required();
    cmd->add_option("FILE", *filePath, "UTF-8 text to encode")->required();
    cmd->add_flag("--lines", *perLine, "Encode each line separately instead of the whole text at once");
    cmd->add_option("--repeat", *repeats, "Runs; the fastest is reported (the first also warms the word cache)")->check(CLI::Range(1, 100));
    cmd->callback([=, &exitCode] {
        auto loadStart = std::chrono::steady_clock::now();
        auto tokenizer = loadTokenizer(*tokenizerPath);
        if (!tokenizer) {
            std::fprintf(stderr, "error: %s\n", tokenizer.error().toString().c_str());
            exitCode = 1;
            return;
        }
        double loadMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - loadStart).count();
        auto text = readTextFile(*filePath, std::size_t{1} << 30);
        if (!text) {
            std::fprintf(stderr, "error: %s\n", text.error().toString().c_str());
            exitCode = 1;
            return;
        }
        const std::vector<std::string_view> lines = *perLine ? splitLines(*text) : std::vector<std::string_view>{*text};
        double bestS = 1e300;
        double firstS = 0;
        std::size_t nTokens = 0;
        for (int r = 0; r < *repeats; ++r) {
            auto start = std::chrono::steady_clock::now();
            std::size_t n = 0;
            for (std::string_view line : lines) n += (*tokenizer)->encode(line).size();
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (r == 0) firstS = s;
            bestS = std::min(bestS, s);
            nTokens = n;
        }
        double mb = static_cast<double>(text->size()) / 1e6;
        std::printf("tokenizer load: %.0f ms\n", loadMs);
        std::printf("text: %.2f MB, %zu %s, %zu tokens\n", mb, lines.size(), *perLine ? "lines" : "piece", nTokens);
        std::printf("first run: %.3f s, %.2f MB/s\n", firstS, mb / firstS);
        std::printf("best of %d: %.3f s, %.2f MB/s\n", *repeats, bestS, mb / bestS);
    });
}

}  // namespace hearth::cli
