#include "library_panel.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

#include "app_settings.h"
#include "library_model.h"

namespace hearth::gui {

namespace {
const QString kFoldersKey = settings::kExtraFolders;
}  // namespace

LibraryPanel::LibraryPanel(LibraryScanOptions options, QWidget* parent)
    : QWidget(parent), m_options(std::move(options)), m_model(new LibraryModel(this))
{
    const QStringList saved = QSettings().value(kFoldersKey).toStringList();
    for (const QString& f : saved)
        if (std::find(m_options.folders.begin(), m_options.folders.end(), f.toStdString()) == m_options.folders.end())
            m_options.folders.push_back(f.toStdString());

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* bar = new QHBoxLayout;
    auto* title = new QLabel(tr("<b>Models</b>"), this);
    m_status = new QLabel(tr("Scanning…"), this);
    m_status->setObjectName(QStringLiteral("libraryStatus"));
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
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(m_table, 1);

    connect(addButton, &QPushButton::clicked, this, &LibraryPanel::chooseFolder);
    connect(rescanButton, &QPushButton::clicked, this, &LibraryPanel::rescan);
    connect(&m_watcher, &QFutureWatcher<LibraryScan>::finished, this, [this] {
        showScan(m_watcher.result());
        if (m_rescanQueued) {
            m_rescanQueued = false;
            rescan();
        }
    });
}

LibraryPanel::~LibraryPanel()
{
    m_watcher.waitForFinished();
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

void LibraryPanel::addFolder(const QString& folder)
{
    if (folder.isEmpty())
        return;
    const std::string f = folder.toStdString();
    if (std::find(m_options.folders.begin(), m_options.folders.end(), f) == m_options.folders.end()) {
        m_options.folders.push_back(f);
        QSettings settings;
        QStringList saved = settings.value(kFoldersKey).toStringList();
        if (!saved.contains(folder))
            saved << folder;
        settings.setValue(kFoldersKey, saved);
    }
    rescan();
}

void LibraryPanel::chooseFolder()
{
    addFolder(QFileDialog::getExistingDirectory(this, tr("Add a folder with models")));
}

void LibraryPanel::showScan(const LibraryScan& scan)
{
    const auto broken = std::count_if(scan.entries.begin(), scan.entries.end(), [](const ModelEntry& e) { return !e.ok; });
    m_model->setEntries(scan.entries);
    QString text = tr("%n model(s)", nullptr, static_cast<int>(scan.entries.size()));
    if (broken > 0)
        text += tr(", %n broken (hover for the reason)", nullptr, static_cast<int>(broken));
    if (scan.entries.empty())
        text = tr("No models yet. Put model folders or GGUF files in %1, or add a folder.")
                   .arg(QString::fromStdString(m_options.folders.empty() ? std::string() : m_options.folders.front()));
    m_status->setText(text);
    emit scanFinished(static_cast<int>(scan.entries.size()));
}

}  // namespace hearth::gui
