// What "Delete model files" removes, decided before asking: only the model's own folder (or its
// GGUF files), never the library folder itself, anything above it, a folder that holds other
// models, or anything reached through a symbolic link that leaves the library folder. For the
// Hugging Face cache it is the models--ORG--NAME repo folder, as the cache layout defines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model_library.h"
#include "util/result.h"

namespace hearth::gui {

struct DeletePlan {
    std::string target;               // what the confirmation names: a folder or a file
    bool wholeFolder = false;         // remove `target` recursively; else remove `files`
    std::vector<std::string> files;   // the files removed when !wholeFolder
    std::uint64_t bytes = 0;          // what is freed on disk
    bool allRevisions = false;        // a hub cache repo: every downloaded revision goes
};

// The plan for deleting `entry`, or why it is refused. `all`: every library entry (a folder that
// holds another one is refused).
Result<DeletePlan> planModelDeletion(const ModelEntry& entry, const std::vector<ModelEntry>& all);
// Carries out `plan`.
Status executeDeletion(const DeletePlan& plan);

}  // namespace hearth::gui
