// The settings dialog (Settings…, Ctrl+,): model folders, the Hugging Face cache, the default
// model and preload on launch, keeping the model loaded in the tray, the GPU, theme and language.
// Every change is saved at once in QSettings (app_settings.h); the theme is applied at once, the
// language after a restart.
#pragma once

#include <QDialog>

#include <vector>

#include "engine/backend_probe.h"
#include "model/model_library.h"

class QCheckBox;
class QComboBox;
class QListWidget;

namespace hearth::gui {

class SettingsDialog : public QDialog {
    Q_OBJECT

public:
    // `models`: the library (for the default model), `report`: the GPUs to choose from,
    // `alwaysScanned`: folders scanned whatever the settings say, `trayAvailable`: whether the
    // desktop has a system tray (without one, closing the window always quits).
    SettingsDialog(const std::vector<ModelEntry>& models, const BackendReport& report, const QStringList& alwaysScanned,
                   bool trayAvailable, QWidget* parent = nullptr);

    // Adds `folder` to the model folders (what the Add… button does after its file dialog).
    void addFolder(const QString& folder);
    void removeFolder(const QString& folder);

signals:
    // The folders or the hub cache choice changed: the library should rescan.
    void libraryChanged();
    // The GPU choice changed (it applies to the next load).
    void gpuChanged();

private:
    QWidget* makeLibraryTab(const std::vector<ModelEntry>& models, const QStringList& alwaysScanned);
    QWidget* makeEngineTab(const BackendReport& report, bool trayAvailable);
    QWidget* makeLookTab();
    void saveFolders();

    QListWidget* m_folders = nullptr;
    QCheckBox* m_hfCache = nullptr;
    QComboBox* m_defaultModel = nullptr;
    QCheckBox* m_preload = nullptr;
    QCheckBox* m_tray = nullptr;
    QComboBox* m_gpu = nullptr;
    QComboBox* m_theme = nullptr;
    QComboBox* m_language = nullptr;
};

}  // namespace hearth::gui
