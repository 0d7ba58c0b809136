// Generates the reference models under a file lock so parallel ctest processes do not race, and
// marks completion with a stamp file so later runs (and later tests) reuse them.
#include "support/reference_models.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include <nlohmann/json.hpp>

#include "model/reference_models.h"
#include "util/mapped_file.h"
#include "util/paths.h"

namespace hearth::test {

namespace {

// Bump when the generator's output changes so stale folders are regenerated.
constexpr const char* kStampName = ".generated-v1";

std::string generateLocked(const std::string& dir)
{
    const std::string stamp = dir + "/" + kStampName;
    std::error_code ec;
    if (std::filesystem::exists(stamp, ec))
        return dir;
    std::filesystem::remove_all(dir, ec);
    const Status written = writeReferenceModels(dir, std::string(HEARTH_FIXTURES_DIR) + "/tokenizers/qwen3");
    if (!written) {
        std::fprintf(stderr, "referenceModelsDir: %s\n", written.error().toString().c_str());
        return {};
    }
    const Status stamped = writeFileAtomically(stamp, "written by tests/support/reference_models.cpp\n");
    if (!stamped) {
        std::fprintf(stderr, "referenceModelsDir: %s\n", stamped.error().toString().c_str());
        return {};
    }
    return dir;
}

}  // namespace

std::string referenceModelsDir()
{
    static std::mutex mutex;
    static std::string cached;
    const std::lock_guard<std::mutex> guard(mutex);
    if (!cached.empty())
        return cached;

    const std::string binaryDir = HEARTH_BINARY_DIR;
    if (const Status made = makeDirs(binaryDir); !made) {
        std::fprintf(stderr, "referenceModelsDir: %s\n", made.error().toString().c_str());
        return {};
    }
    const std::string lockPath = binaryDir + "/reference-models.lock";
    const int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::perror(("referenceModelsDir: cannot open " + lockPath).c_str());
        return {};
    }
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            std::perror(("referenceModelsDir: cannot lock " + lockPath).c_str());
            ::close(fd);
            return {};
        }
    }
    cached = generateLocked(binaryDir + "/reference-models");
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return cached;
}

std::map<std::string, std::vector<GoldenGreedy>> readGoldenGreedy()
{
    std::map<std::string, std::vector<GoldenGreedy>> out;
    auto text = readTextFile(std::string(HEARTH_FIXTURES_DIR) + "/reference-models/golden.json");
    if (!text)
        return out;
    const auto json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return out;
    for (const auto& [model, prompts] : json.items())
        for (const auto& p : prompts)
            out[model].push_back({p.at("ids").get<std::vector<TokenId>>(), p.at("greedy").get<std::vector<TokenId>>()});
    return out;
}

}  // namespace hearth::test
