#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QFileInfo>
#include <QKeySequence>
#include <QLabel>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

#include "api_panel.h"
#include "app_settings.h"
#include "chat_controller.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "engine_controller.h"
#include "library_model.h"
#include "library_panel.h"
#include "load_options_dialog.h"
#include "load_panel.h"
#include "lora_panel.h"
#include "settings_dialog.h"
#include "store/conversation_store.h"
#include "tray.h"
#include "util/paths.h"
#include "util/system_memory.h"

namespace hearth::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

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

    m_side = new QTabWidget(m_splitter);
    m_library = new LibraryPanel(std::move(libraryOptions));
    m_library->setContextLength(QSettings().value(settings::kLoadContext, 0).toLongLong());
    // In a scroll area so the library's wide table never squeezes the chat.
    auto* libraryScroll = new QScrollArea(m_side);
    libraryScroll->setWidgetResizable(true);
    libraryScroll->setFrameShape(QFrame::NoFrame);
    libraryScroll->setWidget(m_library);
    m_side->addTab(libraryScroll, tr("Models"));
    m_detailLabel = new QLabel(tr("Looking for a GPU…"), m_side);
    m_detailLabel->setObjectName(QStringLiteral("backendDetail"));
    m_detailLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detailLabel->setWordWrap(true);
    m_detailLabel->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_side->addTab(m_detailLabel, tr("System"));
    m_lora = new LoraPanel(m_engine, m_side);
    m_side->addTab(m_lora, tr("LoRA"));
    m_api = new ApiPanel(m_engine, m_side);
    m_side->addTab(m_api, tr("Local API"));

    m_splitter->setStretchFactor(0, 0);
    m_splitter->setStretchFactor(1, 3);
    m_splitter->setStretchFactor(2, 2);
    // The load panel sits above everything else: visible while loading, dismissable after.
    auto* central = new QWidget(this);
    auto* centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(0, 0, 0, 0);
    centralLayout->setSpacing(0);
    m_loadPanel = new LoadPanel(m_engine, central);
    centralLayout->addWidget(m_loadPanel);
    centralLayout->addWidget(m_splitter, 1);
    setCentralWidget(central);

    m_loadLabel = new QLabel(tr("No model loaded"), this);
    m_loadLabel->setObjectName(QStringLiteral("loadLabel"));
    statusBar()->addWidget(m_loadLabel, 1);
    m_backendLabel = new QLabel(tr("Backend: probing…"), this);
    m_backendLabel->setObjectName(QStringLiteral("backendLabel"));
    statusBar()->addPermanentWidget(m_backendLabel);
    makeMenus();

    connect(m_library, &LibraryPanel::loadRequested, this, qOverload<const QString&>(&MainWindow::loadModel));
    connect(m_library, &LibraryPanel::loadWithOptionsRequested, this, &MainWindow::loadWithOptions);
    connect(m_library, &LibraryPanel::unloadRequested, m_engine, &EngineController::unload);
    connect(m_library, &LibraryPanel::revealRequested, this, [](const QUrl& folder) { QDesktopServices::openUrl(folder); });
    connect(m_library, &LibraryPanel::deleteRefused, this,
            [this](const QString& reason) { statusBar()->showMessage(reason, 10000); });
    connect(m_engine, &EngineController::loadProgress, this, &MainWindow::showLoadProgress);
    // A loading model counts as loaded for the library: its files must not be deleted under the reader.
    connect(m_engine, &EngineController::loadStarted, this, [this](const QString& path) {
        m_loadLabel->setText(tr("Loading %1…").arg(path));
        m_library->setLoadedModelPath(path);
    });
    connect(m_engine, &EngineController::ready, this, [this](const QString& backend) {
        m_loadLabel->setText(tr("Ready: %1 (%2)").arg(m_engine->modelPath(), backend));
        m_library->setLoadedModelPath(m_engine->modelPath());
        rememberLoadedModel();
    });
    connect(m_engine, &EngineController::loadFailed, this, [this](const QString& reason) {
        m_loadLabel->setText(tr("Load failed: %1").arg(reason));
        m_library->setLoadedModelPath(QString());
    });
    connect(m_engine, &EngineController::unloaded, this, [this] {
        m_loadLabel->setText(tr("No model loaded"));
        m_library->setLoadedModelPath(QString());
    });
    connect(m_engine, &EngineController::loadNotice, this,
            [this](const QString& message) { statusBar()->showMessage(message, 10000); });
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

