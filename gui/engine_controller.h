// The GUI's side of the engine: owns the Engine and keeps every call that can wait off the GUI
// thread. Each generation gets an id and a worker thread that reads its RequestHandle and posts
// the text to the GUI thread in batches (at most every kFlushIntervalMs, never the whole reply
// again); stop() cancels through the handle at once. Load progress is polled from state().
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/engine.h"

namespace hearth::gui {

// How a generation ended, as the GUI shows it.
struct GenerationOutcome {
    FinishReason reason = FinishReason::Stop;
    GenerationStats stats;
    QString error;  // FailedEvent, or a submit() refusal
};

// What the user chose for one load (the load options dialog); goes into the EngineOptions of the
// engine that loads the model.
struct LoadOptions {
    WeightDType weightDtype = WeightDType::AsStored;
    std::int64_t contextLength = 0;  // 0: the model's max positions
    BackendChoice backend = BackendChoice::Auto;
    int gpuIndex = 0;                // the CUDA device, when the backend is CUDA

    bool operator==(const LoadOptions&) const = default;
};

// Makes an engine for a load; tests pass one that records the options and returns a fake.
using EngineFactory = std::function<Result<std::unique_ptr<Engine>>(const EngineOptions&)>;

class EngineController : public QObject {
    Q_OBJECT

public:
    static constexpr int kFlushIntervalMs = 25;
    static constexpr int kProgressPollMs = 100;

    // `engine`: the engine to drive (tests pass a fake); null creates the real one on first load().
    explicit EngineController(std::shared_ptr<Engine> engine = {}, QObject* parent = nullptr);
    ~EngineController() override;

    // Starts loading `modelPath` with `options` in the background; progress and the outcome come as
    // signals. An engine this controller made is remade when the options differ and nothing else
    // (a generation, the API server) uses it; otherwise loadNotice says the options wait.
    void load(const QString& modelPath, const LoadOptions& options = {});
    void cancelLoad();
    // Frees the loaded model (adapters with it); unloaded() follows.
    void unload();
    // Replaces how engines are made (null: Engine::create). Used only when no engine was passed in.
    void setEngineFactory(EngineFactory factory) { m_factory = std::move(factory); }
    // The options the current (or next) engine was made with.
    const LoadOptions& loadOptions() const { return m_options; }
    // The last progress seen of the current or last load (stage "ready" with the breakdown when done).
    const LoadProgress& lastProgress() const { return m_lastProgress; }
    bool isReady() const { return m_ready; }
    bool isLoading() const { return m_polling.isActive(); }
    QString modelPath() const { return m_modelPath; }
    std::shared_ptr<const Tokenizer> tokenizer() const;
    // The engine (created now when none exists yet), shared with the API server; null with the
    // reason in `error` when the real engine cannot be created.
    std::shared_ptr<Engine> ensureEngine(QString* error = nullptr);

    // Attaches the PEFT adapter folder `path` as `name` in the background (never reloads the base
    // model); adapterAttached or adapterFailed follows. Detach likewise ends in adapterDetached.
    void attachAdapter(const QString& name, const QString& path);
    void detachAdapter(const QString& name);
    // Attached adapters, name -> folder.
    const std::map<QString, QString>& adapters() const { return m_adapters; }

    // Submits a request; returns its generation id (0 when refused: generationFinished says why).
    quint64 generate(GenerateRequest request);
    // Cancels generation `genId` now; its generationFinished follows with FinishReason::Cancelled.
    void stop(quint64 genId);
    int runningCount() const { return static_cast<int>(m_workers.size()); }

signals:
    // A load started (before its first progress), with the options it uses.
    void loadStarted(const QString& modelPath);
    void loadProgress(const hearth::LoadProgress& progress);
    void ready(const QString& backendName);
    void loadFailed(const QString& reason);
    // The user cancelled the load; loadFailed follows with "Loading was cancelled" for older users.
    void loadCancelled();
    void unloaded();
    // Something the user should know about a load that is not a failure (options not applied).
    void loadNotice(const QString& message);
    // Text released since the previous delta of `genId`, with how many tokens it covers.
    void delta(quint64 genId, const QString& text, int nTokens);
    void generationFinished(quint64 genId, const hearth::gui::GenerationOutcome& outcome);
    void adapterAttached(const QString& name);
    void adapterDetached(const QString& name);
    void adapterFailed(const QString& name, const QString& reason);

private:
    struct Worker {
        std::shared_ptr<RequestHandle> handle;
        std::thread thread;
    };

    void pollState();
    void pump(quint64 genId, std::shared_ptr<RequestHandle> handle);
    void postDelta(quint64 genId, std::string text, int nTokens);
    void finishWorker(quint64 genId, GenerationOutcome outcome);

    EngineOptions engineOptions() const;

    std::shared_ptr<Engine> m_engine;
    bool m_ownsEngine = false;  // made here, so it may be remade; one passed in (tests) never is
    EngineFactory m_factory;
    LoadOptions m_options;
    LoadOptions m_engineMadeWith;
    LoadProgress m_lastProgress;
    QTimer m_polling;
    QString m_modelPath;
    bool m_ready = false;
    quint64 m_nextGenId = 1;
    std::map<quint64, Worker> m_workers;
    std::map<QString, QString> m_adapters;
};

}  // namespace hearth::gui

Q_DECLARE_METATYPE(hearth::gui::GenerationOutcome)
Q_DECLARE_METATYPE(hearth::LoadProgress)
