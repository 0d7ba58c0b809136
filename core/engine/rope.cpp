#include "engine/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hearth {

namespace {

// base ** (arange(0, dim, 2) / dim) as transformers computes it: float32 exponent and result.
std::vector<float> posFreqs(double base, std::int64_t dim)
{
    std::vector<float> out(static_cast<std::size_t>(dim / 2));
    for (std::int64_t i = 0; i < dim / 2; ++i) {
        const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
        out[static_cast<std::size_t>(i)] = static_cast<float>(std::pow(base, static_cast<double>(exponent)));
    }
    return out;
}

std::vector<float> defaultInvFreq(double base, std::int64_t dim)
{
    std::vector<float> f = posFreqs(base, dim);
    for (float& v : f)
        v = 1.0f / v;
    return f;
}

double yarnMscale(double scale, double mscale)
{
    return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

RopeFrequencies yarn(const ModelConfig& c, std::int64_t dim)
{
    const RopeScaling& r = c.ropeScaling;
    const double base = c.ropeTheta;
    const double factor = r.factor;
    const double originalMax = static_cast<double>(r.originalMaxPositions > 0 ? r.originalMaxPositions : c.maxPositions);
    RopeFrequencies out;
    if (r.attentionFactor)
        out.attentionScale = static_cast<float>(*r.attentionFactor);
    else if (r.mscale && r.mscaleAllDim && *r.mscale != 0.0 && *r.mscaleAllDim != 0.0)
        out.attentionScale = static_cast<float>(yarnMscale(factor, *r.mscale) / yarnMscale(factor, *r.mscaleAllDim));
    else
        out.attentionScale = static_cast<float>(yarnMscale(factor, 1.0));

    const auto correctionDim = [&](double nRotations) {
        return (static_cast<double>(dim) * std::log(originalMax / (nRotations * 2.0 * std::numbers::pi))) /
               (2.0 * std::log(base));
    };
    // transformers truncates the correction range by default (rope_parameters.truncate = True).
    double low = std::max(std::floor(correctionDim(r.betaFast)), 0.0);
    double high = std::min(std::ceil(correctionDim(r.betaSlow)), static_cast<double>(dim - 1));
    if (low == high)
        high += 0.001;  // as transformers: avoid dividing by zero

    const std::vector<float> pos = posFreqs(base, dim);
    const auto ffactor = static_cast<float>(factor);
    out.invFreq.resize(pos.size());
    for (std::size_t i = 0; i < pos.size(); ++i) {
        const float extrapolation = 1.0f / pos[i];
        const float interpolation = 1.0f / (ffactor * pos[i]);
        const float linear = (static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low);
        const float ramp = std::clamp(linear, 0.0f, 1.0f);
        const float extrapolationFactor = 1.0f - ramp;
        out.invFreq[i] = interpolation * (1.0f - extrapolationFactor) + extrapolation * extrapolationFactor;
    }
    return out;
}

std::vector<float> llama3(const ModelConfig& c, std::int64_t dim)
{
    const RopeScaling& r = c.ropeScaling;
    std::vector<float> f = defaultInvFreq(c.ropeTheta, dim);
    const double oldContext = static_cast<double>(r.originalMaxPositions > 0 ? r.originalMaxPositions : c.maxPositions);
    const double lowFreqWavelen = oldContext / r.lowFreqFactor;
    const double highFreqWavelen = oldContext / r.highFreqFactor;
    const auto factor = static_cast<float>(r.factor);
    for (float& v : f) {
        const float wavelen = static_cast<float>(2.0 * std::numbers::pi) / v;
        float scaled = wavelen > lowFreqWavelen ? v / factor : v;
        const bool medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
        if (medium) {
            const float smooth = static_cast<float>((oldContext / static_cast<double>(wavelen) - r.lowFreqFactor) /
                                                    (r.highFreqFactor - r.lowFreqFactor));
            scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
        }
        v = scaled;
    }
    return f;
}

}  // namespace

RopeFrequencies computeRopeFrequencies(const ModelConfig& config, std::int64_t seqLen)
{
    const std::int64_t dim = config.headDim;
    RopeFrequencies out;
    switch (config.ropeScaling.type) {
    case RopeScalingType::None:
        out.invFreq = defaultInvFreq(config.ropeTheta, dim);
        break;
    case RopeScalingType::Linear:
        out.invFreq = defaultInvFreq(config.ropeTheta, dim);
        for (float& v : out.invFreq)
            v /= static_cast<float>(config.ropeScaling.factor);
        break;
    case RopeScalingType::Dynamic: {
        const double maxPos = static_cast<double>(config.maxPositions);
        const double len = std::max(static_cast<double>(seqLen), maxPos);
        const double factor = config.ropeScaling.factor;
        const double d = static_cast<double>(dim);
        const double base = config.ropeTheta * std::pow(factor * len / maxPos - (factor - 1.0), d / (d - 2.0));
        out.invFreq = defaultInvFreq(base, dim);
        break;
    }
    case RopeScalingType::Yarn:
        out = yarn(config, dim);
        break;
    case RopeScalingType::Llama3:
        out.invFreq = llama3(config, dim);
        break;
    }
    return out;
}

}  // namespace hearth
