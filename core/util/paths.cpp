#include "util/paths.h"

#include <cstdlib>
#include <filesystem>
#include <pwd.h>
#include <system_error>
#include <unistd.h>

namespace hearth {

namespace {

std::string envOr(const char* name, const std::string& fallback)
{
    const char* v = std::getenv(name);
    // XDG says relative paths in these variables are invalid and must be ignored.
    if (v && v[0] == '/')
        return v;
    return fallback;
}

}  // namespace

std::string homeDir()
{
    if (const char* h = std::getenv("HOME"); h && h[0])
        return h;
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir)
        return pw->pw_dir;
    return "/tmp";
}

std::string configDir() { return envOr("XDG_CONFIG_HOME", homeDir() + "/.config") + "/hearth"; }
std::string dataDir() { return envOr("XDG_DATA_HOME", homeDir() + "/.local/share") + "/hearth"; }
std::string cacheDir() { return envOr("XDG_CACHE_HOME", homeDir() + "/.cache") + "/hearth"; }
std::string defaultModelsDir() { return dataDir() + "/models"; }

std::string huggingFaceHubCache()
{
    if (const char* c = std::getenv("HF_HUB_CACHE"); c && c[0])
        return c;
    if (const char* h = std::getenv("HF_HOME"); h && h[0])
        return std::string(h) + "/hub";
    return envOr("XDG_CACHE_HOME", homeDir() + "/.cache") + "/huggingface/hub";
}

Status makeDirs(const std::string& path)
{
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec)
        return makeError(ErrorCode::Io, "cannot create folder " + path + ": " + ec.message());
    return Status::ok();
}

}  // namespace hearth
