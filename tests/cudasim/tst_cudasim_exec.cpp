// cudasim's kernel-execution half against CUDA's documented semantics, with answers computed by
// hand here: block barriers, every shuffle flavour and width, votes, WMMA against a naive matmul,
// shared-memory poisoning, cp.async groups, launch-configuration errors, and the faults (divergent
// barriers, missing lanes, misaligned WMMA and cp.async) in forked children.
#include <QtTest>

#include <sys/wait.h>
#include <unistd.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cudasim.h"
#include "exec/device.h"
#include "exec/include/mma.h"

namespace ex = cudasim::exec;

namespace {

// Launches `body` (every thread of every block runs it) and waits for it.
cudaError_t run(dim3 grid, dim3 block, std::function<void()> body, std::size_t sharedBytes = 0, const void* kernel = nullptr)
{
    const cudaError_t err = ex::launch(ex::config(grid, block, sharedBytes), kernel, "test kernel", std::move(body));
    if (err != cudaSuccess)
        return err;
    return cudaDeviceSynchronize();
}

unsigned linearThread()
{
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

unsigned linearBlock() { return blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z); }

// A tree reduction over 256 threads in shared memory, one sum per block.
void blockSumKernel(const float* in, float* out)
{
    static float s[256];
    ex::sharedVariable(s, sizeof s);
    const unsigned t = linearThread();
    s[t] = in[linearBlock() * 256 + t];
    __syncthreads();
    for (unsigned half = 128; half > 0; half /= 2) {
        if (t < half)
            s[t] += s[t + half];
        __syncthreads();
    }
    if (t == 0)
        out[linearBlock()] = s[0];
}

enum class Flavour { Idx, Up, Down, Xor };

struct ShuffleCase {
    Flavour flavour;
    int arg;
    int width;
};

// The lane whose value `lane` receives, straight from the CUDA programming guide's definitions.
int expectedSource(const ShuffleCase& c, int lane)
{
    const int w = c.width;
    const int base = lane - lane % w;
    switch (c.flavour) {
    case Flavour::Idx: return base + ((c.arg % w) + w) % w;
    case Flavour::Up: return lane % w - c.arg >= 0 ? lane - c.arg : lane;
    case Flavour::Down: return lane % w + c.arg < w ? lane + c.arg : lane;
    case Flavour::Xor: {
        const int src = lane ^ c.arg;
        return src >= base + w ? lane : src;  // later groups: own value
    }
    }
    return -1;
}

template <typename T>
T shuffleOnce(const ShuffleCase& c, T v)
{
    switch (c.flavour) {
    case Flavour::Idx: return __shfl_sync(0xffffffffu, v, c.arg, c.width);
    case Flavour::Up: return __shfl_up_sync(0xffffffffu, v, static_cast<unsigned>(c.arg), c.width);
    case Flavour::Down: return __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(c.arg), c.width);
    case Flavour::Xor: return __shfl_xor_sync(0xffffffffu, v, c.arg, c.width);
    }
    return v;
}

// 16x16 tiles of values that are multiples of 1/4 in [-2, 2]: products and 16-term sums are exact
// in fp32, so the WMMA result must equal the naive product bit for bit.
std::vector<float> quarterValues(std::mt19937& rng, std::size_t n)
{
    std::uniform_int_distribution<int> d(-8, 8);
    std::vector<float> v(n);
    for (float& x : v)
        x = static_cast<float>(d(rng)) / 4.0f;
    return v;
}

template <typename T>
T toElement(float v)
{
    if constexpr (std::is_same_v<T, __half>)
        return __float2half_rn(v);
    else
        return __float2bfloat16_rn(v);
}

struct alignas(256) Tiles {
    std::uint16_t a[16 * 16];
    std::uint16_t b[16 * 16];
    float c[16 * 16];
    float d[16 * 16];
};

template <typename T, typename LayoutB>
void wmmaKernel(const Tiles* t, float* d, bool storeRowMajor)
{
    namespace wmma = nvcuda::wmma;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LayoutB> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
    wmma::load_matrix_sync(fa, reinterpret_cast<const T*>(t->a), 16);
    wmma::load_matrix_sync(fb, reinterpret_cast<const T*>(t->b), 16);
    wmma::load_matrix_sync(fc, t->c, 16, wmma::mem_row_major);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(d, fc, 16, storeRowMajor ? wmma::mem_row_major : wmma::mem_col_major);
}

