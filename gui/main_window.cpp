#include "main_window.h"

#include <QFileInfo>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "api_panel.h"
#include "chat_controller.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "engine_controller.h"
#include "library_model.h"
#include "library_panel.h"
#include "lora_panel.h"
#include "store/conversation_store.h"
#include "util/system_memory.h"

namespace hearth::gui {

MainWindow::MainWindow(LibraryScanOptions libraryOptions, QWidget* parent, std::shared_ptr<Engine> engine,
                       QString storePath)
    : QMainWindow(parent), m_storePath(std::move(storePath))
{
    setWindowTitle(tr("Hearth"));
    resize(1280, 760);
    m_engine = new EngineController(std::move(engine), this);

    m_splitter = new QSplitter(Qt::Horizontal, this);
    m_conversations = new ConversationList(m_splitter);
    m_chatPlaceholder = new QLabel(tr("Opening conversations…"), m_splitter);

    auto* side = new QTabWidget(m_splitter);
    auto* libraryTab = new QWidget;
    auto* libraryLayout = new QVBoxLayout(libraryTab);
    m_library = new LibraryPanel(std::move(libraryOptions), libraryTab);
    libraryLayout->addWidget(m_library, 1);
    auto* load = new QPushButton(tr("Load selected model"), libraryTab);
    load->setObjectName(QStringLiteral("loadModel"));
    libraryLayout->addWidget(load);
    // In a scroll area so the library's wide table never squeezes the chat.
    auto* libraryScroll = new QScrollArea(side);
    libraryScroll->setWidgetResizable(true);
    libraryScroll->setFrameShape(QFrame::NoFrame);
    libraryScroll->setWidget(libraryTab);
    side->addTab(libraryScroll, tr("Models"));
    m_detailLabel = new QLabel(tr("Looking for a GPU…"), side);
    m_detailLabel->setObjectName(QStringLiteral("backendDetail"));
    m_detailLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detailLabel->setWordWrap(true);
    m_detailLabel->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    side->addTab(m_detailLabel, tr("System"));
    m_lora = new LoraPanel(m_engine, side);
    side->addTab(m_lora, tr("LoRA"));
    m_api = new ApiPanel(m_engine, side);
    side->addTab(m_api, tr("Local API"));

    m_splitter->setStretchFactor(0, 0);
    m_splitter->setStretchFactor(1, 3);
    m_splitter->setStretchFactor(2, 2);
    setCentralWidget(m_splitter);

    m_loadLabel = new QLabel(tr("No model loaded"), this);
    m_loadLabel->setObjectName(QStringLiteral("loadLabel"));
    m_loadBar = new QProgressBar(this);
    m_loadBar->setMaximumWidth(200);
    m_loadBar->setVisible(false);
    m_cancelLoad = new QPushButton(tr("Cancel"), this);
    m_cancelLoad->setObjectName(QStringLiteral("cancelLoad"));
    m_cancelLoad->setVisible(false);
    statusBar()->addWidget(m_loadLabel, 1);
    statusBar()->addWidget(m_loadBar);
    statusBar()->addWidget(m_cancelLoad);
    m_backendLabel = new QLabel(tr("Backend: probing…"), this);
    m_backendLabel->setObjectName(QStringLiteral("backendLabel"));
    statusBar()->addPermanentWidget(m_backendLabel);

    connect(load, &QPushButton::clicked, this, &MainWindow::loadSelected);
    connect(m_cancelLoad, &QPushButton::clicked, m_engine, &EngineController::cancelLoad);
    connect(m_engine, &EngineController::loadProgress, this, &MainWindow::showLoadProgress);
    connect(m_engine, &EngineController::ready, this, [this](const QString& backend) {
        m_loadBar->setVisible(false);
        m_cancelLoad->setVisible(false);
        m_loadLabel->setText(tr("Ready: %1 (%2)").arg(m_engine->modelPath(), backend));
        rememberLoadedModel();
    });
    connect(m_engine, &EngineController::loadFailed, this, [this](const QString& reason) {
        m_loadBar->setVisible(false);
        m_cancelLoad->setVisible(false);
        m_loadLabel->setText(tr("Load failed: %1").arg(reason));
    });
    connect(&m_probeWatcher, &QFutureWatcher<BackendReport>::finished, this, [this] {
        m_report = m_probeWatcher.result();
        showBackend(m_report);
        emit backendProbed();
    });
}

MainWindow::~MainWindow()
{
    m_probeWatcher.waitForFinished();
    // The chat refers to the engine and the store: it goes first, then the engine's workers.
    delete m_chatView;
    delete m_chat;
    // The API server stops (joining its threads) before the engine it serves can go.
    delete m_api;
    delete m_engine;
}

void MainWindow::startBackgroundWork()
{
    m_probeWatcher.setFuture(QtConcurrent::run([] { return probeBackends(); }));
    m_library->rescan();
    openStore();
}

void MainWindow::openStore()
{
    const std::string path = m_storePath.isEmpty() ? ConversationStore::defaultPath() : m_storePath.toStdString();
    auto opened = ConversationStore::open(path);
    if (!opened) {
        static_cast<QLabel*>(m_chatPlaceholder)->setText(QString::fromStdString(opened.error().toString()));
        return;
    }
    m_store = std::move(opened).value();
    m_chat = new ChatController(m_engine, m_store.get(), this);
    m_chatView = new ChatView(m_chat, this);
    m_splitter->replaceWidget(1, m_chatView);
    m_splitter->setSizes({240, 700, 340});
    m_chatPlaceholder->deleteLater();
    m_chatPlaceholder = nullptr;
    m_conversations->setStore(m_store.get());
    m_lora->setStore(m_store.get());

    connect(m_conversations, &ConversationList::conversationSelected, this, [this](std::optional<ConversationId> id) {
        m_chat->setCurrentConversation(id);
        m_chatView->reload();
        m_lora->setConversation(id);
    });
    connect(m_conversations, &ConversationList::newRequested, this, [this] {
        m_chat->setCurrentConversation(std::nullopt);
        m_chatView->reload();
        m_lora->setConversation(std::nullopt);
        m_chatView->input()->setFocus();
    });
    connect(m_chat, &ChatController::conversationCreated, this, [this](ConversationId id) {
        m_conversations->refresh();
        m_conversations->select(id);
        m_lora->setConversation(id);
    });
    connect(m_chat, &ChatController::errorOccurred, this,
            [this](const QString& message) { statusBar()->showMessage(message, 8000); });
    m_chatView->reload();
    emit chatReady();
    preloadLastModel();
}

void MainWindow::preloadLastModel()
{
    // A load the user started while the store opened wins over the preload.
    if (!m_store || m_engine->isLoading() || m_engine->isReady()) return;
    auto saved = m_store->setting(kLastModelSetting);
    if (!saved || !saved.value() || saved.value()->empty()) return;
    const QString path = QString::fromStdString(*saved.value());
    if (!QFileInfo::exists(path)) {
        const QString reason = tr("The last used model is no longer at %1; pick one in the library").arg(path);
        m_loadLabel->setText(reason);
        emit preloadSkipped(reason);
        return;
    }
    // A broken model fails inside the engine's load and is reported by loadFailed like any load.
    emit preloadStarted(path);
    loadModel(path);
}

void MainWindow::rememberLoadedModel()
{
    if (!m_store) return;
    if (Status saved = m_store->setSetting(kLastModelSetting, m_engine->modelPath().toStdString()); !saved)
        statusBar()->showMessage(QString::fromStdString(saved.error().toString()), 8000);
}

void MainWindow::loadSelected()
{
    auto* table = m_library->findChild<QTableView*>();
    if (!table || !table->selectionModel()) return;
    const QModelIndex current = table->selectionModel()->currentIndex();
    const ModelEntry* entry = current.isValid() ? m_library->model()->entryAt(current.row()) : nullptr;
    if (!entry) {
        statusBar()->showMessage(tr("Select a model in the library first"), 5000);
        return;
    }
    loadModel(QString::fromStdString(entry->path));
}

void MainWindow::loadModel(const QString& path)
{
    m_loadLabel->setText(tr("Loading %1…").arg(path));
    m_loadBar->setRange(0, 0);
    m_loadBar->setVisible(true);
    m_cancelLoad->setVisible(true);
    m_engine->load(path);
}

void MainWindow::showLoadProgress(const QString& stage, quint64 bytesDone, quint64 bytesTotal, double rate, double etaS)
{
    const QLocale locale;
    if (bytesTotal > 0) {
        m_loadBar->setRange(0, 1000);
        m_loadBar->setValue(static_cast<int>(1000.0 * static_cast<double>(bytesDone) / static_cast<double>(bytesTotal)));
        m_loadLabel->setText(tr("%1: %2 of %3, %4/s, %5 s left")
                                 .arg(stage, locale.formattedDataSize(static_cast<qint64>(bytesDone)),
                                      locale.formattedDataSize(static_cast<qint64>(bytesTotal)),
                                      locale.formattedDataSize(static_cast<qint64>(rate)))
                                 .arg(etaS, 0, 'f', 1));
    } else {
        m_loadBar->setRange(0, 0);
        m_loadLabel->setText(tr("%1…").arg(stage));
    }
}

void MainWindow::showBackend(const BackendReport& report)
{
    const QString summary = QString::fromStdString(report.summary());
    m_backendLabel->setText(tr("Backend: %1").arg(summary));

    QStringList lines;
    lines << tr("CUDA backend in this build: %1").arg(report.cudaBuilt ? tr("yes") : tr("no"));
    if (report.gpus.empty()) {
        lines << tr("No usable GPU: %1. Models run on the CPU backend.").arg(QString::fromStdString(report.reason));
    }
    const QLocale locale;
    for (const GpuInfo& g : report.gpus) {
        lines << tr("GPU %1: %2 (compute %3.%4), %5 free of %6")
                     .arg(g.index)
                     .arg(QString::fromStdString(g.name))
                     .arg(g.computeMajor)
                     .arg(g.computeMinor)
                     .arg(locale.formattedDataSize(static_cast<qint64>(g.freeBytes)),
                          locale.formattedDataSize(static_cast<qint64>(g.totalBytes)));
    }
    m_detailLabel->setText(lines.join(QLatin1Char('\n')));

    // The fit verdict is judged where the model would run: GPU memory, or RAM on the CPU backend.
    if (!report.gpus.empty())
        m_library->setFreeMemory(report.gpus.front().freeBytes, tr("GPU"));
    else
        m_library->setFreeMemory(availableSystemMemoryBytes(), tr("RAM"));
}

}  // namespace hearth::gui
