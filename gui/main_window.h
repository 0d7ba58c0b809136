// The main window. For now it shows which backend and GPU Hearth found; library, chat and
// load progress views slot into its central area as they land.
#pragma once

#include <QFutureWatcher>
#include <QMainWindow>

#include "engine/backend_probe.h"

class QLabel;

namespace hearth::gui {

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts the work that must not delay the first paint (GPU probe), on a worker thread.
    void startBackgroundWork();
    const BackendReport& backendReport() const { return m_report; }

signals:
    void backendProbed();

private:
    void showBackend(const BackendReport& report);

    QLabel* m_backendLabel = nullptr;
    QLabel* m_detailLabel = nullptr;
    QFutureWatcher<BackendReport> m_probeWatcher;
    BackendReport m_report;
};

}  // namespace hearth::gui