struct ChildResult {
    bool failed = false;  // the child did not exit with status 0
    std::string stderrText;
};

// Runs `body` in a forked child with its stderr captured (a death test): faults abort the process.
ChildResult runInChild(const std::function<void()>& body)
{
    int fds[2];
    if (pipe(fds) != 0)
        return {true, "pipe failed"};
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        alarm(30);  // a hang is a failure too, not a stuck test
        body();
        _exit(0);
    }
    close(fds[1]);
    ChildResult r;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
        r.stderrText.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return r;
}

void dynamicSharedKernel(std::uint8_t* out, std::size_t n)
{
    auto* smem = static_cast<std::uint8_t*>(ex::dynamicShared());
    if (threadIdx.x == 0)
        for (std::size_t i = 0; i < n; ++i)
            out[i] = smem[i];
}

}  // namespace

class TestCudasimExec : public QObject {
    Q_OBJECT

private slots:
    void blockReduction()
    {
        // 2x3 blocks of 16x4x4 threads: the linear indices cover every dimension.
        const std::size_t nBlocks = 6;
        std::vector<float> in(nBlocks * 256);
        for (std::size_t i = 0; i < in.size(); ++i)
            in[i] = static_cast<float>(i % 97) - 40.0f;  // small integers: every order sums exactly
        std::vector<float> out(nBlocks, -1.0f);
        const float* pin = in.data();
        float* pout = out.data();
        QCOMPARE(run(dim3(2, 3), dim3(16, 4, 4), [=] { blockSumKernel(pin, pout); }), cudaSuccess);
        for (std::size_t b = 0; b < nBlocks; ++b) {
            float want = 0;
            for (std::size_t t = 0; t < 256; ++t)
                want += in[b * 256 + t];
            QCOMPARE(out[b], want);
        }
    }

    void shuffles_data()
    {
        QTest::addColumn<int>("flavour");
        QTest::addColumn<int>("arg");
        QTest::addColumn<int>("width");
        const char* names[] = {"shfl", "up", "down", "xor"};
        const int args[4][3] = {{0, 9, 31}, {1, 3, 16}, {1, 5, 17}, {1, 8, 16}};
        for (int f = 0; f < 4; ++f)
            for (int arg : args[f])
                for (int width : {32, 16, 8, 1}) {
                    const std::string name = std::string(names[f]) + " " + std::to_string(arg) + " width " + std::to_string(width);
                    QTest::newRow(name.c_str()) << f << arg << width;
                }
    }

    // Each flavour and width over int, float, double, __half and __nv_bfloat162 values.
    void shuffles()
    {
        QFETCH(int, flavour);
        QFETCH(int, arg);
        QFETCH(int, width);
        const ShuffleCase c{static_cast<Flavour>(flavour), arg, width};
        std::vector<int> gotInt(64);
        std::vector<double> gotDouble(64);
        std::vector<float> gotHalf(64), gotBfPair(64);
        int* pi = gotInt.data();
        double* pd = gotDouble.data();
        float* ph = gotHalf.data();
        float* pb = gotBfPair.data();
        QCOMPARE(run(dim3(1), dim3(64), [=] {
                     const unsigned t = threadIdx.x;
                     pi[t] = shuffleOnce(c, static_cast<int>(t * 7 + 1));
                     pd[t] = shuffleOnce(c, 0.5 + t);
                     ph[t] = __half2float(shuffleOnce(c, __float2half_rn(static_cast<float>(t))));
                     __nv_bfloat162 pair;
                     pair.x = __float2bfloat16_rn(static_cast<float>(t));
                     pair.y = __float2bfloat16_rn(-static_cast<float>(t));
                     const __nv_bfloat162 r = shuffleOnce(c, pair);
                     pb[t] = __bfloat162float(r.x) * 1000.0f - __bfloat162float(r.y);
                 }),
                 cudaSuccess);
        for (int t = 0; t < 64; ++t) {
            const int src = 32 * (t / 32) + expectedSource(c, t % 32);
            QCOMPARE(gotInt[static_cast<std::size_t>(t)], src * 7 + 1);
            QCOMPARE(gotDouble[static_cast<std::size_t>(t)], 0.5 + src);
            QCOMPARE(gotHalf[static_cast<std::size_t>(t)], static_cast<float>(src));
            QCOMPARE(gotBfPair[static_cast<std::size_t>(t)], static_cast<float>(src) * 1001.0f);
        }
    }

