// The model library view: scans in the background (the window never waits for disk), shows
// every model with its memory need and fit, broken ones with the reason, and offers Load, Load
// with options, Unload, Reveal in the file manager and Delete (buttons and a context menu).
// With no model anywhere it shows the first-run panel (add a folder, create the demo model).
// Added folders persist in the settings.
#pragma once

#include <QFutureWatcher>
#include <QUrl>
#include <QWidget>

#include "model/model_library.h"

class QAction;
class QLabel;
class QPushButton;
class QStackedWidget;
class QTableView;

namespace hearth::gui {

class FirstRunPanel;
class LibraryModel;

class LibraryPanel : public QWidget {
    Q_OBJECT

public:
    // `options` says where to look; the panel adds the folders saved in the settings and follows
    // the "use the Hugging Face cache" setting (it can only narrow `options`, never widen it).
    explicit LibraryPanel(LibraryScanOptions options, QWidget* parent = nullptr);
    ~LibraryPanel() override;

    void rescan();
    // Re-reads the folders and the hub cache choice from the settings and rescans.
    void reloadSettings();
    void setFreeMemory(std::uint64_t freeBytes, const QString& where);
    void setContextLength(std::int64_t contextLength);
    void addFolder(const QString& folder);
    // Asks for a folder (file dialog) and adds it.
    void chooseFolder();
    LibraryModel* model() const { return m_model; }
    // The folders scanned now (given ones and the saved extra ones).
    QStringList folders() const;

    // The selected row's model, or null.
    const ModelEntry* selectedEntry() const;
    // Selects the row of `path`; false when it is not listed.
    bool selectPath(const QString& path);
    // The model the engine has loaded (empty: none): Unload applies to it, Delete refuses it.
    void setLoadedModelPath(const QString& path);

    // Asks for confirmation naming the folder and size, deletes the model's own files and
    // rescans; false when refused (deleteRefused says why) or not confirmed.
    bool deleteModelAt(int row);
    // Emits revealRequested with the model's folder (the window opens it in the file manager).
    void revealAt(int row);
    // Writes the demo model in the background, then rescans and selects it.
    void createDemoModel();
    // Where createDemoModel writes (default: defaultDemoModelDir()); its parent is scanned.
    void setDemoModelDir(const QString& dir) { m_demoDir = dir; }
    bool isShowingFirstRun() const;

signals:
    void scanFinished(int nModels);
    void loadRequested(const QString& path);
    void loadWithOptionsRequested(const QString& path);
    void unloadRequested();
    void revealRequested(const QUrl& folder);
    void modelDeleted(const QString& path);
    void deleteRefused(const QString& reason);
    void demoModelCreated(const QString& path);
    void demoModelFailed(const QString& reason);

private:
    void showScan(const LibraryScan& scan);
    void updateActions();
    void showContextMenu(const QPoint& pos);
    int selectedRow() const;

    LibraryScanOptions m_baseOptions;
    LibraryScanOptions m_options;
    LibraryModel* m_model = nullptr;
    QStackedWidget* m_stack = nullptr;
    QTableView* m_table = nullptr;
    FirstRunPanel* m_firstRun = nullptr;
    QWidget* m_actions = nullptr;
    QLabel* m_status = nullptr;
    QAction* m_loadAction = nullptr;
    QAction* m_loadOptionsAction = nullptr;
    QAction* m_unloadAction = nullptr;
    QAction* m_revealAction = nullptr;
    QAction* m_deleteAction = nullptr;
    QFutureWatcher<LibraryScan> m_watcher;
    QFutureWatcher<QString> m_demoWatcher;
    bool m_rescanQueued = false;
    QString m_loadedPath;
    QString m_demoDir;
    QString m_selectAfterScan;
};

}  // namespace hearth::gui
