#include "settings_dialog.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QTabWidget>
#include <QVBoxLayout>

#include "app_settings.h"
#include "app_setup.h"
#include "util/paths.h"

namespace hearth::gui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

QLabel* note(const QString& text, QWidget* parent, const char* name = nullptr)
{
    auto* label = new QLabel(text, parent);
    label->setWordWrap(true);
    label->setTextFormat(Qt::PlainText);
    if (name) label->setObjectName(QLatin1String(name));
    QFont f = label->font();
    f.setItalic(true);
    label->setFont(f);
    return label;
}

}  // namespace

SettingsDialog::SettingsDialog(const std::vector<ModelEntry>& models, const BackendReport& report,
                               const QStringList& alwaysScanned, bool trayAvailable, QWidget* parent)
    : QDialog(parent)
{
    setObjectName(QStringLiteral("settingsDialog"));
    setWindowTitle(tr("Settings"));
    auto* layout = new QVBoxLayout(this);
    auto* tabs = new QTabWidget(this);
    tabs->addTab(makeLibraryTab(models, alwaysScanned), tr("Models"));
    tabs->addTab(makeEngineTab(report, trayAvailable), tr("Engine"));
    tabs->addTab(makeLookTab(), tr("Appearance"));
    layout->addWidget(tabs);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    layout->addWidget(note(tr("Changes are saved as you make them."), this));
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::accept);
}

QWidget* SettingsDialog::makeLibraryTab(const std::vector<ModelEntry>& models, const QStringList& alwaysScanned)
{
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->addWidget(new QLabel(tr("Model folders:"), tab));
    m_folders = new QListWidget(tab);
    m_folders->setObjectName(QStringLiteral("folderList"));
    m_folders->addItems(QSettings().value(settings::kExtraFolders).toStringList());
    layout->addWidget(m_folders);
    auto* row = new QHBoxLayout;
    auto* add = new QPushButton(tr("Add…"), tab);
    add->setObjectName(QStringLiteral("addFolder"));
    auto* remove = new QPushButton(tr("Remove"), tab);
    remove->setObjectName(QStringLiteral("removeFolder"));
    row->addWidget(add);
    row->addWidget(remove);
    row->addStretch(1);
    layout->addLayout(row);
    if (!alwaysScanned.isEmpty())
        layout->addWidget(note(tr("Always scanned: %1").arg(alwaysScanned.join(QStringLiteral(", "))), tab));

    m_hfCache = new QCheckBox(tr("Use the Hugging Face cache (%1)").arg(qs(huggingFaceHubCache())), tab);
    m_hfCache->setObjectName(QStringLiteral("useHfCache"));
    m_hfCache->setChecked(settings::useHfCache());
    layout->addWidget(m_hfCache);

    auto* form = new QFormLayout;
    m_defaultModel = new QComboBox(tab);
    m_defaultModel->setObjectName(QStringLiteral("defaultModel"));
    m_defaultModel->addItem(tr("The last used model"), QString());
    for (const ModelEntry& e : models)
        if (e.ok) m_defaultModel->addItem(qs(e.displayName), qs(e.path));
    const QString saved = QSettings().value(settings::kDefaultModel).toString();
    if (!saved.isEmpty() && m_defaultModel->findData(saved) < 0)
        m_defaultModel->addItem(tr("%1 (not in the library now)").arg(saved), saved);
    m_defaultModel->setCurrentIndex(std::max(0, m_defaultModel->findData(saved)));
    form->addRow(tr("Default model:"), m_defaultModel);
    m_preload = new QCheckBox(tr("Load it when Hearth starts"), tab);
    m_preload->setObjectName(QStringLiteral("preloadOnLaunch"));
    m_preload->setChecked(settings::preloadOnLaunch());
    form->addRow(QString(), m_preload);
    layout->addLayout(form);
    layout->addStretch(1);

    connect(add, &QPushButton::clicked, this,
            [this] { addFolder(QFileDialog::getExistingDirectory(this, tr("Add a folder with models"))); });
    connect(remove, &QPushButton::clicked, this, [this] {
        if (QListWidgetItem* item = m_folders->currentItem()) removeFolder(item->text());
    });
    connect(m_hfCache, &QCheckBox::toggled, this, [this](bool on) {
        QSettings().setValue(settings::kUseHfCache, on);
        emit libraryChanged();
    });
    connect(m_defaultModel, &QComboBox::currentIndexChanged, this,
            [this] { QSettings().setValue(settings::kDefaultModel, m_defaultModel->currentData().toString()); });
    connect(m_preload, &QCheckBox::toggled, this, [](bool on) { QSettings().setValue(settings::kPreloadOnLaunch, on); });
    return tab;
}

