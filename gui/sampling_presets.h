// Named sampling presets for the conversation settings dialog and the checks on hand-typed
// values. A preset sets the sampling knobs (temperature, top-p, top-k, min-p, repetition
// penalty) and leaves the length and the seed to the user; a knob it does not name is unset
// ("the engine's default"). The preset's key is what the store keeps as presetName.
#pragma once

#include <QString>
#include <QStringList>

#include <optional>
#include <vector>

#include "store/conversation_store.h"

namespace hearth::gui {

struct SamplingPreset {
    QString key;        // stored as SamplingSettings::presetName: "balanced", ...
    QString label;      // shown, translated
    QString tooltip;    // what it is for
    SamplingSettings settings;  // the knobs it sets (maxTokens and seed stay unset)
};

// The key shown once the user changes a field by hand.
inline constexpr const char* kCustomPresetKey = "custom";

// Balanced, Precise, Creative, Deterministic, in that order.
const std::vector<SamplingPreset>& samplingPresets();
// The preset named `key`, or none (custom or unknown).
std::optional<SamplingPreset> findSamplingPreset(const QString& key);
// `current` with the preset's knobs applied; maxTokens and seed are kept, presetName set.
SamplingSettings applySamplingPreset(const SamplingPreset& preset, const SamplingSettings& current);
// Whether `settings` holds exactly the preset's knobs (maxTokens, seed and presetName ignored).
bool matchesSamplingPreset(const SamplingPreset& preset, const SamplingSettings& settings);

// What is wrong with `settings`, one sentence per field (empty: all in range). Ranges are the
// engine's (temperature 0..5 here, which is already far past useful), so a saved setting never
// fails a request.
QStringList samplingProblems(const SamplingSettings& settings);

}  // namespace hearth::gui