void MainWindow::makeMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* addFolder = file->addAction(tr("Add model folder…"));
    addFolder->setObjectName(QStringLiteral("menuAddFolder"));
    connect(addFolder, &QAction::triggered, this, [this] {
        m_side->setCurrentIndex(0);
        m_library->chooseFolder();
    });
    QAction* settingsAction = file->addAction(tr("Settings…"));
    settingsAction->setObjectName(QStringLiteral("menuSettings"));
    settingsAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Comma));
    settingsAction->setMenuRole(QAction::PreferencesRole);
    connect(settingsAction, &QAction::triggered, this, &MainWindow::openSettings);
    file->addSeparator();
    QAction* quit = file->addAction(tr("Quit"));
    quit->setShortcut(QKeySequence::Quit);
    quit->setMenuRole(QAction::QuitRole);
    connect(quit, &QAction::triggered, this, [this] {
        m_quitting = true;
        close();
    });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    const QString tabNames[] = {tr("Models"), tr("System"), tr("LoRA"), tr("Local API")};
    for (int i = 0; i < 4; ++i) {
        QAction* tab = view->addAction(tabNames[i]);
        tab->setShortcut(QKeySequence(Qt::CTRL | Qt::ALT | static_cast<Qt::Key>(Qt::Key_1 + i)));
        connect(tab, &QAction::triggered, this, [this, i] { m_side->setCurrentIndex(i); });
    }
    view->addSeparator();
    QAction* loadPanel = view->addAction(tr("Load progress"));
    connect(loadPanel, &QAction::triggered, this, [this] {
        if (m_engine->isLoading() || m_loadPanel->phase() != LoadPanel::Phase::Idle) m_loadPanel->setVisible(true);
    });

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("About Hearth"));
    about->setObjectName(QStringLiteral("menuAbout"));
    about->setMenuRole(QAction::AboutRole);
    connect(about, &QAction::triggered, this, &MainWindow::showAbout);
}

void MainWindow::showAbout()
{
    const QString backend = m_probeWatcher.isFinished() ? qs(m_report.summary()) : tr("still probing");
    QMessageBox box(QMessageBox::Information, tr("About Hearth"),
                    tr("<b>Hearth %1</b><p>A desktop model manager and chat for local LLMs, with its own engine.</p>"
                       "<p>Backend: %2<br>Qt %3</p>")
                        .arg(QCoreApplication::applicationVersion().toHtmlEscaped(), backend.toHtmlEscaped(),
                             QString::fromLatin1(qVersion())),
                    QMessageBox::Ok, this);
    box.setObjectName(QStringLiteral("aboutBox"));
    box.exec();
}

void MainWindow::showEvent(QShowEvent* event)
{
    QMainWindow::showEvent(event);
    if (m_shownOnce) return;
    m_shownOnce = true;
    // After the event loop's next turn: the first paint has happened by then.
    QTimer::singleShot(0, this, &MainWindow::firstShown);
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    // Keep running in the tray (with the model warm) when the user asked for it and there is a
    // tray; without one, closing quits as usual.
    if (!m_quitting && settings::keepLoadedInTray() && Tray::available() && (m_engine->isReady() || m_engine->isLoading())) {
        if (!m_tray) {
            m_tray = new Tray(this);
            connect(m_tray, &Tray::showWindowRequested, this, [this] {
                m_tray->hide();
                QApplication::setQuitOnLastWindowClosed(true);
                showNormal();
                raise();
                activateWindow();
            });
            connect(m_tray, &Tray::quitRequested, this, [this] {
                m_quitting = true;
                m_tray->hide();
                QApplication::setQuitOnLastWindowClosed(true);
                close();
                QCoreApplication::quit();
            });
        }
        QApplication::setQuitOnLastWindowClosed(false);
        m_tray->show(tr("Hearth: %1 stays loaded").arg(QFileInfo(m_engine->modelPath()).fileName()));
        hide();
        event->ignore();
        return;
    }
    QMainWindow::closeEvent(event);
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
    connect(m_conversations, &ConversationList::errorOccurred, this,
            [this](const QString& message) { statusBar()->showMessage(message, 8000); });
    m_chatView->reload();
    emit chatReady();
    preloadLastModel();
}

