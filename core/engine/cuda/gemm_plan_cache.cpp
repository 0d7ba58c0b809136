#include "engine/cuda/gemm_plan_cache.h"

#include <nlohmann/json.hpp>

#include <cstdint>

#include "build_config.h"
#include "util/mapped_file.h"
#include "util/paths.h"

namespace hearth::cuda {

namespace {

using kernels::ElemType;
using kernels::GemmMethod;
using kernels::GemmPlan;

constexpr int kFormat = 1;

const char* typeName(ElemType t) { return t == ElemType::F16 ? "f16" : t == ElemType::BF16 ? "bf16" : "f32"; }

bool typeFrom(const nlohmann::json& j, ElemType& out)
{
    if (!j.is_string())
        return false;
    const std::string s = j.get<std::string>();
    if (s == "f16")
        out = ElemType::F16;
    else if (s == "bf16")
        out = ElemType::BF16;
    else if (s == "f32")
        out = ElemType::F32;
    else
        return false;
    return true;
}

bool methodFrom(const nlohmann::json& j, GemmMethod& out)
{
    if (!j.is_string())
        return false;
    for (GemmMethod m : {GemmMethod::Cublas, GemmMethod::CublasLt, GemmMethod::Skinny, GemmMethod::Gemv})
        if (j.get<std::string>() == kernels::gemmMethodName(m)) {
            out = m;
            return true;
        }
    return false;
}

bool positive(const nlohmann::json& j) { return j.is_number_integer() && j.get<std::int64_t>() > 0; }

// FNV-1a of the identity: a short, stable file name.
std::string hashHex(const std::string& s)
{
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    static const char* digits = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4)
        out[static_cast<std::size_t>(i)] = digits[h & 15];
    return out;
}

}  // namespace

std::string gemmPlanIdentity(const std::string& deviceName, int driverVersion)
{
    return deviceName + " | driver " + std::to_string(driverVersion) + " | " + kernels::GemmContext::ltVersion() +
           " | hearth " + HEARTH_VERSION_STRING;
}

std::string gemmPlanCachePath(const std::string& dir, const std::string& identity)
{
    return dir + "/gemm-plans-" + hashHex(identity) + ".json";
}

Result<std::vector<GemmPlan>> readGemmPlans(const std::string& path, const std::string& identity)
{
    HEARTH_TRY_ASSIGN(std::string text, readTextFile(path, 16u << 20));
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    const auto bad = [&](const std::string& why) { return makeError(ErrorCode::Corrupt, path + ": " + why); };
    if (j.is_discarded() || !j.is_object())
        return bad("not a JSON object");
    if (!j.contains("format") || j["format"] != kFormat)
        return bad("an unknown format");
    if (!j.contains("identity") || !j["identity"].is_string() || j["identity"].get<std::string>() != identity)
        return bad("plans of another card or library");
    if (!j.contains("plans") || !j["plans"].is_array())
        return bad("no plans");
    std::vector<GemmPlan> out;
    for (const nlohmann::json& p : j["plans"]) {
        GemmPlan plan;
        if (!p.is_object() || !positive(p.value("m", nlohmann::json())) || !positive(p.value("n", nlohmann::json())) ||
            !positive(p.value("k", nlohmann::json())) || !typeFrom(p.value("in", nlohmann::json()), plan.problem.inType) ||
            !typeFrom(p.value("out", nlohmann::json()), plan.problem.outType) ||
            !methodFrom(p.value("method", nlohmann::json()), plan.method))
            return bad("a malformed plan");
        plan.problem.m = p["m"].get<std::int64_t>();
        plan.problem.n = p["n"].get<std::int64_t>();
        plan.problem.k = p["k"].get<std::int64_t>();
        if (plan.method == GemmMethod::CublasLt) {
            const nlohmann::json& algo = p.value("algo", nlohmann::json());
            if (!algo.is_array() || algo.size() != plan.ltAlgo.size())
                return bad("a cuBLASLt plan without its algorithm");
            for (std::size_t i = 0; i < plan.ltAlgo.size(); ++i) {
                if (!algo[i].is_number_unsigned() && !(algo[i].is_number_integer() && algo[i].get<std::int64_t>() >= 0))
                    return bad("a malformed cuBLASLt algorithm");
                plan.ltAlgo[i] = algo[i].get<std::uint64_t>();
            }
        }
        if (plan.method == GemmMethod::Skinny) {
            const nlohmann::json& tile = p.value("tile", nlohmann::json());
            if (!tile.is_number_integer())
                return bad("a skinny plan without its tile");
            plan.skinnyTile = tile.get<int>();
        }
        const nlohmann::json& dUs = p.value("default_us", nlohmann::json());
        const nlohmann::json& cUs = p.value("chosen_us", nlohmann::json());
        plan.defaultUs = dUs.is_number() ? dUs.get<float>() : 0.0f;
        plan.chosenUs = cUs.is_number() ? cUs.get<float>() : 0.0f;
        out.push_back(plan);
    }
    return out;
}

Status writeGemmPlans(const std::string& path, const std::string& identity, const std::vector<GemmPlan>& plans)
{
    nlohmann::json list = nlohmann::json::array();
    for (const GemmPlan& p : plans) {
        if (p.nCandidates == 0 && p.method == GemmMethod::Cublas && p.defaultUs == 0.0f)
            continue;  // never timed (over budget or scratch): tune it next time
        nlohmann::json e = {{"m", p.problem.m},
                            {"n", p.problem.n},
                            {"k", p.problem.k},
                            {"in", typeName(p.problem.inType)},
                            {"out", typeName(p.problem.outType)},
                            {"method", kernels::gemmMethodName(p.method)},
                            {"default_us", p.defaultUs},
                            {"chosen_us", p.chosenUs}};
        if (p.method == GemmMethod::CublasLt)
            e["algo"] = p.ltAlgo;
        if (p.method == GemmMethod::Skinny)
            e["tile"] = p.skinnyTile;
        list.push_back(std::move(e));
    }
    const nlohmann::json j = {{"format", kFormat}, {"identity", identity}, {"plans", std::move(list)}};
    const std::size_t slash = path.rfind('/');
    if (slash != std::string::npos)
        HEARTH_TRY_STATUS(makeDirs(path.substr(0, slash)));
    return writeFileAtomically(path, j.dump(1) + "\n");
}

}  // namespace hearth::cuda
