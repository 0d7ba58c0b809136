// Where Hearth keeps things, following the XDG base directory specification.
#pragma once

#include <string>

#include "util/result.h"

namespace hearth {

std::string homeDir();
std::string configDir();       // $XDG_CONFIG_HOME/hearth or ~/.config/hearth
std::string dataDir();         // $XDG_DATA_HOME/hearth or ~/.local/share/hearth
std::string cacheDir();        // $XDG_CACHE_HOME/hearth or ~/.cache/hearth
std::string defaultModelsDir();  // dataDir()/models
// The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
std::string huggingFaceHubCache();

// Creates `path` and its parents (like mkdir -p).
Status makeDirs(const std::string& path);

}  // namespace hearth
