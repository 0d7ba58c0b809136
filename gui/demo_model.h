// The built-in demo model: the synthetic reference model (core/model/reference_models.h, random
// weights that produce nonsense) with a small byte-level tokenizer written here, so a new user can
// watch loading, chat and streaming work without downloading anything.
#pragma once

#include <QString>

#include "util/result.h"

namespace hearth::gui {

// The demo's folder name; the library labels models in a folder of this name as the demo.
inline constexpr const char* kDemoModelName = "hearth-demo-tiny";

// Where "Create the demo model" writes it: dataDir()/models/hearth-demo-tiny.
QString defaultDemoModelDir();
// True when `path` is a demo model folder (by its name).
bool isDemoModel(const std::string& path);
// Writes the demo model into `targetDir` (replacing a demo already there), through a staging
// folder beside it so a failed or interrupted write never leaves a half model in the library.
// Slow (writes ~250 MB): call it off the GUI thread.
Status createDemoModel(const std::string& targetDir);

}  // namespace hearth::gui
