// hearth-test-labels: load
// The device sink and the shared device layout, on the CPU: a fake DeviceLoadOps runs the "device"
// work on a worker thread with delays, counts live allocations and catches a staging buffer that
// is refilled while a copy from it is still queued. Every tensor at its destination must equal the
// file's bytes, converted by an independent scalar reference (support/half_reference.h, not the
// loader's own conversion); fused parts sit at offsets computed by hand; split elements, tiny
// buffers, slow readers and devices, cancel, truncation and bad destination maps are covered.
#include <QTemporaryDir>
#include <QTest>

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/device_layout.h"
#include "load/device_sink.h"
#include "load/half_convert.h"
#include "load/loader.h"
#include "model/model_config.h"
#include "model/safetensors.h"
#include "support/fake_device_ops.h"
#include "support/half_reference.h"
#include "support/tiny_model.h"

using namespace hearth;
using hearth::test::FakeDeviceOps;
using namespace hearth::test::halfref;

namespace {

// The real reader, slowed down, checking that no buffer it fills is still being copied from,
// and able to raise the cancel flag or truncate a file at a given read.
class CheckingReader final : public FileReader {
public:
    explicit CheckingReader(FakeDeviceOps& ops) : m_ops(ops) {}
    std::chrono::microseconds delay{0};
    std::atomic<int> reads{0};
    std::atomic<int> refillsInFlight{0};
    int hookAtRead = -1;
    std::function<void()> hook;

    Result<std::unique_ptr<WeightFile>> open(const std::string& path, bool wantDirect) override
    {
        HEARTH_TRY_ASSIGN(std::unique_ptr<WeightFile> real, m_real->open(path, wantDirect));
        return std::unique_ptr<WeightFile>(std::make_unique<File>(*this, std::move(real)));
    }

private:
    class File final : public WeightFile {
    public:
        File(CheckingReader& owner, std::unique_ptr<WeightFile> real) : m_owner(owner), m_real(std::move(real)) {}
        bool direct() const override { return m_real->direct(); }
        std::string mode() const override { return m_real->mode(); }
        Result<std::size_t> readAt(void* dst, std::size_t nBytes, std::uint64_t offset) override
        {
            const int index = m_owner.reads.fetch_add(1);
            if (index == m_owner.hookAtRead && m_owner.hook)
                m_owner.hook();
            if (m_owner.m_ops.inFlightFrom(dst, nBytes))
                ++m_owner.refillsInFlight;
            std::this_thread::sleep_for(m_owner.delay);
            return m_real->readAt(dst, nBytes, offset);
        }
        Status dropDirect(const std::string& why) override { return m_real->dropDirect(why); }
        Result<FileIdentity> identity() override { return m_real->identity(); }

    private:
        CheckingReader& m_owner;
        std::unique_ptr<WeightFile> m_real;
    };
    FakeDeviceOps& m_ops;
    std::unique_ptr<FileReader> m_real = makePosixFileReader(PosixReaderOptions{2.0, false});
};

std::string workTempRoot() { return std::string(HEARTH_BINARY_DIR) + "/test-tmp"; }

// Every tensor's bytes as its file stores them, read with ifstream from the offsets in the header.
std::map<std::string, std::pair<DType, std::vector<std::uint8_t>>> readFileTensors(const std::string& path)
{
    std::map<std::string, std::pair<DType, std::vector<std::uint8_t>>> out;
    std::ifstream in(path, std::ios::binary);
    std::uint64_t headerLen = 0;
    in.read(reinterpret_cast<char*>(&headerLen), 8);
    std::string header(headerLen, '\0');
    in.read(header.data(), static_cast<std::streamsize>(headerLen));
    const auto json = nlohmann::json::parse(header);
    for (const auto& [name, info] : json.items()) {
        if (name == "__metadata__")
            continue;
        const auto begin = info["data_offsets"][0].get<std::uint64_t>();
        const auto end = info["data_offsets"][1].get<std::uint64_t>();
        std::vector<std::uint8_t> bytes(end - begin);
        in.seekg(static_cast<std::streamoff>(8 + headerLen + begin));
        in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        out[name] = {*parseDType(info["dtype"].get<std::string>()), std::move(bytes)};
    }
    return out;
}

// Floats that exercise rounding: ties, subnormals, values beyond fp16's range, inf and NaN.
std::vector<float> awkwardFloats(std::size_t n, unsigned seed)
{
    const float specials[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f, 1e5f, -3e38f,
                              INFINITY, -INFINITY, NAN, 6e-8f, 3e-8f, 2.98e-8f, 1e-40f, 1.00048828125f,
                              1.000732421875f, 0.333333343f, 1.00390625f, 1.005859375f};
    std::mt19937 rng(seed);
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (i < std::size(specials))
            out[i] = specials[i];
        else
            out[i] = std::ldexp(std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng),
                                std::uniform_int_distribution<int>(-30, 20)(rng));
    }
    return out;
}

