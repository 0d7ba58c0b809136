#include "sampling_presets.h"

#include <QObject>

#include <cmath>

namespace hearth::gui {

namespace {

SamplingPreset preset(const char* key, QString label, QString tooltip, SamplingSettings settings)
{
    settings.presetName = key;
    return SamplingPreset{QString::fromLatin1(key), std::move(label), std::move(tooltip), std::move(settings)};
}

bool finite(std::optional<double> value) { return !value || std::isfinite(*value); }

}  // namespace

const std::vector<SamplingPreset>& samplingPresets()
{
    // Built on first use so that the labels are translated by the language set at start-up.
    static const std::vector<SamplingPreset> presets = {
        preset("balanced", QObject::tr("Balanced"),
               QObject::tr("Qwen2.5's recommended chat settings: temperature 0.7, top-p 0.8, top-k 20, "
                           "repetition penalty 1.05"),
               {.temperature = 0.7, .topP = 0.8, .topK = 20, .repetitionPenalty = 1.05}),
        preset("precise", QObject::tr("Precise"),
               QObject::tr("Focused, factual answers and code: temperature 0.2, top-p 0.9"),
               {.temperature = 0.2, .topP = 0.9}),
        preset("creative", QObject::tr("Creative"),
               QObject::tr("Varied writing and brainstorming: temperature 1.0, top-p 0.95, min-p 0.05"),
               {.temperature = 1.0, .topP = 0.95, .minP = 0.05}),
        preset("deterministic", QObject::tr("Deterministic"),
               QObject::tr("Greedy decoding (temperature 0): the same prompt always gives the same reply"),
               {.temperature = 0.0}),
    };
    return presets;
}

std::optional<SamplingPreset> findSamplingPreset(const QString& key)
{
    for (const SamplingPreset& p : samplingPresets())
        if (p.key == key) return p;
    return std::nullopt;
}

SamplingSettings applySamplingPreset(const SamplingPreset& preset, const SamplingSettings& current)
{
    SamplingSettings out = preset.settings;
    out.maxTokens = current.maxTokens;
    out.seed = current.seed;
    out.presetName = preset.key.toStdString();
    return out;
}

bool matchesSamplingPreset(const SamplingPreset& preset, const SamplingSettings& settings)
{
    SamplingSettings knobs = settings;
    knobs.maxTokens.reset();
    knobs.seed.reset();
    knobs.presetName = preset.settings.presetName;
    return knobs == preset.settings;
}

QStringList samplingProblems(const SamplingSettings& s)
{
    QStringList problems;
    if (!finite(s.temperature) || (s.temperature && (*s.temperature < 0.0 || *s.temperature > 5.0)))
        problems << QObject::tr("Temperature must be between 0 (greedy) and 5.");
    if (!finite(s.topP) || (s.topP && (*s.topP <= 0.0 || *s.topP > 1.0)))
        problems << QObject::tr("Top-p must be greater than 0 and at most 1.");
    if (s.topK && (*s.topK < 0 || *s.topK > 1000000))
        problems << QObject::tr("Top-k must be 0 (off) or a positive number of tokens.");
    if (!finite(s.minP) || (s.minP && (*s.minP < 0.0 || *s.minP >= 1.0)))
        problems << QObject::tr("Min-p must be at least 0 and less than 1.");
    if (s.maxTokens && (*s.maxTokens < 1 || *s.maxTokens > (1 << 20)))
        problems << QObject::tr("Max tokens must be between 1 and %1.").arg(1 << 20);
    if (s.seed && *s.seed < 0) problems << QObject::tr("Seed must be 0 or a positive whole number.");
    if (!finite(s.repetitionPenalty) || (s.repetitionPenalty && (*s.repetitionPenalty <= 0.0 || *s.repetitionPenalty > 10.0)))
        problems << QObject::tr("Repetition penalty must be greater than 0 and at most 10 (1 turns it off).");
    return problems;
}

}  // namespace hearth::gui
