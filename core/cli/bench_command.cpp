// `hearth-cli bench --load`: how long a model takes to become usable, next to what the disk
// allows. Measures, cold (page cache dropped) and warm: one thread read()ing the weight files
// sequentially (the disk's own figure), the load pipeline reading them into host memory, and
// Hearth's time from process start to ready, taken by spawning hearth-cli itself (a hidden
// --load-child mode that loads through Engine and prints one JSON line when ready) and timing
// spawn to that line. Cold figures need --drop-caches: as root the whole page cache is dropped,
// otherwise each model file's pages are (posix_fadvise DONTNEED, which needs no privileges).
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "build_config.h"
#include "cli/bench_generate.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "load/host_sink.h"
#include "load/loader.h"
#if HEARTH_CUDA_BUILT
#include "engine/cuda/cuda_load_ops.h"
#include "kernels.h"
#endif

extern char** environ;

namespace hearth::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
    bool load = false;
    bool loadChild = false;  // hidden: the spawned child of a start-to-ready measurement
    std::string model;
    bool json = false;
    bool dropCaches = false;
    int runs = 1;
};

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string errnoText() { return std::strerror(errno); }

// What the cold measurements dropped, or nullopt-like "" when cold runs are not possible.
Result<std::string> dropPageCache(const std::string& modelDir)
{
    ::sync();
    if (::geteuid() == 0) {
        const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            const bool ok = ::write(fd, "3\n", 2) == 2;
            (void)::close(fd);  // the write's result is what counts
            if (ok)
                return std::string("sync; echo 3 > /proc/sys/vm/drop_caches (root)");
        }
        // In a container root may not own /proc/sys: fall through to the per-file way.
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(modelDir, ec)) {
        if (!entry.is_regular_file(ec))
            continue;
        const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return makeError(ErrorCode::Io, entry.path().string() + ": cannot open: " + errnoText());
        const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        (void)::close(fd);
        if (rc != 0)
            return makeError(ErrorCode::Io, entry.path().string() + ": posix_fadvise(DONTNEED) failed: " + std::strerror(rc));
    }
    if (ec)
        return makeError(ErrorCode::Io, modelDir + ": cannot list: " + ec.message());
    return std::string("posix_fadvise(POSIX_FADV_DONTNEED) on every file of the model folder (not root)");
}

// One thread, plain read() into one buffer, file after file: the baseline the loader is held to.
Result<double> rawSequentialRead(const LoadPlan& plan)
{
    constexpr std::size_t kBufferBytes = 8u << 20;
    std::vector<char> buffer(kBufferBytes);
    const auto start = Clock::now();
    for (const PlannedFile& f : plan.files) {
        const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return makeError(ErrorCode::Io, f.path + ": cannot open: " + errnoText());
        for (;;) {
            const ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n > 0)
                continue;
            if (n < 0 && errno == EINTR)
                continue;
            const int e = errno;
            (void)::close(fd);
            if (n < 0)
                return makeError(ErrorCode::Io, f.path + ": read failed: " + std::strerror(e));
            break;
        }
    }
    return secondsSince(start);
}

struct PipelineRun {
    double seconds = 0.0;  // plan, open, read, hand to the sink
    std::string readMode;
    int nReaders = 0;
};

Result<PipelineRun> pipelineRead(const std::string& dir)
{
    const auto start = Clock::now();
    HEARTH_TRY_ASSIGN(LoadPlan plan, makeLoadPlan(dir));
    HostSink sink;
    LoadPipelineOptions options;
    HEARTH_TRY_ASSIGN(LoadPipelineReport report, runLoadPipeline(plan, sink, options));
    PipelineRun run;
    run.seconds = secondsSince(start);
    run.readMode = report.readMode;
    run.nReaders = report.nReaders;
    return run;  // the sink frees the tensors here, outside the timing
}

struct ChildRun {
    double seconds = 0.0;
    double cpuS = 0.0;     // user + system CPU of the child: on a loaded machine, wall time lies
    nlohmann::json ready;  // the child's line: breakdown and its own view of the load
};

