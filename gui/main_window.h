// The main window: conversations on the left, the chat in the middle, the model library (with
// Load) and the backend report on the right, and the load progress with Cancel in the status bar.
// Nothing slow runs in the constructor: the store, GPU probe and library scan start after show.
#pragma once

#include <QFutureWatcher>
#include <QMainWindow>

#include <memory>

#include "engine/backend_probe.h"
#include "model/model_library.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QSplitter;

namespace hearth {
class Engine;
class ConversationStore;
}  // namespace hearth

namespace hearth::gui {

class ApiPanel;
class ChatController;
class ChatView;
class ConversationList;
class EngineController;
class LibraryPanel;
class LoraPanel;

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
    // Loads the model at `path` (what "Load" does for the selected library row).
    void loadModel(const QString& path);
    const BackendReport& backendReport() const { return m_report; }
    LibraryPanel* libraryPanel() const { return m_library; }
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

private:
    void showBackend(const BackendReport& report);
    void openStore();
    void loadSelected();
    void preloadLastModel();
    void rememberLoadedModel();
    void showLoadProgress(const QString& stage, quint64 bytesDone, quint64 bytesTotal, double rate, double etaS);

    QLabel* m_backendLabel = nullptr;
    QLabel* m_detailLabel = nullptr;
    LibraryPanel* m_library = nullptr;
    QSplitter* m_splitter = nullptr;
    QWidget* m_chatPlaceholder = nullptr;
    QLabel* m_loadLabel = nullptr;
    QProgressBar* m_loadBar = nullptr;
    QPushButton* m_cancelLoad = nullptr;
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
