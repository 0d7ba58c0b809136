// The load panel: a non-modal strip above the chat that shows a model load as it happens (stage,
// bytes done of total, rate, ETA, elapsed, the files) with Cancel; when done, how long it took
// and where the time went; when it failed, the reason with Retry; when cancelled, says so.
// The bar and the byte count never go backwards within one load, whatever the engine reports.
#pragma once

#include <QElapsedTimer>
#include <QFrame>
#include <QString>

#include "engine/engine.h"

class QLabel;
class QProgressBar;
class QPushButton;

namespace hearth::gui {

class EngineController;

// The user-facing name of a kLoadStage* value (translated); unknown stages come back as given.
QString loadStageName(const std::string& stage);
// "opening 40 ms · reading 2.9 s · warming up 0.3 s (behind the transfer)".
QString formatBreakdown(const std::vector<LoadStageTime>& breakdown);

class LoadPanel : public QFrame {
    Q_OBJECT

public:
    enum class Phase { Idle, Loading, Ready, Failed, Cancelled };

    explicit LoadPanel(EngineController* engine, QWidget* parent = nullptr);

    Phase phase() const { return m_phase; }
    // Bytes shown (the monotonic view of the engine's bytesDone).
    quint64 shownBytesDone() const { return m_shownBytesDone; }

signals:
    void dismissed();

private:
    void onStarted(const QString& modelPath);
    void onProgress(const LoadProgress& progress);
    void onReady(const QString& backendName);
    void onFailed(const QString& reason);
    void onCancelled();
    void retry();
    void dismiss();
    void setButtons();
    double elapsedS(const LoadProgress& progress) const;

    EngineController* m_engine;
    Phase m_phase = Phase::Idle;
    QString m_modelPath;
    QElapsedTimer m_clock;
    int m_stageIndex = -1;
    quint64 m_shownBytesDone = 0;
    int m_shownPermille = 0;
    QLabel* m_title = nullptr;
    QLabel* m_stage = nullptr;
    QLabel* m_bytes = nullptr;
    QLabel* m_files = nullptr;
    QLabel* m_breakdown = nullptr;
    QProgressBar* m_bar = nullptr;
    QPushButton* m_cancel = nullptr;
    QPushButton* m_retry = nullptr;
    QPushButton* m_dismiss = nullptr;
};

}  // namespace hearth::gui