std::vector<std::uint8_t> encode(const std::vector<float>& values, DType type)
{
    std::vector<std::uint8_t> out;
    for (float v : values) {
        if (type == DType::F32) {
            const auto bits = std::bit_cast<std::uint32_t>(v);
            for (int b = 0; b < 4; ++b)
                out.push_back(static_cast<std::uint8_t>(bits >> (8 * b)));
        } else {
            // Inputs of 16-bit tensors are any bit patterns the type can hold: round with the reference.
            const std::uint16_t h = type == DType::F16 ? refToHalf(v) : refToBf16(v);
            out.push_back(static_cast<std::uint8_t>(h & 0xff));
            out.push_back(static_cast<std::uint8_t>(h >> 8));
        }
    }
    return out;
}

// A hand-made file: U8 spacers of odd sizes put the float tensors after them at odd offsets, so
// their elements straddle 4096-byte chunk boundaries.
struct MixedTensor {
    std::string name;
    DType stored;
    std::int64_t n;
    bool skip;
    DType target;
};
const std::vector<MixedTensor>& mixedSpec()
{
    static const std::vector<MixedTensor> spec = {
        {"pad0", DType::U8, 3, true, DType::U8},          {"f32_to_f16", DType::F32, 3001, false, DType::F16},
        {"pad1", DType::U8, 1, true, DType::U8},          {"bf16_to_f16", DType::BF16, 2501, false, DType::F16},
        {"pad2", DType::U8, 5, true, DType::U8},          {"f16_to_bf16", DType::F16, 1999, false, DType::BF16},
        {"f32_to_bf16", DType::F32, 4097, false, DType::BF16}, {"pad3", DType::U8, 7, true, DType::U8},
        {"bf16_as_is", DType::BF16, 3333, false, DType::BF16}, {"f32_as_is", DType::F32, 1025, false, DType::F32},
        {"f16_tiny", DType::F16, 1, false, DType::BF16},  {"pad4", DType::U8, 1, true, DType::U8},
        {"f32_one", DType::F32, 1, false, DType::F16},    {"dropped", DType::BF16, 700, true, DType::BF16},
        {"f16_last", DType::F16, 1234, false, DType::BF16},
    };
    return spec;
}

bool writeMixedModel(const std::string& dir)
{
    std::vector<std::vector<std::uint8_t>> storage;
    std::vector<TensorToWrite> w;
    unsigned seed = 7;
    for (const MixedTensor& t : mixedSpec()) {
        if (t.stored == DType::U8)
            storage.push_back(std::vector<std::uint8_t>(static_cast<std::size_t>(t.n), 0xab));
        else
            storage.push_back(encode(awkwardFloats(static_cast<std::size_t>(t.n), seed++), t.stored));
    }
    for (std::size_t i = 0; i < mixedSpec().size(); ++i)
        w.push_back(TensorToWrite{mixedSpec()[i].name, mixedSpec()[i].stored, {mixedSpec()[i].n}, storage[i]});
    return writeSafetensors(dir + "/model.safetensors", w).isOk();
}

// Destinations for the mixed file: packed one after another, 2-byte aligned, in reverse plan order
// (so the map, not the file order, decides where things go).
std::vector<DeviceDestination> mixedDestinations(const LoadPlan& plan, std::uint64_t& bytes)
{
    std::vector<DeviceDestination> out(plan.tensors.size());
    bytes = 0;
    for (std::size_t i = plan.tensors.size(); i-- > 0;) {
        const PlannedTensor& t = plan.tensors[i];
        const auto spec = std::find_if(mixedSpec().begin(), mixedSpec().end(), [&](const MixedTensor& m) { return m.name == t.name; });
        if (spec == mixedSpec().end() || spec->skip)
            continue;
        bytes = (bytes + 3) / 4 * 4;
        out[i] = DeviceDestination{false, bytes, spec->target};
        bytes += static_cast<std::uint64_t>(spec->n) * dtypeSize(spec->target);
    }
    return out;
}

