// hearth-test-labels: load
// Weights that describe tensors in GPU memory (the CUDA load path's ModelWeights, whose data
// pointers are device addresses) carry the same config and shapes as host weights, and host code
// that would read their data refuses them with an error instead of faulting: the CPU backend and
// merging a LoRA adapter. Runs without a GPU: the "device" pointers here point at nothing readable
// on purpose (a reserved but never touched address range would fault if read).
#include <QtTest>

#include <sys/mman.h>

#include "engine/cpu/cpu_backend.h"
#include "engine/lora.h"
#include "engine/model_weights.h"
#include "model/reference_models.h"
#include "support/reference_models.h"

using namespace hearth;
using namespace hearth::test;

class TestDeviceResidentWeights : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<const ModelWeights> m_host;
    std::shared_ptr<const ModelWeights> m_device;
    void* m_noAccess = nullptr;
    std::size_t m_noAccessBytes = 0;
    std::string m_refDir;

private slots:
    void initTestCase()
    {
        m_refDir = referenceModelsDir();
        QVERIFY(!m_refDir.empty());
        auto host = ModelWeights::load(m_refDir + "/" + kReferenceModelD64);
        QVERIFY2(host.isOk(), host.isOk() ? "" : host.error().toString().c_str());
        m_host = *host;
        // One PROT_NONE range standing in for device memory: any host read of it faults.
        m_noAccessBytes = 64u << 20;
        m_noAccess = mmap(nullptr, m_noAccessBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        QVERIFY(m_noAccess != MAP_FAILED);
        std::size_t next = 0;
        const TensorLookup lookup = [&](const std::string& name) -> std::optional<NamedTensor> {
            const std::optional<NamedTensor> t = hostLookup(name);
            if (!t)
                return std::nullopt;
            NamedTensor d = *t;
            d.data = static_cast<const std::uint8_t*>(m_noAccess) + (next++ % 1024) * 4096;
            return d;
        };
        auto device = ModelWeights::describingDeviceTensors(m_host->config(), lookup, "device storage");
        QVERIFY2(device.isOk(), device.isOk() ? "" : device.error().toString().c_str());
        m_device = *device;
    }

    void cleanupTestCase()
    {
        if (m_noAccess && m_noAccess != MAP_FAILED)
            munmap(m_noAccess, m_noAccessBytes);
    }

    void sameShapesAsHost()
    {
        QVERIFY(m_device->deviceResident());
        QVERIFY(!m_host->deviceResident());
        QCOMPARE(m_device->layers().size(), m_host->layers().size());
        for (std::size_t l = 0; l < m_host->layers().size(); ++l)
            for (int k = 0; k < kLinearKindCount; ++k) {
                const WeightTensor& h = m_host->layers()[l].linear[static_cast<std::size_t>(k)];
                const WeightTensor& d = m_device->layers()[l].linear[static_cast<std::size_t>(k)];
                QCOMPARE(d.rows, h.rows);
                QCOMPARE(d.cols, h.cols);
                QCOMPARE(d.dtype, h.dtype);
            }
    }

    void cpuBackendRefuses()
    {
        auto cpu = CpuBackend::create(m_device, {1ull << 20, 1, 16});
        QVERIFY(!cpu.isOk());
        QCOMPARE(cpu.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(cpu.error().message.find("GPU memory") != std::string::npos, cpu.error().message.c_str());
        QVERIFY(CpuBackend::create(m_host, {1ull << 20, 1, 16}).isOk());
    }

    void loraMergeRefuses()
    {
        auto adapter = LoraAdapter::load(m_refDir + "/" + kReferenceLoraD64, m_device->config());
        QVERIFY2(adapter.isOk(), adapter.isOk() ? "" : adapter.error().toString().c_str());
        auto merged = mergeLora(*m_device, **adapter, 1.0f);
        QVERIFY(!merged.isOk());
        QVERIFY2(merged.error().message.find("GPU memory") != std::string::npos, merged.error().message.c_str());
        QVERIFY(mergeLora(*m_host, **adapter, 1.0f).isOk());
    }

private:
    std::optional<NamedTensor> hostLookup(const std::string& name) const;
};

// The host weights' own tensor for `name`, found through the layer structure (ModelWeights has
// no by-name lookup): enough for the binder, which asks for each expected name once.
std::optional<NamedTensor> TestDeviceResidentWeights::hostLookup(const std::string& name) const
{
    const auto named = [](const WeightTensor& t) -> std::optional<NamedTensor> {
        if (!t.present())
            return std::nullopt;
        std::vector<std::int64_t> shape = t.rows == 1 ? std::vector<std::int64_t>{t.cols} : std::vector<std::int64_t>{t.rows, t.cols};
        return NamedTensor{t.data, t.dtype, shape, "host"};
    };
    const ModelWeights& w = *m_host;
    if (name == "model.embed_tokens.weight")
        return named(w.embedding());
    if (name == "model.norm.weight")
        return named(w.finalNorm());
    if (name == "lm_head.weight")
        return w.config().tieWordEmbeddings ? std::nullopt : named(w.lmHead());
    const std::string prefix = "model.layers.";
    if (name.rfind(prefix, 0) != 0)
        return std::nullopt;
    const std::size_t dot = name.find('.', prefix.size());
    const std::size_t layer = std::stoul(name.substr(prefix.size(), dot - prefix.size()));
    if (layer >= w.layers().size())
        return std::nullopt;
    const LlamaLayerWeights& L = w.layers()[layer];
    const std::string rest = name.substr(dot + 1);
    if (rest == "input_layernorm.weight")
        return named(L.attnNorm);
    if (rest == "post_attention_layernorm.weight")
        return named(L.mlpNorm);
    if (rest == "self_attn.q_proj.bias")
        return named(L.qBias);
    if (rest == "self_attn.k_proj.bias")
        return named(L.kBias);
    if (rest == "self_attn.v_proj.bias")
        return named(L.vBias);
    if (rest == "self_attn.q_norm.weight")
        return named(L.qNorm);
    if (rest == "self_attn.k_norm.weight")
        return named(L.kNorm);
    for (int k = 0; k < kLinearKindCount; ++k) {
        const auto kind = static_cast<LinearKind>(k);
        const std::string module = linearModuleName(kind);
        const std::string group = (kind == LinearKind::Gate || kind == LinearKind::Up || kind == LinearKind::Down) ? "mlp." : "self_attn.";
        if (rest == group + module + ".weight")
            return named(L.proj(kind));
    }
    return std::nullopt;
}

QTEST_APPLESS_MAIN(TestDeviceResidentWeights)
#include "tst_device_resident_weights.moc"