// Spawns this executable in --load-child mode and times spawn to its "ready" line.
Result<ChildRun> startToReady(const std::string& dir)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return makeError(ErrorCode::Io, std::string("bench: pipe failed: ") + errnoText());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<std::string> args = {"hearth-cli", "bench", "--load-child", "--model", dir};
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto start = Clock::now();
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    (void)::close(fds[1]);  // the child holds its own copy
    if (rc != 0) {
        (void)::close(fds[0]);
        return makeError(ErrorCode::Io, std::string("bench: cannot start /proc/self/exe: ") + std::strerror(rc));
    }
    std::string out;
    std::optional<nlohmann::json> line;
    double seconds = 0.0;
    char buf[4096];
    while (!line) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; !line && (nl = out.find('\n')) != std::string::npos; out.erase(0, nl + 1)) {
            auto j = nlohmann::json::parse(out.substr(0, nl), nullptr, false);
            if (!j.is_discarded() && j.is_object()) {
                seconds = secondsSince(start);
                line = std::move(j);
            }
        }
    }
    (void)::close(fds[0]);
    int status = 0;
    struct rusage usage {};
    while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    const double cpuS = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    if (!line)
        return makeError(ErrorCode::Internal, "bench: the child load printed no result (exit status " +
                                                  std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    if (!line->value("ready", false))
        return makeError(ErrorCode::Internal, "bench: the child load failed: " + line->value("error", std::string("?")));
    return ChildRun{seconds, cpuS, std::move(*line)};
}

nlohmann::json breakdownJson(const std::vector<LoadStageTime>& stages)
{
    nlohmann::json out = nlohmann::json::array();
    for (const LoadStageTime& s : stages)
        out.push_back({{"stage", s.stage}, {"ms", s.ms}, {"overlapped", s.overlapped}});
    return out;
}

// The hidden child: load through Engine as `serve` would, print one JSON line once ready.
int runLoadChild(const BenchArgs& a)
{
    auto engine = Engine::create(EngineOptions{});
    Status status = engine ? (*engine)->load(a.model) : Status(engine.error());
    if (status)
        status = (*engine)->waitUntilLoaded();
    nlohmann::json line;
    if (!status) {
        line = {{"ready", false}, {"error", status.error().toString()}};
    } else {
        const EngineState state = (*engine)->state();
        line = {{"ready", true}, {"loadS", state.progress.elapsedS}, {"bytes", state.progress.bytesTotal},
                {"backend", state.backendName}, {"breakdown", breakdownJson(state.progress.breakdown)}};
    }
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
    return status ? 0 : 1;
}

double median(std::vector<double> v)
{
    if (v.empty())
        return 0.0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2.0;
}

nlohmann::json series(const std::vector<double>& v, double bytes)
{
    if (v.empty())
        return nullptr;
    const double m = median(v);
    return {{"runsS", v}, {"medianS", m}, {"medianGBps", m > 0 ? bytes / m / 1e9 : 0.0}};
}

std::string cell(const nlohmann::json& s)
{
    if (s.is_null())
        return "n/a (no --drop-caches)";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%7.3f s %6.2f GB/s", s["medianS"].get<double>(), s["medianGBps"].get<double>());
    return buf;
}

std::string stagesText(const nlohmann::json& stages)
{
    std::string out;
    for (const auto& s : stages) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s%s %.0f ms%s", out.empty() ? "" : ", ", s["stage"].get<std::string>().c_str(),
                      s["ms"].get<double>(), s["overlapped"].get<bool>() ? " (overlapped)" : "");
        out += buf;
    }
    return out;
}

struct UploadBandwidth {
    nlohmann::json gbps;  // null when not measured
    std::string note;
};

// Pinned host-to-device copy bandwidth on GPU 0: the ceiling of the device load path's transfer
// (besides the disk). Measured in this process, before the child loads claim the device's memory.
UploadBandwidth measureUploadBandwidth()
{
#if HEARTH_CUDA_BUILT
    const kernels::DeviceQuery q = kernels::queryDevices();
    if (q.devices.empty())
        return {nullptr, "n/a (no CUDA device: " + q.error + ")"};
    Result<double> bps = cuda::measurePinnedUploadBytesPerS(0, std::size_t{256} << 20);
    if (!bps)
        return {nullptr, "not measured: " + bps.error().toString()};
    return {*bps / 1e9, "pinned host memory to " + q.devices.front().name + ", 256 MiB copies, best of 3"};
#else
    return {nullptr, "n/a (this build has no CUDA backend)"};
#endif
}

