#include "library_panel.h"

#include <QAction>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QStackedWidget>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <tuple>

#include "app_settings.h"
#include "demo_model.h"
#include "first_run_panel.h"
#include "library_model.h"
#include "model_deletion.h"

namespace hearth::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

LibraryPanel::LibraryPanel(LibraryScanOptions options, QWidget* parent)
    : QWidget(parent), m_baseOptions(std::move(options)), m_model(new LibraryModel(this)), m_demoDir(defaultDemoModelDir())
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* bar = new QHBoxLayout;
    auto* title = new QLabel(tr("<b>Models</b>"), this);
    m_status = new QLabel(tr("Scanning…"), this);
    m_status->setObjectName(QStringLiteral("libraryStatus"));
    m_status->setWordWrap(true);
    auto* addButton = new QPushButton(tr("Add folder…"), this);
    auto* rescanButton = new QPushButton(tr("Rescan"), this);
    bar->addWidget(title);
    bar->addWidget(m_status, 1);
    bar->addWidget(addButton);
    bar->addWidget(rescanButton);
    layout->addLayout(bar);

    m_table = new QTableView(this);
    m_table->setObjectName(QStringLiteral("libraryTable"));
    m_table->setModel(m_model);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setContextMenuPolicy(Qt::CustomContextMenu);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    QString modelsDir = m_baseOptions.folders.empty() ? QString() : qs(m_baseOptions.folders.front());
    m_firstRun = new FirstRunPanel(modelsDir, m_baseOptions.includeHfCache, this);
    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_table);
    m_stack->addWidget(m_firstRun);
    layout->addWidget(m_stack, 1);

    auto makeAction = [this](const QString& text, const char* name) {
        auto* action = new QAction(text, this);
        action->setObjectName(QLatin1String(name));
        return action;
    };
    m_loadAction = makeAction(tr("Load"), "actionLoad");
    m_loadOptionsAction = makeAction(tr("Load with options…"), "actionLoadWithOptions");
    m_unloadAction = makeAction(tr("Unload"), "actionUnload");
    m_revealAction = makeAction(tr("Show in file manager"), "actionReveal");
    m_deleteAction = makeAction(tr("Delete model files…"), "actionDelete");
    // Two short rows so the side panel never needs a horizontal scroll bar for them.
    m_actions = new QWidget(this);
    auto* actionRows = new QVBoxLayout(m_actions);
    actionRows->setContentsMargins(0, 0, 0, 0);
    auto* loadRow = new QHBoxLayout;
    auto* fileRow = new QHBoxLayout;
    for (auto [action, name, row] : {std::tuple{m_loadAction, "loadModel", loadRow},
                                     std::tuple{m_loadOptionsAction, "loadWithOptions", loadRow},
                                     std::tuple{m_unloadAction, "unloadModel", loadRow},
                                     std::tuple{m_revealAction, "revealModel", fileRow},
                                     std::tuple{m_deleteAction, "deleteModel", fileRow}}) {
        auto* button = new QPushButton(action->text(), m_actions);
        button->setObjectName(QLatin1String(name));
        connect(button, &QPushButton::clicked, action, &QAction::trigger);
        connect(action, &QAction::changed, button, [button, action] { button->setEnabled(action->isEnabled()); });
        row->addWidget(button);
    }
    loadRow->addStretch(1);
    fileRow->addStretch(1);
    actionRows->addLayout(loadRow);
    actionRows->addLayout(fileRow);
    layout->addWidget(m_actions);

    connect(m_loadAction, &QAction::triggered, this, [this] {
        if (const ModelEntry* e = selectedEntry()) emit loadRequested(qs(e->path));
    });
    connect(m_loadOptionsAction, &QAction::triggered, this, [this] {
        if (const ModelEntry* e = selectedEntry()) emit loadWithOptionsRequested(qs(e->path));
    });
    connect(m_unloadAction, &QAction::triggered, this, &LibraryPanel::unloadRequested);
    connect(m_revealAction, &QAction::triggered, this, [this] { revealAt(selectedRow()); });
    connect(m_deleteAction, &QAction::triggered, this, [this] { deleteModelAt(selectedRow()); });
    connect(m_table, &QTableView::customContextMenuRequested, this, &LibraryPanel::showContextMenu);
    connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        const ModelEntry* e = m_model->entryAt(index.row());
        if (e && e->ok) emit loadRequested(qs(e->path));
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &LibraryPanel::updateActions);
    connect(m_model, &QAbstractItemModel::modelReset, this, &LibraryPanel::updateActions);

    connect(addButton, &QPushButton::clicked, this, &LibraryPanel::chooseFolder);
    connect(rescanButton, &QPushButton::clicked, this, &LibraryPanel::rescan);
    connect(m_firstRun, &FirstRunPanel::addFolderRequested, this, &LibraryPanel::chooseFolder);
    connect(m_firstRun, &FirstRunPanel::createDemoRequested, this, &LibraryPanel::createDemoModel);
    connect(&m_watcher, &QFutureWatcher<LibraryScan>::finished, this, [this] {
        showScan(m_watcher.result());
        if (m_rescanQueued) {
            m_rescanQueued = false;
            rescan();
        }
    });
    connect(&m_demoWatcher, &QFutureWatcher<QString>::finished, this, [this] {
        m_firstRun->setBusy(false);
        const QString error = m_demoWatcher.result();
        if (!error.isEmpty()) {
            m_firstRun->setMessage(tr("Could not create the demo model: %1").arg(error));
            emit demoModelFailed(error);
            return;
        }
        m_firstRun->setMessage(QString());
        m_selectAfterScan = m_demoDir;
        addFolder(QFileInfo(m_demoDir).absolutePath());  // scans its parent (a no-op add when already there)
    });
    reloadSettings();
    updateActions();
}

