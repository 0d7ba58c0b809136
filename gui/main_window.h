// The main window: conversations on the left, the chat in the middle, the model library (load,
// unload, delete, reveal) and the backend report on the right, the load panel above the chat and
// a one-line load state in the status bar; a menu bar with settings and about. Nothing slow runs
// in the constructor: the store, GPU probe and library scan start after show.
#pragma once

#include <QFutureWatcher>
#include <QMainWindow>

#include <memory>

#include "engine/backend_probe.h"
#include "model/model_library.h"

class QLabel;
class QSplitter;
class QTabWidget;

namespace hearth {
class Engine;
struct LoadProgress;
class ConversationStore;
}  // namespace hearth

namespace hearth::gui {

class ApiPanel;
class ChatController;
class ChatView;
class ConversationList;
class EngineController;
class LibraryPanel;
class LoadPanel;
class LoraPanel;
class Tray;
struct LoadOptions;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // `libraryOptions`: where the library panel looks (the user's folders and hub cache by default).
    // `engine`: the engine to drive (null: the real one, created on the first load).
    // `storePath`: the conversation database (empty: ConversationStore::defaultPath()).
    explicit MainWindow(LibraryScanOptions libraryOptions = defaultScanOptions(), QWidget* parent = nullptr,
                        std::shared_ptr<Engine> engine = {}, QString storePath = {});
    ~MainWindow() override;

    // The store setting holding the model that last loaded (preloaded on the next launch).
    static constexpr const char* kLastModelSetting = "last_model_path";

    // Starts the work that must not delay the first paint (store, GPU probe, library scan, and
    // the preload of the last used model).
    void startBackgroundWork();
    // Loads the model at `path` with the remembered load options (what "Load" does).
    void loadModel(const QString& path);
    // Loads the model at `path` with `options` (what the load options dialog does).
    void loadModel(const QString& path, const LoadOptions& options);
    // Opens the load options dialog for `path` (a library model) and loads on accept.
    void loadWithOptions(const QString& path);
    // Opens the settings dialog.
    void openSettings();
    // Free memory where the next load would run (the chosen GPU, or RAM), and its description.
    std::uint64_t freeMemoryForLoad(QString* where) const;
    const BackendReport& backendReport() const { return m_report; }
    LibraryPanel* libraryPanel() const { return m_library; }
    LoadPanel* loadPanel() const { return m_loadPanel; }
    EngineController* engineController() const { return m_engine; }
    ChatController* chatController() const { return m_chat; }
    ChatView* chatView() const { return m_chatView; }
    ConversationList* conversationList() const { return m_conversations; }
    ApiPanel* apiPanel() const { return m_api; }
    LoraPanel* loraPanel() const { return m_lora; }

signals:
    void backendProbed();
    void chatReady();
    // The last used model is loading again (startup preload).
    void preloadStarted(const QString& modelPath);
    // The last used model could not be preloaded (gone from disk); the reason is also shown.
    void preloadSkipped(const QString& reason);
    // The window was shown and painted for the first time (start-up time measurement).
    void firstShown();

protected:
    void showEvent(QShowEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void makeMenus();
    void showAbout();
    void applyGpuChoice();
    void showBackend(const BackendReport& report);
    void openStore();
    void loadSelected();
    void preloadLastModel();
    void rememberLoadedModel();
    void showLoadProgress(const hearth::LoadProgress& progress);

    QLabel* m_backendLabel = nullptr;
    QLabel* m_detailLabel = nullptr;
    LibraryPanel* m_library = nullptr;
    QSplitter* m_splitter = nullptr;
    QWidget* m_chatPlaceholder = nullptr;
    QLabel* m_loadLabel = nullptr;
    LoadPanel* m_loadPanel = nullptr;
    QTabWidget* m_side = nullptr;
    Tray* m_tray = nullptr;
    bool m_shownOnce = false;
    bool m_quitting = false;
    EngineController* m_engine = nullptr;
    std::unique_ptr<ConversationStore> m_store;
    ChatController* m_chat = nullptr;
    ChatView* m_chatView = nullptr;
    ConversationList* m_conversations = nullptr;
    ApiPanel* m_api = nullptr;
    LoraPanel* m_lora = nullptr;
    QString m_storePath;
    QFutureWatcher<BackendReport> m_probeWatcher;
    BackendReport m_report;
};

}  // namespace hearth::gui