    // Two half-warps shuffling with their own masks at the same time, then votes.
    void partialMasksAndVotes()
    {
        std::vector<unsigned> sums(32), ballots(32), anys(32), alls(32);
        unsigned* ps = sums.data();
        unsigned* pb = ballots.data();
        unsigned* pa = anys.data();
        unsigned* pl = alls.data();
        QCOMPARE(run(dim3(1), dim3(32), [=] {
                     const unsigned lane = threadIdx.x;
                     const unsigned mask = lane < 16 ? 0x0000ffffu : 0xffff0000u;
                     unsigned v = lane;
                     for (int o = 8; o > 0; o >>= 1)
                         v += __shfl_xor_sync(mask, v, o);
                     ps[lane] = v;
                     pb[lane] = __ballot_sync(0xffffffffu, lane % 3 == 0);
                     pa[lane] = static_cast<unsigned>(__any_sync(mask, lane == 20));
                     pl[lane] = static_cast<unsigned>(__all_sync(mask, lane < 16 || lane != 31));
                 }),
                 cudaSuccess);
        unsigned want = 0;
        for (unsigned l = 0; l < 32; l += 3)
            want |= 1u << l;
        for (unsigned lane = 0; lane < 32; ++lane) {
            QCOMPARE(sums[lane], lane < 16 ? 120u : 376u);  // 0+..+15, 16+..+31
            QCOMPARE(ballots[lane], want);
            QCOMPARE(anys[lane], lane < 16 ? 0u : 1u);
            QCOMPARE(alls[lane], lane < 16 ? 1u : 0u);
        }
    }

    void wmmaMatchesNaiveMatmul_data()
    {
        QTest::addColumn<bool>("bf16");
        QTest::addColumn<bool>("bColMajor");
        QTest::addColumn<bool>("storeRowMajor");
        for (bool bf16 : {false, true})
            for (bool bCol : {false, true})
                for (bool storeRow : {true, false}) {
                    const std::string name = std::string(bf16 ? "bf16" : "f16") + (bCol ? " B col" : " B row") +
                                             (storeRow ? " store row" : " store col");
                    QTest::newRow(name.c_str()) << bf16 << bCol << storeRow;
                }
    }

    void wmmaMatchesNaiveMatmul()
    {
        QFETCH(bool, bf16);
        QFETCH(bool, bColMajor);
        QFETCH(bool, storeRowMajor);
        std::mt19937 rng(5u + (bf16 ? 1u : 0u) + (bColMajor ? 2u : 0u));
        const auto a = quarterValues(rng, 256);
        const auto b = quarterValues(rng, 256);  // logical B[k][n] = b[k * 16 + n]
        const auto c = quarterValues(rng, 256);
        auto tiles = std::make_unique<Tiles>();
        for (int i = 0; i < 256; ++i) {
            const int k = i / 16;
            const int n = i % 16;
            const int bIndex = bColMajor ? n * 16 + k : i;
            const float bv = b[static_cast<std::size_t>(i)];
            const float av = a[static_cast<std::size_t>(i)];
            std::uint16_t abits, bbits;
            if (bf16) {
                abits = __bfloat16_as_ushort(toElement<__nv_bfloat16>(av));
                bbits = __bfloat16_as_ushort(toElement<__nv_bfloat16>(bv));
            } else {
                abits = __half_as_ushort(toElement<__half>(av));
                bbits = __half_as_ushort(toElement<__half>(bv));
            }
            tiles->a[i] = abits;
            tiles->b[bIndex] = bbits;
            tiles->c[i] = c[static_cast<std::size_t>(i)];
        }
        const Tiles* pt = tiles.get();
        float* pd = tiles->d;
        std::function<void()> body;
        if (bf16 && bColMajor)
            body = [=] { wmmaKernel<__nv_bfloat16, nvcuda::wmma::col_major>(pt, pd, storeRowMajor); };
        else if (bf16)
            body = [=] { wmmaKernel<__nv_bfloat16, nvcuda::wmma::row_major>(pt, pd, storeRowMajor); };
        else if (bColMajor)
            body = [=] { wmmaKernel<__half, nvcuda::wmma::col_major>(pt, pd, storeRowMajor); };
        else
            body = [=] { wmmaKernel<__half, nvcuda::wmma::row_major>(pt, pd, storeRowMajor); };
        QCOMPARE(run(dim3(1), dim3(32), body), cudaSuccess);
        for (int r = 0; r < 16; ++r)
            for (int col = 0; col < 16; ++col) {
                double want = c[static_cast<std::size_t>(r * 16 + col)];
                for (int k = 0; k < 16; ++k)
                    want += static_cast<double>(a[static_cast<std::size_t>(r * 16 + k)]) * b[static_cast<std::size_t>(k * 16 + col)];
                const float got = tiles->d[storeRowMajor ? r * 16 + col : col * 16 + r];
                QCOMPARE(got, static_cast<float>(want));
            }
    }