void MainWindow::preloadLastModel()
{
    // A load the user started while the store opened wins over the preload.
    if (!m_store || m_engine->isLoading() || m_engine->isReady()) return;
    if (!settings::preloadOnLaunch()) {
        m_loadLabel->setText(tr("No model loaded (loading at start-up is off in Settings)"));
        return;
    }
    // The configured default model, else the one that loaded last time.
    QString path = QSettings().value(settings::kDefaultModel).toString();
    const bool isDefault = !path.isEmpty();
    if (!isDefault) {
        auto saved = m_store->setting(kLastModelSetting);
        if (!saved || !saved.value() || saved.value()->empty()) return;
        path = QString::fromStdString(*saved.value());
    }
    if (!QFileInfo::exists(path)) {
        const QString reason = isDefault
                                   ? tr("The default model is no longer at %1; pick another in Settings").arg(path)
                                   : tr("The last used model is no longer at %1; pick one in the library").arg(path);
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

void MainWindow::loadModel(const QString& path)
{
    // The remembered options, made concrete for the model when the library knows it.
    const int row = m_library->model()->rowOf(path);
    if (const ModelEntry* entry = m_library->model()->entryAt(row)) {
        loadModel(path, rememberedLoadOptions(*entry));
        return;
    }
    const QSettings settings;
    LoadOptions options;
    options.weightDtype = dtypeFromKey(settings.value(settings::kLoadDtype).toString());
    // The engine caps this at the model's max positions, as the library's estimate does.
    options.contextLength = settings.value(settings::kLoadContext, 0).toLongLong();
    if (options.contextLength <= 0) options.contextLength = kDefaultLoadContext;
    options.backend = settings.value(settings::kGpuIndex, 0).toInt() < 0 ? BackendChoice::Cpu : BackendChoice::Auto;
    options.gpuIndex = std::max(0, settings.value(settings::kGpuIndex, 0).toInt());
    loadModel(path, options);
}

void MainWindow::loadModel(const QString& path, const LoadOptions& options)
{
    m_engine->load(path, options);
}

void MainWindow::loadWithOptions(const QString& path)
{
    const ModelEntry* entry = m_library->model()->entryAt(m_library->model()->rowOf(path));
    if (!entry) return;
    QString where;
    const std::uint64_t freeBytes = freeMemoryForLoad(&where);
    LoadOptionsDialog dialog(*entry, freeBytes, where, this);
    if (dialog.exec() != QDialog::Accepted) return;
    const LoadOptions options = dialog.options();
    m_library->setContextLength(options.contextLength);
    loadModel(path, options);
}

std::uint64_t MainWindow::freeMemoryForLoad(QString* where) const
{
    const int gpu = QSettings().value(settings::kGpuIndex, 0).toInt();
    for (const GpuInfo& g : m_report.gpus) {
        if (g.index == gpu) {
            if (where) *where = tr("GPU %1 (%2)").arg(g.index).arg(qs(g.name));
            return g.freeBytes;
        }
    }
    if (where) *where = tr("RAM");
    return availableSystemMemoryBytes();
}

void MainWindow::openSettings()
{
    std::vector<ModelEntry> models;
    for (int r = 0; r < m_library->model()->rowCount(); ++r) models.push_back(*m_library->model()->entryAt(r));
    QStringList always;
    always << qs(defaultModelsDir());
    SettingsDialog dialog(models, m_report, always, Tray::available(), this);
    connect(&dialog, &SettingsDialog::libraryChanged, this, [this] {
        m_library->reloadSettings();
        m_library->rescan();
    });
    connect(&dialog, &SettingsDialog::gpuChanged, this, &MainWindow::applyGpuChoice);
    dialog.exec();
}

void MainWindow::applyGpuChoice()
{
    if (m_probeWatcher.isFinished()) showBackend(m_report);
}

void MainWindow::showLoadProgress(const hearth::LoadProgress& progress)
{
    const QLocale locale;
    const QString stage = loadStageName(progress.stage);
    if (progress.stage == kLoadStageReady) return;  // ready() says it
    if (progress.bytesTotal > 0) {
        m_loadLabel->setText(tr("Loading: %1, %2 of %3")
                                 .arg(stage, locale.formattedDataSize(static_cast<qint64>(progress.bytesDone)),
                                      locale.formattedDataSize(static_cast<qint64>(progress.bytesTotal))));
    } else {
        m_loadLabel->setText(tr("Loading: %1…").arg(stage));
    }
}

void MainWindow::showBackend(const BackendReport& report)
{
    const bool cpuChosen = QSettings().value(settings::kGpuIndex, 0).toInt() < 0;
    const QString summary = cpuChosen && !report.gpus.empty() ? tr("CPU (chosen in Settings)") : qs(report.summary());
    m_backendLabel->setText(tr("Backend: %1").arg(summary));

    QStringList lines;
    lines << tr("CUDA backend in this build: %1").arg(report.cudaBuilt ? tr("yes") : tr("no"));
    if (report.gpus.empty()) {
        lines << tr("No usable GPU: %1. Models run on the CPU backend.").arg(qs(report.reason));
    } else if (cpuChosen) {
        lines << tr("Models run on the CPU backend, as chosen in Settings.");
    }
    const QLocale locale;
    for (const GpuInfo& g : report.gpus) {
        lines << tr("GPU %1: %2 (compute %3.%4), %5 free of %6")
                     .arg(g.index)
                     .arg(qs(g.name))
                     .arg(g.computeMajor)
                     .arg(g.computeMinor)
                     .arg(locale.formattedDataSize(static_cast<qint64>(g.freeBytes)),
                          locale.formattedDataSize(static_cast<qint64>(g.totalBytes)));
    }
    m_detailLabel->setText(lines.join(QLatin1Char('\n')));

    // The fit verdict is judged where the model would run: GPU memory, or RAM on the CPU backend.
    QString where;
    const std::uint64_t freeBytes = freeMemoryForLoad(&where);
    m_library->setFreeMemory(freeBytes, where.startsWith(QLatin1String("GPU")) ? tr("GPU") : tr("RAM"));
}

}  // namespace hearth::gui
