#include "engine_controller.h"

#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

#include <chrono>

namespace hearth::gui {

EngineController::EngineController(std::shared_ptr<Engine> engine, QObject* parent)
    : QObject(parent), m_engine(std::move(engine))
{
    qRegisterMetaType<hearth::gui::GenerationOutcome>();
    qRegisterMetaType<hearth::LoadProgress>();
    m_polling.setInterval(kProgressPollMs);
    connect(&m_polling, &QTimer::timeout, this, &EngineController::pollState);
}

EngineController::~EngineController()
{
    // Cancel first so every worker's handle finishes within one scheduler step, then join.
    for (auto& [id, worker] : m_workers) worker.handle->cancel();
    for (auto& [id, worker] : m_workers)
        if (worker.thread.joinable()) worker.thread.join();
}

void EngineController::load(const QString& modelPath, const LoadOptions& options)
{
    // One load at a time: the one running keeps its path and progress until it ends or is cancelled.
    if (isLoading()) {
        emit loadNotice(tr("%1 is still loading; cancel it before loading another model").arg(m_modelPath));
        return;
    }
    m_options = options;
    // A new load needs the options in the engine's EngineOptions: remake an engine made here when
    // they changed, but only when no generation and no API server hold it.
    if (m_engine && m_ownsEngine && m_engineMadeWith != options) {
        if (m_workers.empty() && m_engine.use_count() == 1) {
            m_polling.stop();
            m_engine.reset();
        } else {
            emit loadNotice(tr("The new load options apply once the Local API is stopped and no reply is being "
                               "written; this load uses the previous ones"));
        }
    }
    m_ready = false;
    m_modelPath = modelPath;
    m_lastProgress = LoadProgress{};
    // Adapters belong to the model being replaced.
    m_adapters.clear();
    // Announced first so that a refusal below shows up where the load would have.
    emit loadStarted(modelPath);
    QString createError;
    if (!ensureEngine(&createError)) {
        emit loadFailed(createError);
        return;
    }
    Status started = m_engine->load(modelPath.toStdString());
    if (!started) {
        emit loadFailed(QString::fromStdString(started.error().toString()));
        return;
    }
    m_polling.start();
    pollState();
}

void EngineController::unload()
{
    if (!m_engine) return;
    m_polling.stop();
    m_engine->unload();
    m_ready = false;
    m_adapters.clear();
    emit unloaded();
}

EngineOptions EngineController::engineOptions() const
{
    EngineOptions options;
    options.weightDtype = m_options.weightDtype;
    options.contextLength = m_options.contextLength;
    options.backend = m_options.backend;
    options.gpuIndex = m_options.gpuIndex;
    return options;
}

std::shared_ptr<Engine> EngineController::ensureEngine(QString* error)
{
    if (m_engine) return m_engine;
    const EngineOptions options = engineOptions();
    auto created = m_factory ? m_factory(options) : Engine::create(options);
    if (!created) {
        if (error) *error = QString::fromStdString(created.error().toString());
        return nullptr;
    }
    m_engine = std::shared_ptr<Engine>(std::move(created).value());
    m_ownsEngine = true;
    m_engineMadeWith = m_options;
    return m_engine;
}

void EngineController::cancelLoad()
{
    if (m_engine) m_engine->cancelLoad();
}

std::shared_ptr<const Tokenizer> EngineController::tokenizer() const
{
    return m_engine ? m_engine->tokenizer() : nullptr;
}

void EngineController::pollState()
{
    if (!m_engine) return;
    const EngineState state = m_engine->state();
    switch (state.kind) {
    case EngineStateKind::Loading:
        m_lastProgress = state.progress;
        emit loadProgress(state.progress);
        break;
    case EngineStateKind::Ready:
        m_polling.stop();
        m_ready = true;
        // The final progress (stage "ready", the breakdown) stays in the state after the load.
        m_lastProgress = state.progress;
        if (m_lastProgress.stage.empty()) m_lastProgress.stage = kLoadStageReady;
        emit loadProgress(m_lastProgress);
        emit ready(QString::fromStdString(state.backendName));
        break;
    case EngineStateKind::Failed:
        m_polling.stop();
        if (!state.progress.stage.empty()) m_lastProgress = state.progress;
        emit loadFailed(QString::fromStdString(state.reason));
        break;
    case EngineStateKind::Empty:
        // A cancelled load falls back to Empty.
        m_polling.stop();
        emit loadCancelled();
        emit loadFailed(tr("Loading was cancelled"));
        break;
    }
}

void EngineController::attachAdapter(const QString& name, const QString& path)
{
    if (!m_ready) {
        emit adapterFailed(name, tr("Load a model before attaching an adapter"));
        return;
    }
    // Reading and checking the adapter's weights takes a while: off the GUI thread. The engine
    // (shared) stays alive until the job ends even if this controller goes first.
    std::shared_ptr<Engine> engine = m_engine;
    QPointer<EngineController> self(this);
    (void)QtConcurrent::run([self, engine, name, path] {
        Status attached = engine->attachAdapter(name.toStdString(), path.toStdString());
        QString reason = attached ? QString() : QString::fromStdString(attached.error().toString());
        QMetaObject::invokeMethod(self, [self, name, path, reason] {
            if (!self) return;
            if (!reason.isEmpty()) {
                emit self->adapterFailed(name, reason);
                return;
            }
            self->m_adapters[name] = path;
            emit self->adapterAttached(name);
        }, Qt::QueuedConnection);
    });
}

void EngineController::detachAdapter(const QString& name)
{
    if (!m_engine) return;
    std::shared_ptr<Engine> engine = m_engine;
    QPointer<EngineController> self(this);
    (void)QtConcurrent::run([self, engine, name] {
        Status detached = engine->detachAdapter(name.toStdString());
        QString reason = detached ? QString() : QString::fromStdString(detached.error().toString());
        QMetaObject::invokeMethod(self, [self, name, reason] {
            if (!self) return;
            if (!reason.isEmpty()) {
                emit self->adapterFailed(name, reason);
                return;
            }
            self->m_adapters.erase(name);
            emit self->adapterDetached(name);
        }, Qt::QueuedConnection);
    });
}

quint64 EngineController::generate(GenerateRequest request)
{
    const quint64 genId = m_nextGenId++;
    if (!m_engine) {
        GenerationOutcome refused{FinishReason::Error, {}, tr("No model is loaded")};
        QMetaObject::invokeMethod(this, [this, genId, refused] { emit generationFinished(genId, refused); },
                                  Qt::QueuedConnection);
        return genId;
    }
    auto submitted = m_engine->submit(std::move(request));
    if (!submitted) {
        GenerationOutcome refused{FinishReason::Error, {}, QString::fromStdString(submitted.error().toString())};
        QMetaObject::invokeMethod(this, [this, genId, refused] { emit generationFinished(genId, refused); },
                                  Qt::QueuedConnection);
        return genId;
    }
    std::shared_ptr<RequestHandle> handle(std::move(submitted).value());
    Worker& worker = m_workers[genId];
    worker.handle = handle;
    worker.thread = std::thread([this, genId, handle] { pump(genId, handle); });
    return genId;
}

void EngineController::stop(quint64 genId)
{
    auto it = m_workers.find(genId);
    if (it != m_workers.end()) it->second.handle->cancel();
}

// Runs on the generation's worker thread: gathers token text and posts it at most every
// kFlushIntervalMs; a short nextEvent timeout lets pending text go out even when tokens stall.
void EngineController::pump(quint64 genId, std::shared_ptr<RequestHandle> handle)
{
    using Clock = std::chrono::steady_clock;
    std::string pending;
    int pendingTokens = 0;
    auto lastPost = Clock::now();
    for (;;) {
        std::optional<GenerationEvent> event = handle->nextEvent(std::chrono::milliseconds(5));
        if (event) {
            if (auto* token = std::get_if<TokenEvent>(&*event)) {
                pending += token->textDelta;
                ++pendingTokens;
            } else if (auto* finished = std::get_if<FinishedEvent>(&*event)) {
                pending += finished->textDelta;
                if (!pending.empty()) postDelta(genId, std::move(pending), pendingTokens);
                finishWorker(genId, GenerationOutcome{finished->reason, finished->stats, {}});
                return;
            } else if (auto* failed = std::get_if<FailedEvent>(&*event)) {
                if (!pending.empty()) postDelta(genId, std::move(pending), pendingTokens);
                finishWorker(genId,
                             GenerationOutcome{FinishReason::Error, {}, QString::fromStdString(failed->error.toString())});
                return;
            }
        }
        const auto now = Clock::now();
        if (!pending.empty() && now - lastPost >= std::chrono::milliseconds(kFlushIntervalMs)) {
            postDelta(genId, std::move(pending), pendingTokens);
            pending.clear();
            pendingTokens = 0;
            lastPost = now;
        }
    }
}

void EngineController::postDelta(quint64 genId, std::string text, int nTokens)
{
    QMetaObject::invokeMethod(
        this, [this, genId, text = std::move(text), nTokens] { emit delta(genId, QString::fromStdString(text), nTokens); },
        Qt::QueuedConnection);
}

void EngineController::finishWorker(quint64 genId, GenerationOutcome outcome)
{
    QMetaObject::invokeMethod(
        this,
        [this, genId, outcome = std::move(outcome)] {
            auto it = m_workers.find(genId);
            if (it != m_workers.end()) {
                // The worker posted this as its last act, so the join is immediate.
                if (it->second.thread.joinable()) it->second.thread.join();
                m_workers.erase(it);
            }
            emit generationFinished(genId, outcome);
        },
        Qt::QueuedConnection);
}

}  // namespace hearth::gui