    // What the tensor-core prefill relies on: an accumulator loaded from a matrix of row indices
    // tells each lane the row of each of its elements, and scaling by it scales whole rows.
    void wmmaAccumulatorRowProbe()
    {
        auto tiles = std::make_unique<Tiles>();
        for (int i = 0; i < 256; ++i)
            tiles->c[i] = static_cast<float>(i / 16);
        float* pc = tiles->c;
        float* pd = tiles->d;
        QCOMPARE(run(dim3(1), dim3(32), [=] {
                     namespace wmma = nvcuda::wmma;
                     wmma::fragment<wmma::accumulator, 16, 16, 16, float> probe, values;
                     wmma::load_matrix_sync(probe, pc, 16, wmma::mem_row_major);
                     wmma::fill_fragment(values, 1.0f);
                     for (int i = 0; i < values.num_elements; ++i)
                         values.x[i] *= probe.x[i] + 1.0f;  // row r scaled by r + 1
                     wmma::store_matrix_sync(pd, values, 16, wmma::mem_row_major);
                 }),
                 cudaSuccess);
        for (int i = 0; i < 256; ++i)
            QCOMPARE(tiles->d[i], static_cast<float>(i / 16 + 1));
    }

    // Exited threads are not waited for at __syncthreads (the hardware's behaviour).
    void exitedThreadsDoNotBlockBarriers()
    {
        std::vector<int> out(128, -1);
        int* po = out.data();
        QCOMPARE(run(dim3(1), dim3(128), [=] {
                     static int s[128];
                     ex::sharedVariable(s, sizeof s);
                     const unsigned t = threadIdx.x;
                     if (t >= 96)
                         return;
                     s[t] = static_cast<int>(t);
                     __syncthreads();
                     po[t] = s[95 - t];
                 }),
                 cudaSuccess);
        for (int t = 0; t < 128; ++t)
            QCOMPARE(out[static_cast<std::size_t>(t)], t < 96 ? 95 - t : -1);
    }

    // Static shared memory reads 0xFF bytes until written, in every block (not the last block's).
    void sharedMemoryPoisonedPerBlock()
    {
        std::vector<unsigned> before(3), after(3);
        unsigned* pb = before.data();
        unsigned* pa = after.data();
        QCOMPARE(run(dim3(3), dim3(32), [=] {
                     static unsigned s[4];
                     ex::sharedVariable(s, sizeof s);
                     if (threadIdx.x == 0)
                         pb[blockIdx.x] = s[2];
                     __syncthreads();
                     if (threadIdx.x == 2)
                         s[2] = blockIdx.x;
                     __syncthreads();
                     if (threadIdx.x == 0)
                         pa[blockIdx.x] = s[2];
                 }),
                 cudaSuccess);
        for (unsigned b = 0; b < 3; ++b) {
            QCOMPARE(before[b], 0xffffffffu);
            QCOMPARE(after[b], b);
        }
    }

    // CUDA copies kernel arguments at the launch; the work itself runs later.
    void argumentsCopiedAtLaunch()
    {
        int value = 7;
        int out = 0;
        int* po = &out;
        QCOMPARE(ex::launch(ex::config(dim3(1), dim3(1)), nullptr, "copy", [po, value] { *po = value; }), cudaSuccess);
        value = 8;
        QCOMPARE(out, 0);  // deferred until something waits
        QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
        QCOMPARE(out, 7);
    }