Status runLoadBench(const BenchArgs& a)
{
    HEARTH_TRY_ASSIGN(LoadPlan plan, makeLoadPlan(a.model));
    std::uint64_t fileBytes = 0;
    for (const PlannedFile& f : plan.files)
        fileBytes += f.identity.sizeBytes;
    const double bytes = static_cast<double>(fileBytes);
    std::vector<double> rawCold, rawWarm, pipeCold, pipeWarm, startCold, startWarm, childCpuCold, childCpuWarm;
    std::string dropMethod, readModeCold, readModeWarm;
    int nReaders = 0;
    nlohmann::json breakdownCold, breakdownWarm;
    std::string backendName;
    const UploadBandwidth upload = measureUploadBandwidth();
    const auto drop = [&]() -> Status {
        HEARTH_TRY_ASSIGN(dropMethod, dropPageCache(a.model));
        return Status::ok();
    };
    // Each figure goes to stderr as it is measured, in both modes: a run cut short by a time limit
    // still leaves what it measured in its log.
    const auto note = [](const char* what, double seconds) { std::fprintf(stderr, "  %s: %.2f s\n", what, seconds); };
    for (int run = 0; run < a.runs; ++run) {
        std::fprintf(stderr, "run %d/%d ...\n", run + 1, a.runs);
        if (a.dropCaches) {
            HEARTH_TRY_STATUS(drop());
            HEARTH_TRY_ASSIGN(double s, rawSequentialRead(plan));
            rawCold.push_back(s);
            note("raw sequential read, cold", s);
        }
        HEARTH_TRY_ASSIGN(double warm, rawSequentialRead(plan));
        rawWarm.push_back(warm);
        note("raw sequential read, warm", warm);
        if (a.dropCaches) {
            HEARTH_TRY_STATUS(drop());
            HEARTH_TRY_ASSIGN(PipelineRun p, pipelineRead(a.model));
            pipeCold.push_back(p.seconds);
            note("pipeline read, cold", p.seconds);
            readModeCold = p.readMode;
        }
        // A cold pipeline run reads directly, past the page cache: warm the cache first.
        HEARTH_TRY_STATUS(rawSequentialRead(plan).status());
        HEARTH_TRY_ASSIGN(PipelineRun p, pipelineRead(a.model));
        pipeWarm.push_back(p.seconds);
        note("pipeline read, warm", p.seconds);
        readModeWarm = p.readMode;
        nReaders = p.nReaders;
        if (a.dropCaches) {
            HEARTH_TRY_STATUS(drop());
            HEARTH_TRY_ASSIGN(ChildRun c, startToReady(a.model));
            startCold.push_back(c.seconds);
            note("process start to ready, cold", c.seconds);
            childCpuCold.push_back(c.cpuS);
            breakdownCold = c.ready["breakdown"];
        }
        HEARTH_TRY_STATUS(rawSequentialRead(plan).status());
        HEARTH_TRY_ASSIGN(ChildRun c, startToReady(a.model));
        startWarm.push_back(c.seconds);
        note("process start to ready, warm", c.seconds);
        childCpuWarm.push_back(c.cpuS);
        breakdownWarm = c.ready["breakdown"];
        backendName = c.ready.value("backend", std::string());
    }
    nlohmann::json j = {
        {"model", a.model},
        {"weightFiles", plan.files.size()},
        {"weightFileBytes", fileBytes},
        {"tensorBytes", plan.totalBytes},
        {"runs", a.runs},
        {"hardwareThreads", std::thread::hardware_concurrency()},
        {"dropCaches", a.dropCaches ? nlohmann::json(dropMethod) : nlohmann::json(nullptr)},
        {"rawSequentialRead", {{"threads", 1}, {"cold", series(rawCold, bytes)}, {"warm", series(rawWarm, bytes)}}},
        {"pipelineRead", {{"readers", nReaders}, {"readModeCold", a.dropCaches ? nlohmann::json(readModeCold) : nlohmann::json(nullptr)},
                          {"readModeWarm", readModeWarm}, {"cold", series(pipeCold, bytes)}, {"warm", series(pipeWarm, bytes)}}},
        {"startToReady", {{"cold", series(startCold, bytes)}, {"warm", series(startWarm, bytes)},
                          {"childCpuS", {{"cold", childCpuCold}, {"warm", childCpuWarm}}}}},
        {"breakdown", {{"cold", breakdownCold.is_null() ? nlohmann::json(nullptr) : breakdownCold}, {"warm", breakdownWarm}}},
        {"backend", backendName},
        {"hostToDeviceGBps", upload.gbps},
        {"hostToDeviceNote", upload.note},
    };
    if (a.json) {
        std::printf("%s\n", j.dump(2).c_str());
        return Status::ok();
    }
    std::printf("Load benchmark: %s\n  %zu weight file(s), %.1f MB; %d run(s), medians; %u hardware threads\n", a.model.c_str(),
                plan.files.size(), bytes / 1e6, a.runs, std::thread::hardware_concurrency());
    std::printf("  cold runs: %s\n\n", a.dropCaches ? dropMethod.c_str() : "none (pass --drop-caches)");
    std::printf("  %-34s %-28s %s\n", "", "cold", "warm");
    std::printf("  %-34s %-28s %s\n", "raw sequential read (1 thread)", cell(j["rawSequentialRead"]["cold"]).c_str(),
                cell(j["rawSequentialRead"]["warm"]).c_str());
    const std::string pipeLabel = "load pipeline read (" + std::to_string(nReaders) + " readers)";
    std::printf("  %-34s %-28s %s\n", pipeLabel.c_str(), cell(j["pipelineRead"]["cold"]).c_str(), cell(j["pipelineRead"]["warm"]).c_str());
    std::printf("  %-34s %-28s %s\n", "process start to ready", cell(j["startToReady"]["cold"]).c_str(),
                cell(j["startToReady"]["warm"]).c_str());
    std::printf("  %-34s %-28.3f %.3f\n", "  CPU time of that process (s)", median(childCpuCold), median(childCpuWarm));
    std::printf("\n  read mode: cold %s, warm %s\n", a.dropCaches ? readModeCold.c_str() : "-", readModeWarm.c_str());
    if (!breakdownCold.is_null())
        std::printf("  breakdown, cold start: %s\n", stagesText(breakdownCold).c_str());
    std::printf("  breakdown, warm start: %s\n", stagesText(breakdownWarm).c_str());
    std::printf("  backend of the started process: %s\n", backendName.c_str());
    if (upload.gbps.is_null())
        std::printf("  pinned host-to-device bandwidth: %s\n", upload.note.c_str());
    else
        std::printf("  pinned host-to-device bandwidth: %.2f GB/s (%s)\n", upload.gbps.get<double>(), upload.note.c_str());
    return Status::ok();
}

}  // namespace

