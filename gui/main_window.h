// The main window: which backend and GPU Hearth found, and the model library. Chat and load
// progress views slot into it as they land.
#pragma once

#include <QFutureWatcher>
#include <QMainWindow>

#include "engine/backend_probe.h"
#include "model/model_library.h"

class QLabel;

namespace hearth::gui {

class LibraryPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // `libraryOptions`: where the library panel looks (the user's folders and hub cache by default).
    explicit MainWindow(LibraryScanOptions libraryOptions = defaultScanOptions(), QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts the work that must not delay the first paint (GPU probe, library scan) on worker threads.
    void startBackgroundWork();
    const BackendReport& backendReport() const { return m_report; }
    LibraryPanel* libraryPanel() const { return m_library; }

signals:
    void backendProbed();

private:
    void showBackend(const BackendReport& report);

    QLabel* m_backendLabel = nullptr;
    QLabel* m_detailLabel = nullptr;
    LibraryPanel* m_library = nullptr;
    QFutureWatcher<BackendReport> m_probeWatcher;
    BackendReport m_report;
};

}  // namespace hearth::gui