LibraryPanel::~LibraryPanel()
{
    m_watcher.waitForFinished();
    m_demoWatcher.waitForFinished();
}

void LibraryPanel::reloadSettings()
{
    const QSettings settings;
    m_options = m_baseOptions;
    m_options.includeHfCache = m_baseOptions.includeHfCache && settings::useHfCache();
    for (const QString& f : settings.value(settings::kExtraFolders).toStringList())
        if (std::find(m_options.folders.begin(), m_options.folders.end(), f.toStdString()) == m_options.folders.end())
            m_options.folders.push_back(f.toStdString());
}

QStringList LibraryPanel::folders() const
{
    QStringList list;
    for (const std::string& f : m_options.folders) list << qs(f);
    return list;
}

void LibraryPanel::rescan()
{
    if (m_watcher.isRunning()) {
        m_rescanQueued = true;  // the options changed mid-scan; scan again when this one ends
        return;
    }
    m_status->setText(tr("Scanning…"));
    m_watcher.setFuture(QtConcurrent::run([options = m_options] { return scanLibrary(options); }));
}

void LibraryPanel::setFreeMemory(std::uint64_t freeBytes, const QString& where)
{
    m_model->setFreeMemory(freeBytes, where);
}

void LibraryPanel::setContextLength(std::int64_t contextLength)
{
    m_model->setContextLength(contextLength);
}

void LibraryPanel::addFolder(const QString& folder)
{
    if (folder.isEmpty())
        return;
    const std::string f = folder.toStdString();
    if (std::find(m_options.folders.begin(), m_options.folders.end(), f) == m_options.folders.end()) {
        m_options.folders.push_back(f);
        QSettings settings;
        QStringList saved = settings.value(settings::kExtraFolders).toStringList();
        if (!saved.contains(folder))
            saved << folder;
        settings.setValue(settings::kExtraFolders, saved);
    }
    rescan();
}

void LibraryPanel::chooseFolder()
{
    addFolder(QFileDialog::getExistingDirectory(this, tr("Add a folder with models")));
}

void LibraryPanel::showScan(const LibraryScan& scan)
{
    const QString previous = selectedEntry() ? qs(selectedEntry()->path) : QString();
    const auto broken = std::count_if(scan.entries.begin(), scan.entries.end(), [](const ModelEntry& e) { return !e.ok; });
    m_model->setEntries(scan.entries);
    QString text = tr("%n model(s)", nullptr, static_cast<int>(scan.entries.size()));
    if (broken > 0)
        text += tr(", %n broken (hover for the reason)", nullptr, static_cast<int>(broken));
    if (scan.entries.empty())
        text = tr("No models yet");
    m_status->setText(text);
    // The first-run panel only when nothing at all was found (a broken model is still a model).
    m_stack->setCurrentWidget(scan.entries.empty() ? static_cast<QWidget*>(m_firstRun) : m_table);
    m_actions->setVisible(!scan.entries.empty());
    const QString wanted = m_selectAfterScan.isEmpty() ? previous : m_selectAfterScan;
    m_selectAfterScan.clear();
    if (!wanted.isEmpty()) selectPath(wanted);
    updateActions();
    emit scanFinished(static_cast<int>(scan.entries.size()));
    const QString demo = m_demoDir;
    if (wanted == demo && m_model->rowOf(demo) >= 0) emit demoModelCreated(demo);
}

bool LibraryPanel::isShowingFirstRun() const
{
    return m_stack->currentWidget() == m_firstRun;
}

