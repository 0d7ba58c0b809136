// The synthetic reference models, generated once per build folder for every test that needs them.
#pragma once

#include <string>

namespace hearth::test {

// Folder holding ref-qwen2-d64, ref-qwen2-d128 and ref-qwen2-d64-lora, generated on first use
// into HEARTH_BINARY_DIR/reference-models (safe when several test processes ask at once).
// Empty, with the reason on stderr, when generation failed.
std::string referenceModelsDir();

}  // namespace hearth::test
