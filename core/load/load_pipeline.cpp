// runLoadPipeline: reader threads fill a ring of staging buffers; the calling thread consumes
// them in job order. Job k may only use ring slot k % M once job k - M was consumed, so at most
// M chunks are in flight and the sink sees every file's bytes in order.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "load/loader.h"
#include "load/progress_meter.h"

namespace hearth {

namespace {

using Clock = std::chrono::steady_clock;

struct ChunkJob {
    int file = 0;
    std::uint64_t begin = 0;  // tensor bytes [begin, end) of the file
    std::uint64_t end = 0;
    bool lastOfFile = false;
};

struct Slot {
    std::int64_t allowedJob = 0;  // the job that may fill this slot next
    std::int64_t filledJob = -1;  // the job whose bytes the slot holds, ready to consume
    FilledChunk chunk;
};

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::uint64_t alignDown(std::uint64_t v) { return v / kDirectIoAlignment * kDirectIoAlignment; }
std::uint64_t alignUp(std::uint64_t v) { return alignDown(v + kDirectIoAlignment - 1); }

std::vector<ChunkJob> makeJobs(const LoadPlan& plan, std::uint64_t chunkBytes)
{
    std::vector<ChunkJob> jobs;
    for (std::size_t f = 0; f < plan.files.size(); ++f) {
        const PlannedFile& file = plan.files[f];
        // Interior boundaries fall on multiples of chunkBytes, so only the head and the tail
        // of a file can be unaligned for O_DIRECT.
        for (std::uint64_t off = file.readBegin; off < file.readEnd;) {
            const std::uint64_t next = std::min(file.readEnd, off / chunkBytes * chunkBytes + chunkBytes);
            jobs.push_back(ChunkJob{static_cast<int>(f), off, next, next == file.readEnd});
            off = next;
        }
    }
    return jobs;
}

class Pipeline {
public:
    Pipeline(const LoadPlan& plan, LoadSink& sink, const LoadPipelineOptions& options)
        : m_plan(plan), m_sink(sink), m_options(options)
    {
    }

    Result<LoadPipelineReport> run();

private:
    Status openFiles(FileReader& reader);
    void readerLoop();
    Status readJob(const ChunkJob& job, const StagingBuffer& buffer, FilledChunk& out);
    Status consumeAll(ProgressMeter& meter);
    void fail(Error error);
    bool cancelRequested() const { return m_options.cancel && m_options.cancel->load(std::memory_order_relaxed); }
    Status checkIdentity(std::size_t file, const char* when);

    const LoadPlan& m_plan;
    LoadSink& m_sink;
    const LoadPipelineOptions& m_options;
    std::vector<std::unique_ptr<WeightFile>> m_files;
    std::vector<ChunkJob> m_jobs;
    std::vector<StagingBuffer> m_buffers;
    LoadPipelineReport m_report;