void registerBenchCommand(CLI::App& app, int& exitCode)
{
    auto args = std::make_shared<BenchArgs>();
    auto genArgs = std::make_shared<BenchGenerateArgs>();
    auto* cmd = app.add_subcommand("bench", "Generation speed through the engine; --load: model load time against the disk's raw read time");
    addBenchGenerateOptions(cmd, *genArgs);
    cmd->add_flag("--load", args->load, "Measure raw read, pipeline read and process start to ready, cold and warm");
    cmd->add_option("--model", args->model, "Model folder");
    cmd->add_flag("--json", args->json, "Print the figures as JSON");
    cmd->add_flag("--drop-caches", args->dropCaches,
                  "Cold runs: drop the page cache first (root), else posix_fadvise(DONTNEED) the model's files");
    cmd->add_option("--runs", args->runs, "Runs of each measurement (medians are shown)")->capture_default_str()->check(CLI::Range(1, 100));
    cmd->add_flag("--load-child", args->loadChild, "Internal: load through the engine and print one JSON line")->group("");
    cmd->callback([args, genArgs, &exitCode] {
        if (args->loadChild) {
            exitCode = runLoadChild(*args);
            return;
        }
        if (!args->load) {
            exitCode = runBenchGenerate(*genArgs, args->model, args->json);
            return;
        }
        if (args->model.empty()) {
            std::fprintf(stderr, "error: bench --load needs --model DIR\n");
            exitCode = 2;
            return;
        }
        if (Status s = runLoadBench(*args); !s) {
            std::fprintf(stderr, "error: %s\n", s.error().toString().c_str());
            exitCode = 1;
        }
    });
}

}  // namespace hearth::cli