int LibraryPanel::selectedRow() const
{
    const QModelIndex current = m_table->selectionModel()->currentIndex();
    return current.isValid() ? current.row() : -1;
}

const ModelEntry* LibraryPanel::selectedEntry() const
{
    return m_model->entryAt(selectedRow());
}

bool LibraryPanel::selectPath(const QString& path)
{
    const int row = m_model->rowOf(path);
    if (row < 0) return false;
    m_table->selectionModel()->setCurrentIndex(m_model->index(row, 0),
                                               QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_table->scrollTo(m_model->index(row, 0));
    return true;
}

void LibraryPanel::setLoadedModelPath(const QString& path)
{
    m_loadedPath = path;
    m_model->setLoadedPath(path);
    updateActions();
}

void LibraryPanel::updateActions()
{
    const ModelEntry* e = selectedEntry();
    m_loadAction->setEnabled(e && e->ok);
    m_loadOptionsAction->setEnabled(e && e->ok);
    m_unloadAction->setEnabled(!m_loadedPath.isEmpty());
    m_revealAction->setEnabled(e != nullptr);
    m_deleteAction->setEnabled(e != nullptr);
}

void LibraryPanel::showContextMenu(const QPoint& pos)
{
    const QModelIndex index = m_table->indexAt(pos);
    if (index.isValid()) selectPath(qs(m_model->entryAt(index.row())->path));
    QMenu menu(this);
    menu.addAction(m_loadAction);
    menu.addAction(m_loadOptionsAction);
    menu.addAction(m_unloadAction);
    menu.addSeparator();
    menu.addAction(m_revealAction);
    menu.addAction(m_deleteAction);
    menu.exec(m_table->viewport()->mapToGlobal(pos));
}

void LibraryPanel::revealAt(int row)
{
    const ModelEntry* e = m_model->entryAt(row);
    if (!e) return;
    const QFileInfo info(qs(e->path));
    const QString folder = info.isDir() ? info.absoluteFilePath() : info.absolutePath();
    emit revealRequested(QUrl::fromLocalFile(folder));
}

bool LibraryPanel::deleteModelAt(int row)
{
    const ModelEntry* e = m_model->entryAt(row);
    if (!e) return false;
    const ModelEntry entry = *e;
    auto refuse = [this](const QString& reason) {
        m_status->setText(reason);
        emit deleteRefused(reason);
        return false;
    };
    if (!m_loadedPath.isEmpty() && QFileInfo(m_loadedPath) == QFileInfo(qs(entry.path)))
        return refuse(tr("%1 is loaded; unload it before deleting its files").arg(qs(entry.displayName)));
    std::vector<ModelEntry> all;
    for (int r = 0; r < m_model->rowCount(); ++r) all.push_back(*m_model->entryAt(r));
    auto plan = planModelDeletion(entry, all);
    if (!plan) return refuse(qs(plan.error().message));

    QString what = plan->wholeFolder ? tr("the folder %1 and everything in it").arg(qs(plan->target))
                                     : tr("%n file(s): %1", nullptr, static_cast<int>(plan->files.size()))
                                           .arg(QStringList([&] {
                                                    QStringList l;
                                                    for (const auto& f : plan->files) l << qs(f);
                                                    return l;
                                                }()).join(QStringLiteral(", ")));
    QString text = tr("Delete %1?\n\nThis removes %2 (%3) from the disk. It cannot be undone.")
                       .arg(qs(entry.displayName), what, qs(formatBytes(plan->bytes)));
    if (plan->allRevisions) text += tr("\n\nEvery downloaded revision of this repository in the Hugging Face cache goes with it.");
    QMessageBox box(QMessageBox::Warning, tr("Delete model files"), text, QMessageBox::NoButton, this);
    box.setObjectName(QStringLiteral("confirmDelete"));
    QPushButton* yes = box.addButton(tr("Delete"), QMessageBox::DestructiveRole);
    QPushButton* no = box.addButton(QMessageBox::Cancel);
    box.setDefaultButton(no);
    box.exec();
    if (box.clickedButton() != yes) return false;

    if (Status deleted = executeDeletion(*plan); !deleted) {
        m_status->setText(qs(deleted.error().message));
        rescan();
        return false;
    }
    emit modelDeleted(qs(entry.path));
    rescan();
    return true;
}

void LibraryPanel::createDemoModel()
{
    if (m_demoWatcher.isRunning()) return;
    m_firstRun->setBusy(true);
    m_demoWatcher.setFuture(QtConcurrent::run([dir = m_demoDir.toStdString()] {
        const Status made = hearth::gui::createDemoModel(dir);
        return made ? QString() : qs(made.error().toString());
    }));
}

}  // namespace hearth::gui