QWidget* SettingsDialog::makeEngineTab(const BackendReport& report, bool trayAvailable)
{
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    auto* form = new QFormLayout;
    m_gpu = new QComboBox(tab);
    m_gpu->setObjectName(QStringLiteral("gpuChoice"));
    for (const GpuInfo& g : report.gpus)
        m_gpu->addItem(tr("GPU %1: %2 (%3 free)").arg(g.index).arg(qs(g.name), qs(formatBytes(g.freeBytes))), g.index);
    m_gpu->addItem(report.gpus.empty() ? tr("CPU (no usable GPU found)") : tr("CPU"), -1);
    const int savedGpu = QSettings().value(settings::kGpuIndex, 0).toInt();
    const int gpuRow = m_gpu->findData(savedGpu);
    m_gpu->setCurrentIndex(gpuRow >= 0 ? gpuRow : m_gpu->count() - 1);
    form->addRow(tr("Run models on:"), m_gpu);
    layout->addLayout(form);
    QString gpuNote = tr("Applies to the next load.");
    if (report.gpus.empty())
        gpuNote += QLatin1Char(' ') + tr("No GPU is usable here (%1), so models run on the CPU backend.").arg(qs(report.reason));
    layout->addWidget(note(gpuNote, tab, "gpuNote"));

    m_tray = new QCheckBox(tr("Keep the model loaded when the window closes (in the system tray)"), tab);
    m_tray->setObjectName(QStringLiteral("keepInTray"));
    m_tray->setChecked(settings::keepLoadedInTray() && trayAvailable);
    m_tray->setEnabled(trayAvailable);
    layout->addWidget(m_tray);
    if (!trayAvailable)
        layout->addWidget(note(tr("This desktop has no system tray, so closing the window quits Hearth and frees the model."),
                               tab, "trayNote"));
    layout->addStretch(1);

    connect(m_gpu, &QComboBox::currentIndexChanged, this, [this] {
        QSettings().setValue(settings::kGpuIndex, m_gpu->currentData().toInt());
        emit gpuChanged();
    });
    connect(m_tray, &QCheckBox::toggled, this, [](bool on) { QSettings().setValue(settings::kKeepLoadedInTray, on); });
    return tab;
}

QWidget* SettingsDialog::makeLookTab()
{
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    auto* form = new QFormLayout;
    m_theme = new QComboBox(tab);
    m_theme->setObjectName(QStringLiteral("theme"));
    m_theme->addItem(tr("Follow the system"), QStringLiteral("system"));
    m_theme->addItem(tr("Light"), QStringLiteral("light"));
    m_theme->addItem(tr("Dark"), QStringLiteral("dark"));
    m_theme->setCurrentIndex(std::max(0, m_theme->findData(settings::theme())));
    form->addRow(tr("Theme:"), m_theme);
    m_language = new QComboBox(tab);
    m_language->setObjectName(QStringLiteral("language"));
    m_language->addItem(tr("System"), QString());
    m_language->addItem(QStringLiteral("English"), QStringLiteral("en"));
    m_language->addItem(QStringLiteral("简体中文"), QStringLiteral("zh_CN"));
    m_language->setCurrentIndex(std::max(0, m_language->findData(settings::language())));
    form->addRow(tr("Language:"), m_language);
    layout->addLayout(form);
    layout->addWidget(note(tr("A new language takes effect after Hearth restarts."), tab, "languageNote"));
    layout->addStretch(1);

    connect(m_theme, &QComboBox::currentIndexChanged, this, [this] {
        const QString theme = m_theme->currentData().toString();
        QSettings().setValue(settings::kTheme, theme);
        if (auto* app = qobject_cast<QApplication*>(QCoreApplication::instance())) applyTheme(*app, theme);
    });
    connect(m_language, &QComboBox::currentIndexChanged, this,
            [this] { QSettings().setValue(settings::kLanguage, m_language->currentData().toString()); });
    return tab;
}

void SettingsDialog::addFolder(const QString& folder)
{
    if (folder.isEmpty() || !m_folders->findItems(folder, Qt::MatchExactly).isEmpty()) return;
    m_folders->addItem(folder);
    saveFolders();
}

void SettingsDialog::removeFolder(const QString& folder)
{
    for (QListWidgetItem* item : m_folders->findItems(folder, Qt::MatchExactly)) delete item;
    saveFolders();
}

void SettingsDialog::saveFolders()
{
    QStringList folders;
    for (int i = 0; i < m_folders->count(); ++i) folders << m_folders->item(i)->text();
    QSettings().setValue(settings::kExtraFolders, folders);
    emit libraryChanged();
}

}  // namespace hearth::gui