    // cp.async reads its source when issued and lands at the wait for its group.
    void cpAsyncLandsAtWait()
    {
        struct alignas(16) Buf {
            std::uint32_t src[8];
            std::uint32_t seen[4];
        };
        auto buf = std::make_unique<Buf>();
        for (std::uint32_t i = 0; i < 8; ++i)
            buf->src[i] = i + 1;
        Buf* p = buf.get();
        QCOMPARE(run(dim3(1), dim3(1), [=] {
                     static std::uint32_t dst[8] __attribute__((aligned(16)));
                     ex::sharedVariable(dst, sizeof dst);
                     dst[0] = dst[4] = 0;
                     ex::copyAsync16(dst, p->src, 16);
                     ex::commitAsyncGroup();
                     ex::copyAsync16(dst + 4, p->src + 4, 4);  // 4 bytes read, 12 zero-filled
                     ex::commitAsyncGroup();
                     p->src[0] = 100;  // after the issue: the copy already read it
                     p->seen[0] = dst[0];
                     ex::waitAsyncGroups(1);  // the first group has landed, the second not
                     p->seen[1] = dst[0];
                     p->seen[2] = dst[4];
                     ex::waitAsyncGroups(0);
                     p->seen[3] = dst[4] + dst[5] + dst[7];
                 }),
                 cudaSuccess);
        QCOMPARE(buf->seen[0], 0u);
        QCOMPARE(buf->seen[1], 1u);
        QCOMPARE(buf->seen[2], 0u);
        QCOMPARE(buf->seen[3], 5u);
    }

    void launchConfigErrors_data()
    {
        QTest::addColumn<unsigned>("gx");
        QTest::addColumn<unsigned>("gy");
        QTest::addColumn<unsigned>("bx");
        QTest::addColumn<unsigned>("by");
        QTest::addColumn<unsigned>("bz");
        QTest::addColumn<int>("sharedKb");
        QTest::addColumn<int>("error");
        QTest::newRow("1024 threads") << 1u << 1u << 1024u << 1u << 1u << 0 << int(cudaSuccess);
        QTest::newRow("1025 threads") << 1u << 1u << 1025u << 1u << 1u << 0 << int(cudaErrorInvalidConfiguration);
        QTest::newRow("32x32x2 threads") << 1u << 1u << 32u << 32u << 2u << 0 << int(cudaErrorInvalidConfiguration);
        QTest::newRow("block z 65") << 1u << 1u << 1u << 1u << 65u << 0 << int(cudaErrorInvalidConfiguration);
        QTest::newRow("block x 0") << 1u << 1u << 0u << 1u << 1u << 0 << int(cudaErrorInvalidConfiguration);
        QTest::newRow("grid x 0") << 0u << 1u << 32u << 1u << 1u << 0 << int(cudaErrorInvalidConfiguration);
        QTest::newRow("grid y 65535") << 1u << 65535u << 1u << 1u << 1u << 0 << int(cudaSuccess);
        QTest::newRow("grid y 65536") << 1u << 65536u << 32u << 1u << 1u << 0 << int(cudaErrorInvalidConfiguration);
        QTest::newRow("48 KiB shared") << 1u << 1u << 32u << 1u << 1u << 48 << int(cudaSuccess);
        QTest::newRow("49 KiB shared") << 1u << 1u << 32u << 1u << 1u << 49 << int(cudaErrorInvalidValue);
    }

    // A refused launch runs nothing and sets the thread's last error.
    void launchConfigErrors()
    {
        QFETCH(unsigned, gx);
        QFETCH(unsigned, gy);
        QFETCH(unsigned, bx);
        QFETCH(unsigned, by);
        QFETCH(unsigned, bz);
        QFETCH(int, sharedKb);
        QFETCH(int, error);
        (void)cudaGetLastError();
        int ran = 0;
        int* pr = &ran;
        const cudaError_t got = ex::launch(ex::config(dim3(gx, gy), dim3(bx, by, bz), std::size_t(sharedKb) * 1024), nullptr,
                                           "config", [pr] { *pr = 1; });
        QCOMPARE(int(got), error);
        QCOMPARE(int(cudaGetLastError()), error);
        QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
        QCOMPARE(ran, error == cudaSuccess ? 1 : 0);
    }