    std::mutex m_mutex;  // guards everything below
    std::condition_variable m_changed;
    std::vector<Slot> m_slots;
    std::size_t m_nextJob = 0;
    bool m_stop = false;
    std::optional<Error> m_error;
    std::uint64_t m_bytesFromDisk = 0;
};

void Pipeline::fail(Error error)
{
    {
        std::lock_guard lock(m_mutex);
        if (!m_error)
            m_error = std::move(error);
        m_stop = true;
    }
    m_changed.notify_all();
}

Status Pipeline::checkIdentity(std::size_t file, const char* when)
{
    const PlannedFile& planned = m_plan.files[file];
    HEARTH_TRY_ASSIGN(FileIdentity now, m_files[file]->identity());
    if (now == planned.identity)
        return Status::ok();
    std::string what = now.sizeBytes != planned.identity.sizeBytes
                           ? "its size went from " + std::to_string(planned.identity.sizeBytes) + " to " +
                                 std::to_string(now.sizeBytes) + " bytes"
                           : now.inode != planned.identity.inode ? "it was replaced by another file"
                                                                 : "its modification time changed";
    return makeError(ErrorCode::Corrupt, planned.name + " changed " + when + " (" + what +
                                             "); the loaded weights would mix two versions. Load the model again.");
}

Status Pipeline::openFiles(FileReader& reader)
{
    for (std::size_t f = 0; f < m_plan.files.size(); ++f) {
        HEARTH_TRY_ASSIGN(std::unique_ptr<WeightFile> file, reader.open(m_plan.files[f].path, m_options.tryDirect));
        m_files.push_back(std::move(file));
        HEARTH_TRY_STATUS(checkIdentity(f, "after its header was read"));
    }
    return Status::ok();
}

Status Pipeline::readJob(const ChunkJob& job, const StagingBuffer& buffer, FilledChunk& out)
{
    WeightFile& file = *m_files[static_cast<std::size_t>(job.file)];
    const PlannedFile& planned = m_plan.files[static_cast<std::size_t>(job.file)];
    for (;;) {
        const bool direct = file.direct();
        const std::uint64_t readStart = direct ? alignDown(job.begin) : job.begin;
        const std::uint64_t readEnd = direct ? alignUp(job.end) : job.end;
        const std::size_t want = static_cast<std::size_t>(readEnd - readStart);
        std::size_t got = 0;
        bool retryBuffered = false;
        while (got < want) {
            Result<std::size_t> n = file.readAt(buffer.data + got, want - got, readStart + got);
            if (!n) {
                if (n.error().code == ErrorCode::Unsupported && direct) {
                    HEARTH_TRY_STATUS(file.dropDirect("O_DIRECT refused at read: " + n.error().message));
                    retryBuffered = true;
                    break;
                }
                return n.error();
            }
            got += *n;
            // A direct read is short only at the end of the file; another read from an
            // unaligned offset would be refused.
            if (*n == 0 || (direct && got < want))
                break;
        }
        if (retryBuffered)
            continue;
        {
            std::lock_guard lock(m_mutex);
            m_bytesFromDisk += got;
        }
        const std::size_t needed = static_cast<std::size_t>(job.end - readStart);
        if (got < needed) {
            const std::uint64_t head = job.begin - readStart;
            const std::uint64_t useful = got > head ? got - head : 0;
            return makeError(ErrorCode::Corrupt, planned.name + " is truncated: expected " +
                                                     std::to_string(job.end - job.begin) + " bytes at offset " +
                                                     std::to_string(job.begin) + ", got " + std::to_string(useful));
        }
        out.fileIndex = job.file;
        out.fileOffset = job.begin;
        out.data = buffer.data + (job.begin - readStart);
        out.nBytes = static_cast<std::size_t>(job.end - job.begin);
        return Status::ok();
    }
}

void Pipeline::readerLoop()
{
    const std::int64_t nSlots = static_cast<std::int64_t>(m_slots.size());
    for (;;) {
        std::int64_t k = 0;
        {
            std::unique_lock lock(m_mutex);
            if (m_stop || m_nextJob >= m_jobs.size())
                return;
            k = static_cast<std::int64_t>(m_nextJob++);
            Slot& slot = m_slots[static_cast<std::size_t>(k % nSlots)];
            // Poll the cancel flag: whoever sets it does not know our condition variable.
            while (!m_stop && slot.allowedJob != k) {
                if (cancelRequested()) {
                    lock.unlock();
                    fail(makeError(ErrorCode::Cancelled, "loading was cancelled"));
                    return;
                }
                m_changed.wait_for(lock, std::chrono::milliseconds(20));
            }
            if (m_stop)
                return;
        }
        if (cancelRequested()) {
            fail(makeError(ErrorCode::Cancelled, "loading was cancelled"));
            return;
        }
        const int bufferIndex = static_cast<int>(k % nSlots);
        if (Status reusable = m_sink.waitReusable(bufferIndex); !reusable) {
            fail(reusable.error());
            return;
        }
        FilledChunk chunk;
        if (Status read = readJob(m_jobs[static_cast<std::size_t>(k)], m_buffers[static_cast<std::size_t>(bufferIndex)], chunk);
            !read) {
            fail(read.error());
            return;
        }
        chunk.bufferIndex = bufferIndex;
        {
            std::lock_guard lock(m_mutex);
            Slot& slot = m_slots[static_cast<std::size_t>(bufferIndex)];
            slot.chunk = chunk;
            slot.filledJob = k;
        }
        m_changed.notify_all();
    }
}

Status Pipeline::consumeAll(ProgressMeter& meter)
{
    const std::int64_t nSlots = static_cast<std::int64_t>(m_slots.size());
    for (std::int64_t c = 0; c < static_cast<std::int64_t>(m_jobs.size()); ++c) {
        FilledChunk chunk;
        {
            std::unique_lock lock(m_mutex);
            Slot& slot = m_slots[static_cast<std::size_t>(c % nSlots)];
            while (!m_stop && slot.filledJob != c) {
                if (cancelRequested())
                    return makeError(ErrorCode::Cancelled, "loading was cancelled");
                m_changed.wait_for(lock, std::chrono::milliseconds(20));
            }
            if (m_stop)
                return m_error ? *m_error : makeError(ErrorCode::Internal, "load pipeline stopped without a reason");
            chunk = slot.chunk;
        }
        const auto sinkStart = Clock::now();
        HEARTH_TRY_STATUS(m_sink.consume(chunk));
        m_report.sinkMs += msSince(sinkStart);
        const ChunkJob& job = m_jobs[static_cast<std::size_t>(c)];
        // All of the file's chunks were read by now (they are consumed in order).
        if (job.lastOfFile)
            HEARTH_TRY_STATUS(checkIdentity(static_cast<std::size_t>(job.file), "while it was being loaded"));
        {
            std::lock_guard lock(m_mutex);
            Slot& slot = m_slots[static_cast<std::size_t>(c % nSlots)];
            slot.filledJob = -1;
            slot.allowedJob = c + nSlots;
        }
        m_changed.notify_all();
        meter.add(job.file, chunk.nBytes);
        m_report.bytesLoaded += chunk.nBytes;
        if (c + 1 < static_cast<std::int64_t>(m_jobs.size()))
            meter.report(false);
        // A cancel from inside the progress callback is seen before the next chunk.
        if (cancelRequested())
            return makeError(ErrorCode::Cancelled, "loading was cancelled");
    }
    return Status::ok();
}

Result<LoadPipelineReport> Pipeline::run()
{
    const auto openStart = Clock::now();
    std::unique_ptr<FileReader> ownReader;
    FileReader* reader = m_options.reader;
    if (!reader) {
        ownReader = makePosixFileReader();
        reader = ownReader.get();
    }
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int nReaders = m_options.nReaders > 0 ? m_options.nReaders : std::min(4, hw);
    const int nBuffers = std::max(m_options.nBuffers > 0 ? m_options.nBuffers : nReaders + 2, 1);
    const std::uint64_t chunkBytes = alignUp(std::max<std::uint64_t>(m_options.chunkBytes, 1));
    m_report.nReaders = nReaders;
    m_report.nBuffers = nBuffers;
    m_report.chunkBytes = chunkBytes;
    m_jobs = makeJobs(m_plan, chunkBytes);

    const auto abortWith = [&](Error error) -> Result<LoadPipelineReport> {
        m_sink.abort();
        m_files.clear();
        return error;
    };
    if (Status opened = openFiles(*reader); !opened)
        return abortWith(opened.error());
    // A chunk read directly starts up to one alignment unit early and ends up to one late.
    const auto stagingStart = Clock::now();
    Result<std::vector<StagingBuffer>> buffers =
        m_sink.allocateStaging(nBuffers, static_cast<std::size_t>(chunkBytes + 2 * kDirectIoAlignment), kDirectIoAlignment);
    if (!buffers)
        return abortWith(buffers.error());
    m_buffers = std::move(*buffers);
    if (Status dest = m_sink.allocateDestinations(m_plan); !dest)
        return abortWith(dest.error());
    m_report.stagingMs = msSince(stagingStart);
    m_slots.assign(static_cast<std::size_t>(nBuffers), Slot{});
    for (int s = 0; s < nBuffers; ++s)
        m_slots[static_cast<std::size_t>(s)].allowedJob = s;
    m_report.openMs = msSince(openStart);
    if (cancelRequested())
        return abortWith(makeError(ErrorCode::Cancelled, "loading was cancelled"));

    std::vector<LoadStageTime> before = m_options.stagesBefore;
    ProgressMeter meter(m_plan, m_options.loadStart, before, m_options.onProgress, m_options.progressIntervalS,
                        m_options.progressEveryBytes > 0 ? m_options.progressEveryBytes
                                                         : std::max<std::uint64_t>(chunkBytes, 1u << 20));
    meter.report(true);
    const auto readStart = Clock::now();
    std::vector<std::thread> readers;
    readers.reserve(static_cast<std::size_t>(nReaders));
    for (int i = 0; i < nReaders; ++i)
        readers.emplace_back([this] { readerLoop(); });
    Status consumed = consumeAll(meter);
    if (!consumed)
        fail(consumed.error());
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_changed.notify_all();
    for (std::thread& t : readers)
        t.join();
    if (m_error)
        return abortWith(*m_error);
    // The transfer ends when the sink has the last byte where it belongs (a device sink waits
    // for its last uploads here), not when the last chunk was handed over.
    if (Status finished = m_sink.finish(); !finished)
        return abortWith(finished.error());
    m_report.readMs = msSince(readStart);
    for (const auto& file : m_files)
        m_report.fileModes.push_back(file->mode());
    m_files.clear();
    m_report.bytesFromDisk = m_bytesFromDisk;
    const bool anyDirect = std::any_of(m_report.fileModes.begin(), m_report.fileModes.end(),
                                       [](const std::string& m) { return m == "direct"; });
    const bool allDirect = std::all_of(m_report.fileModes.begin(), m_report.fileModes.end(),
                                       [](const std::string& m) { return m == "direct"; });
    m_report.readMode = allDirect && anyDirect ? "direct" : anyDirect ? "mixed" : "buffered";
    meter.report(true);
    m_report.lastProgress = meter.progress();
    return m_report;
}

}  // namespace

Result<LoadPipelineReport> runLoadPipeline(const LoadPlan& plan, LoadSink& sink, const LoadPipelineOptions& options)
{
    Pipeline pipeline(plan, sink, options);
    return pipeline.run();
}

}  // namespace hearth