LoadPipelineOptions options(FileReader* reader, int nReaders, int nBuffers)
{
    LoadPipelineOptions o;
    o.nReaders = nReaders;
    o.nBuffers = nBuffers;
    o.chunkBytes = 4096;
    o.reader = reader;
    return o;
}

}  // namespace

class TestDeviceSink : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { std::filesystem::create_directories(workTempRoot()); }

    void referenceConversionIsSane()
    {
        // The test's own reference against values whose roundings are known by hand.
        QCOMPARE(refToHalf(1.0f), std::uint16_t(0x3c00));
        QCOMPARE(refToHalf(65504.0f), std::uint16_t(0x7bff));
        QCOMPARE(refToHalf(65519.0f), std::uint16_t(0x7bff));
        QCOMPARE(refToHalf(1e5f), std::uint16_t(0x7bff));
        QCOMPARE(refToHalf(std::ldexp(1.0f, -24)), std::uint16_t(0x0001));
        QCOMPARE(refToHalf(std::ldexp(1.0f, -25)), std::uint16_t(0x0000));  // tie to even zero
        QCOMPARE(refToHalf(std::ldexp(3.0f, -25)), std::uint16_t(0x0002));  // 1.5 ulp: tie to even 2
        QCOMPARE(refToHalf(1.00048828125f), std::uint16_t(0x3c00));        // 1 + 2^-11: tie to even
        QCOMPARE(refToHalf(1.000732421875f), std::uint16_t(0x3c01));       // 1 + 1.5 * 2^-11 rounds up
        QCOMPARE(refToHalf(-2.5f), std::uint16_t(0xc100));
        QCOMPARE(refToBf16(1.00390625f), std::uint16_t(0x3f80));           // 1 + 2^-8: tie to even
        QCOMPARE(refToBf16(1.005859375f), std::uint16_t(0x3f81));          // 1 + 1.5 * 2^-8: up
        QCOMPARE(refToBf16(-3e38f), std::uint16_t(0xff62));
        QCOMPARE(fromHalf(0x3c01), 1.0009765625f);
    }

    void fakeCatchesRefillInFlight()
    {
        // The detector this file relies on must fire when a staging buffer changes under a copy.
        FakeDeviceOps ops;
        ops.opDelay = std::chrono::milliseconds(20);
        auto pinned = ops.allocPinned(64);
        auto device = ops.allocDevice(64);
        QVERIFY(pinned.isOk() && device.isOk());
        std::memset(*pinned, 1, 64);
        QVERIFY(ops.copyToDevice(*device, *pinned, 64, 0).isOk());
        QVERIFY(ops.inFlightFrom(*pinned, 64));
        std::memset(*pinned, 2, 64);
        QVERIFY(ops.synchronize().isOk());
        QCOMPARE(ops.refilledWhileInFlight.load(), 1);
        ops.freePinned(*pinned);
        ops.freeDevice(*device);
        QCOMPARE(ops.liveAllocations(), 0);
    }

    void layoutOffsetsByHand()
    {
        // The tiny Qwen2 config (tied, q/k/v bias, headDim 8): offsets worked out on paper,
        // 2-byte elements, every region 256-aligned.
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/dsink-XXXXXX"));
        QVERIFY(test::writeTinyQwen2Model(dir.path().toStdString()).isOk());
        auto config = loadModelConfig(dir.path().toStdString());
        QVERIFY(config.isOk());
        const DeviceLayout L = planDeviceLayout(*config);
        QCOMPARE(L.embedding, std::uint64_t(0));
        QCOMPARE(L.lmHead, std::uint64_t(0));
        QCOMPARE(L.finalNorm, std::uint64_t(2048));
        QCOMPARE(L.rope, std::uint64_t(2304));
        QCOMPARE(L.ropeBytes, std::uint64_t(16));
        QCOMPARE(L.layers.size(), std::size_t(2));
        const std::uint64_t want[2][7] = {{2560, 2816, 3072, 4096, 4352, 4864, 6400}, {7168, 7424, 7680, 8704, 8960, 9472, 11008}};
        for (int l = 0; l < 2; ++l) {
            const DeviceLayout::Layer& o = L.layers[static_cast<std::size_t>(l)];
            const std::uint64_t got[7] = {o.attnNorm, o.mlpNorm, o.qkv, o.qkvBias, o.o, o.gateUp, o.down};
            for (int k = 0; k < 7; ++k)
                QCOMPARE(got[k], want[l][k]);
            QCOMPARE(o.qNorm, DeviceLayout::kAbsent);
        }
        QCOMPARE(L.bytes, std::uint64_t(11776));
        // The fused parts: k after q (16 rows of 16), v after k (8 rows); up after gate (24 rows).
        std::map<std::string, std::uint64_t> at;
        for (const auto& p : L.pieces)
            at[p.name] = p.offset;
        QCOMPARE(at["model.layers.1.self_attn.k_proj.weight"], std::uint64_t(7680 + 16 * 16 * 2));
        QCOMPARE(at["model.layers.1.self_attn.v_proj.weight"], std::uint64_t(7680 + 24 * 16 * 2));
        QCOMPARE(at["model.layers.1.self_attn.v_proj.bias"], std::uint64_t(8704 + 24 * 2));
        QCOMPARE(at["model.layers.0.mlp.up_proj.weight"], std::uint64_t(4864 + 24 * 16 * 2));
        QCOMPARE(at.count("lm_head.weight"), std::size_t(0));
    }

    void layoutUntiedWithQkNorm()
    {
        ModelConfig c;
        c.hiddenSize = 64;
        c.nLayers = 3;
        c.nHeads = 4;
        c.nKvHeads = 2;
        c.headDim = 32;
        c.intermediateSize = 96;
        c.vocabSize = 100;
        c.qkNorm = true;
        const DeviceLayout L = planDeviceLayout(c);
        QCOMPARE(L.lmHead, std::uint64_t(100 * 64 * 2));  // right after the embedding (12800, 256-aligned)
        QVERIFY(L.finalNorm == 2 * 12800);
        // Regions never overlap and all sit 256-aligned inside the allocation.
        std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
        for (const auto& p : L.pieces) {
            spans.push_back({p.offset, p.offset + p.nElems * 2});
            QVERIFY(p.offset + p.nElems * 2 <= L.bytes);
        }
        std::sort(spans.begin(), spans.end());
        for (std::size_t i = 1; i < spans.size(); ++i)
            QVERIFY(spans[i].first >= spans[i - 1].second);
        for (const auto& o : L.layers) {
            QVERIFY(o.qNorm != DeviceLayout::kAbsent && o.kNorm != DeviceLayout::kAbsent);
            QCOMPARE(o.qkvBias, DeviceLayout::kAbsent);
            for (std::uint64_t off : {o.attnNorm, o.mlpNorm, o.qkv, o.qNorm, o.kNorm, o.o, o.gateUp, o.down})
                QCOMPARE(off % 256, std::uint64_t(0));
        }
        QCOMPARE(L.pieces.size(), std::size_t(3 + 3 * 11));
    }

    void destinationsCheckThePlan_data()
    {
        QTest::addColumn<QString>("drop");
        QTest::addColumn<QString>("reshape");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing") << "model.layers.1.self_attn.v_proj.bias" << ""
                                 << "model.safetensors: tensor 'model.layers.1.self_attn.v_proj.bias' is missing";
        QTest::newRow("shape") << "" << "model.layers.0.mlp.up_proj.weight"
                               << "model.safetensors: tensor 'model.layers.0.mlp.up_proj.weight' has shape [12,16], expected [24,16]";
    }
    void destinationsCheckThePlan()
    {
        QFETCH(QString, drop);
        QFETCH(QString, reshape);
        QFETCH(QString, expected);
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/dsink-XXXXXX"));
        QVERIFY(test::writeTinyQwen2Model(dir.path().toStdString(), drop.toStdString(), reshape.toStdString()).isOk());
        auto config = loadModelConfig(dir.path().toStdString());
        auto plan = makeLoadPlan(dir.path().toStdString());
        QVERIFY(config.isOk() && plan.isOk());
        auto dest = deviceDestinations(planDeviceLayout(*config), *plan, DType::F16);
        QVERIFY(!dest.isOk());
        QCOMPARE(QString::fromStdString(dest.error().message), expected);
    }

    void tinyModelLandsAtItsOffsets_data()
    {
        QTest::addColumn<int>("target");  // static_cast<int>(DType)
        QTest::addColumn<int>("nReaders");
        QTest::addColumn<int>("nBuffers");
        QTest::addColumn<int>("opDelayUs");
        QTest::newRow("f16, 3 readers, 3 buffers") << int(DType::F16) << 3 << 3 << 0;
        QTest::newRow("bf16, 1 reader, 1 buffer, slow device") << int(DType::BF16) << 1 << 1 << 300;
        QTest::newRow("bf16, 4 readers, 2 buffers, slow device") << int(DType::BF16) << 4 << 2 << 200;
    }
    void tinyModelLandsAtItsOffsets()
    {
        QFETCH(int, target);
        QFETCH(int, nReaders);
        QFETCH(int, nBuffers);
        QFETCH(int, opDelayUs);
        const auto type = static_cast<DType>(target);
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/dsink-XXXXXX"));
        const std::string path = dir.path().toStdString();
        QVERIFY(test::writeTinyQwen2Model(path).isOk());
        auto config = loadModelConfig(path);
        auto plan = makeLoadPlan(path);
        QVERIFY(config.isOk() && plan.isOk());
        const DeviceLayout L = planDeviceLayout(*config);
        auto dest = deviceDestinations(L, *plan, type);
        QVERIFY2(dest.isOk(), dest.isOk() ? "" : dest.error().message.c_str());

        FakeDeviceOps ops;
        ops.opDelay = std::chrono::microseconds(opDelayUs);
        CheckingReader reader(ops);
        {
            DeviceSink sink(DeviceSinkOptions{&ops, *dest, nullptr, L.bytes});
            auto report = runLoadPipeline(*plan, sink, options(&reader, nReaders, nBuffers));
            QVERIFY2(report.isOk(), report.isOk() ? "" : report.error().message.c_str());
            auto* base = static_cast<std::uint8_t*>(sink.takeDeviceStorage());
            QVERIFY(base);
            // Offsets from the config by hand: q|k|v rows stacked, then gate|up.
            const auto file = readFileTensors(path + "/model.safetensors");
            const std::uint64_t qkvAt[2] = {3072, 7680}, gateUpAt[2] = {4864, 9472}, biasAt[2] = {4096, 8704};
            std::map<std::string, std::uint64_t> where = {{"model.embed_tokens.weight", 0}, {"model.norm.weight", 2048}};
            for (int l = 0; l < 2; ++l) {
                const std::string p = "model.layers." + std::to_string(l) + ".";
                where[p + "self_attn.q_proj.weight"] = qkvAt[l];
                where[p + "self_attn.k_proj.weight"] = qkvAt[l] + 16 * 16 * 2;
                where[p + "self_attn.v_proj.weight"] = qkvAt[l] + 24 * 16 * 2;
                where[p + "self_attn.q_proj.bias"] = biasAt[l];
                where[p + "self_attn.k_proj.bias"] = biasAt[l] + 16 * 2;
                where[p + "self_attn.v_proj.bias"] = biasAt[l] + 24 * 2;
                where[p + "mlp.gate_proj.weight"] = gateUpAt[l];
                where[p + "mlp.up_proj.weight"] = gateUpAt[l] + 24 * 16 * 2;
                where[p + "input_layernorm.weight"] = L.layers[static_cast<std::size_t>(l)].attnNorm;
                where[p + "post_attention_layernorm.weight"] = L.layers[static_cast<std::size_t>(l)].mlpNorm;
                where[p + "self_attn.o_proj.weight"] = L.layers[static_cast<std::size_t>(l)].o;
                where[p + "mlp.down_proj.weight"] = L.layers[static_cast<std::size_t>(l)].down;
            }
            QCOMPARE(where.size(), file.size());
            for (const auto& [name, stored] : file) {
                QVERIFY2(where.count(name), name.c_str());
                std::string why;
                const auto want = referenceConvert(stored.second, stored.first, type);
                QVERIFY2(sameElements(base + where[name], want, type, &why), (name + ": " + why).c_str());
            }
            ops.freeDevice(base);
        }
        QCOMPARE(ops.liveAllocations(), 0);
        QCOMPARE(ops.refilledWhileInFlight.load(), 0);
        QCOMPARE(reader.refillsInFlight.load(), 0);
        QCOMPARE(ops.badPointers.load(), 0);
    }

    void splitElementsAndMixedConversions_data()
    {
        QTest::addColumn<int>("nReaders");
        QTest::addColumn<int>("nBuffers");
        QTest::addColumn<int>("readDelayUs");
        QTest::addColumn<int>("opDelayUs");
        QTest::newRow("1 reader, 1 buffer") << 1 << 1 << 0 << 0;
        QTest::newRow("2 readers, 2 buffers, slow reader") << 2 << 2 << 2000 << 0;
        QTest::newRow("3 readers, 4 buffers, slow device") << 3 << 4 << 0 << 500;
        QTest::newRow("4 readers, 3 buffers, both slow") << 4 << 3 << 700 << 300;
    }
    void splitElementsAndMixedConversions()
    {
        QFETCH(int, nReaders);
        QFETCH(int, nBuffers);
        QFETCH(int, readDelayUs);
        QFETCH(int, opDelayUs);
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/dsink-XXXXXX"));
        const std::string path = dir.path().toStdString();
        QVERIFY(writeMixedModel(path));
        auto plan = makeLoadPlan(path);
        QVERIFY(plan.isOk());
        // The point of the file: some converted tensors start at an offset that is not a multiple
        // of their element size, and some chunk boundary falls inside one of their elements.
        bool straddles = false;
        for (const PlannedTensor& t : plan->tensors) {
            const std::size_t size = dtypeSize(t.storedDtype);
            for (std::uint64_t b = (t.fileOffset / 4096 + 1) * 4096; size > 1 && b < t.fileOffset + t.nBytes; b += 4096)
                straddles = straddles || (b - t.fileOffset) % size != 0;
        }
        QVERIFY(straddles);
        std::uint64_t bytes = 0;
        const std::vector<DeviceDestination> dest = mixedDestinations(*plan, bytes);

        FakeDeviceOps ops;
        ops.opDelay = std::chrono::microseconds(opDelayUs);
        CheckingReader reader(ops);
        reader.delay = std::chrono::microseconds(readDelayUs);
        auto device = ops.allocDevice(bytes);
        QVERIFY(device.isOk());
        {
            DeviceSink sink(DeviceSinkOptions{&ops, dest, *device, bytes});
            auto report = runLoadPipeline(*plan, sink, options(&reader, nReaders, nBuffers));
            QVERIFY2(report.isOk(), report.isOk() ? "" : report.error().message.c_str());
            QCOMPARE(sink.takeDeviceStorage(), nullptr);  // the caller's storage stays the caller's
        }
        const auto file = readFileTensors(path + "/model.safetensors");
        for (std::size_t i = 0; i < plan->tensors.size(); ++i) {
            const PlannedTensor& t = plan->tensors[i];
            if (dest[i].skip)
                continue;
            const auto& stored = file.at(t.name);
            std::string why;
            const auto want = referenceConvert(stored.second, stored.first, dest[i].type);
            QVERIFY2(sameElements(static_cast<std::uint8_t*>(*device) + dest[i].offset, want, dest[i].type, &why),
                     (t.name + ": " + why).c_str());
        }
        ops.freeDevice(*device);
        QCOMPARE(ops.liveAllocations(), 0);
        QCOMPARE(ops.refilledWhileInFlight.load(), 0);
        QCOMPARE(reader.refillsInFlight.load(), 0);
        QCOMPARE(ops.badPointers.load(), 0);
    }

    void cancelMidwayFreesEverything_data()
    {
        QTest::addColumn<bool>("sinkOwnsStorage");
        QTest::addColumn<int>("cancelAtRead");
        QTest::newRow("sink's storage, early") << true << 1;
        QTest::newRow("sink's storage, late") << true << 6;
        QTest::newRow("caller's storage") << false << 4;
    }
    void cancelMidwayFreesEverything()
    {
        QFETCH(bool, sinkOwnsStorage);
        QFETCH(int, cancelAtRead);
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/dsink-XXXXXX"));
        const std::string path = dir.path().toStdString();
        QVERIFY(writeMixedModel(path));
        auto plan = makeLoadPlan(path);
        QVERIFY(plan.isOk());
        std::uint64_t bytes = 0;
        const std::vector<DeviceDestination> dest = mixedDestinations(*plan, bytes);
        FakeDeviceOps ops;
        ops.opDelay = std::chrono::microseconds(300);
        CheckingReader reader(ops);
        reader.delay = std::chrono::microseconds(500);
        std::atomic<bool> cancel{false};
        reader.hookAtRead = cancelAtRead;
        reader.hook = [&] { cancel = true; };
        void* storage = nullptr;
        if (!sinkOwnsStorage) {
            auto device = ops.allocDevice(bytes);
            QVERIFY(device.isOk());
            storage = *device;
        }
        {
            DeviceSink sink(DeviceSinkOptions{&ops, dest, storage, bytes});
            LoadPipelineOptions o = options(&reader, 2, 3);
            o.cancel = &cancel;
            auto report = runLoadPipeline(*plan, sink, o);
            QVERIFY(!report.isOk());
            QCOMPARE(report.error().code, ErrorCode::Cancelled);
            // Freed by the abort itself, not only by the sink's destructor.
            QCOMPARE(ops.liveAllocations(), sinkOwnsStorage ? 0 : 1);
        }
        if (storage)
            ops.freeDevice(storage);
        QCOMPARE(ops.liveAllocations(), 0);
        QCOMPARE(ops.refilledWhileInFlight.load(), 0);
        QCOMPARE(ops.badPointers.load(), 0);
    }

    void truncatedFileIsNamed()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/dsink-XXXXXX"));
        const std::string path = dir.path().toStdString();
        QVERIFY(writeMixedModel(path));
        auto plan = makeLoadPlan(path);
        QVERIFY(plan.isOk());
        std::uint64_t bytes = 0;
        const std::vector<DeviceDestination> dest = mixedDestinations(*plan, bytes);
        FakeDeviceOps ops;
        CheckingReader reader(ops);
        const std::string file = plan->files[0].path;
        const std::uint64_t cut = plan->files[0].identity.sizeBytes / 2;
        reader.hookAtRead = 1;
        reader.hook = [&] { QVERIFY(::truncate(file.c_str(), static_cast<off_t>(cut)) == 0); };
        {
            DeviceSink sink(DeviceSinkOptions{&ops, dest, nullptr, bytes});
            auto report = runLoadPipeline(*plan, sink, options(&reader, 1, 2));
            QVERIFY(!report.isOk());
            QCOMPARE(report.error().code, ErrorCode::Corrupt);
            const std::string& m = report.error().message;
            QVERIFY2(m.rfind("model.safetensors is truncated: expected ", 0) == 0, m.c_str());
            QCOMPARE(ops.liveAllocations(), 0);
        }
        QCOMPARE(ops.badPointers.load(), 0);
    }

    void badMapIsRefused()
    {
        QTemporaryDir dir(QString::fromStdString(workTempRoot() + "/dsink-XXXXXX"));
        const std::string path = dir.path().toStdString();
        QVERIFY(writeMixedModel(path));
        auto plan = makeLoadPlan(path);
        QVERIFY(plan.isOk());
        std::uint64_t bytes = 0;
        std::vector<DeviceDestination> dest = mixedDestinations(*plan, bytes);
        FakeDeviceOps ops;
        CheckingReader reader(ops);
        // A U8 spacer cannot become fp16; a destination past the storage's end is caught up front.
        std::vector<DeviceDestination> u8 = dest;
        u8[0] = DeviceDestination{false, 0, DType::F16};
        std::vector<DeviceDestination> past = dest;
        past[1].offset = bytes;
        for (const auto& [map, expect] : {std::pair{u8, std::string("cannot turn it into F16")},
                                          std::pair{past, std::string("does not fit its device destination")}}) {
            DeviceSink sink(DeviceSinkOptions{&ops, map, nullptr, bytes});
            auto report = runLoadPipeline(*plan, sink, options(&reader, 1, 1));
            QVERIFY(!report.isOk());
            QVERIFY2(report.error().message.find(expect) != std::string::npos, report.error().message.c_str());
            QCOMPARE(ops.liveAllocations(), 0);
        }
    }
};

QTEST_APPLESS_MAIN(TestDeviceSink)
#include "tst_device_sink.moc"
