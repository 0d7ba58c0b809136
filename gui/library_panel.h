// The model library view: scans in the background (the window never waits for disk), shows
// every model with its memory need and fit, broken ones with the reason, and lets the user add
// a folder or rescan. Added folders persist in the settings.
#pragma once

#include <QFutureWatcher>
#include <QWidget>

#include "model/model_library.h"

class QLabel;
class QTableView;

namespace hearth::gui {

class LibraryModel;

class LibraryPanel : public QWidget {
    Q_OBJECT

public:
    // `options` says where to look; the panel adds the folders saved in the settings.
    explicit LibraryPanel(LibraryScanOptions options, QWidget* parent = nullptr);
    ~LibraryPanel() override;

    void rescan();
    void setFreeMemory(std::uint64_t freeBytes, const QString& where);
    void addFolder(const QString& folder);
    LibraryModel* model() const { return m_model; }

signals:
    void scanFinished(int nModels);

private:
    void chooseFolder();
    void showScan(const LibraryScan& scan);

    LibraryScanOptions m_options;
    LibraryModel* m_model = nullptr;
    QTableView* m_table = nullptr;
    QLabel* m_status = nullptr;
    QFutureWatcher<LibraryScan> m_watcher;
    bool m_rescanQueued = false;
};

}  // namespace hearth::gui