    // Above 48 KiB once the kernel opted in; the buffer starts as 0xFF bytes.
    void dynamicSharedOptIn()
    {
        const auto kernel = ex::kernelAddress(&dynamicSharedKernel);
        std::vector<std::uint8_t> out(100 * 1024, 0);
        std::uint8_t* po = out.data();
        const std::size_t n = out.size();
        QCOMPARE(run(dim3(1), dim3(32), [=] { dynamicSharedKernel(po, n); }, n, kernel), cudaErrorInvalidValue);
        QCOMPARE(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(n)), cudaSuccess);
        QCOMPARE(run(dim3(1), dim3(32), [=] { dynamicSharedKernel(po, n); }, n, kernel), cudaSuccess);
        QVERIFY(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0xFF; }));
        (void)cudaGetLastError();
    }

    void faults_data()
    {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("message");
        QTest::newRow("divergent __syncthreads") << 0 << QStringLiteral("divergent barrier");
        QTest::newRow("shuffle waits for an exited lane") << 1 << QStringLiteral("which has exited");
        QTest::newRow("shuffle reads outside its mask") << 2 << QStringLiteral("not in the mask");
        QTest::newRow("warp barrier vs block barrier") << 3 << QStringLiteral("deadlock");
        QTest::newRow("mask without the caller") << 4 << QStringLiteral("leaves out the calling lane");
        QTest::newRow("wmma misaligned pointer") << 5 << QStringLiteral("not 256-bit");
        QTest::newRow("wmma fp32 ldm not a multiple of 4") << 6 << QStringLiteral("ldm 18");
        QTest::newRow("cp.async misaligned") << 7 << QStringLiteral("misaligned");
        QTest::newRow("lanes pass different wmma pointers") << 8 << QStringLiteral("different pointers");
        QTest::newRow("__trap") << 9 << QStringLiteral("__trap");
    }

    // Each fault stops the process with a message naming the kernel, block and thread.
    void faults()
    {
        QFETCH(int, which);
        QFETCH(QString, message);
        auto tiles = std::make_unique<Tiles>();
        float* pc = tiles->c;
        const ChildResult r = runInChild([which, pc] {
            (void)run(dim3(2), dim3(64), [which, pc] {
                namespace wmma = nvcuda::wmma;
                const unsigned lane = threadIdx.x % 32;
                wmma::fragment<wmma::accumulator, 16, 16, 16, float> f;
                switch (which) {
                case 0:
                    if (threadIdx.x < 16)
                        __syncthreads();
                    else
                        __syncthreads();
                    break;
                case 1:
                    if (lane == 5)
                        return;
                    (void)__shfl_sync(0xffffffffu, 1, 0);
                    break;
                case 2:
                    if (lane < 16)
                        (void)__shfl_sync(0x0000ffffu, 1, 20);
                    break;
                case 3:
                    if (threadIdx.x < 16)
                        __syncwarp();
                    else
                        __syncthreads();
                    break;
                case 4: (void)__shfl_sync(1u << ((lane + 1) % 32), 1, 0); break;
                case 5: wmma::load_matrix_sync(f, pc + 4, 16, wmma::mem_row_major); break;
                case 6: wmma::load_matrix_sync(f, pc, 18, wmma::mem_row_major); break;
                case 7: {
                    static float dst[8] __attribute__((aligned(16)));
                    ex::sharedVariable(dst, sizeof dst);
                    ex::copyAsync16(dst, pc + 1, 16);
                    break;
                }
                case 8: wmma::load_matrix_sync(f, pc + (lane & 8u) * 8, 16, wmma::mem_row_major); break;
                case 9:
                    if (blockIdx.x == 1 && threadIdx.x == 33)
                        __trap();
                    break;
                default: break;
                }
            });
        });
        QVERIFY2(r.failed, "the child finished without a fault");
        QVERIFY2(r.stderrText.find(message.toStdString()) != std::string::npos, r.stderrText.c_str());
        QVERIFY2(r.stderrText.find("kernel test kernel, block (") != std::string::npos, r.stderrText.c_str());
        if (which == 9)
            QVERIFY2(r.stderrText.find("block (1,0,0), thread (33,0,0)") != std::string::npos, r.stderrText.c_str());
    }
};

QTEST_APPLESS_MAIN(TestCudasimExec)
#include "tst_cudasim_exec.moc"
