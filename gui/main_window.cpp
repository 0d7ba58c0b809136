#include "main_window.h"

#include <QLabel>
#include <QLocale>
#include <QStatusBar>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "library_panel.h"
#include "util/system_memory.h"

namespace hearth::gui {

MainWindow::MainWindow(LibraryScanOptions libraryOptions, QWidget* parent) : QMainWindow(parent)
{
    setWindowTitle(tr("Hearth"));
    resize(1100, 720);

    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    auto* title = new QLabel(tr("<h2>Hearth</h2><p>Local models, warm and ready.</p>"), central);
    title->setTextFormat(Qt::RichText);
    m_detailLabel = new QLabel(tr("Looking for a GPU…"), central);
    m_detailLabel->setObjectName(QStringLiteral("backendDetail"));
    m_detailLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detailLabel->setWordWrap(true);
    layout->addWidget(title);
    layout->addWidget(m_detailLabel);
    m_library = new LibraryPanel(std::move(libraryOptions), central);
    layout->addWidget(m_library, 1);
    setCentralWidget(central);

    m_backendLabel = new QLabel(tr("Backend: probing…"), this);
    m_backendLabel->setObjectName(QStringLiteral("backendLabel"));
    statusBar()->addPermanentWidget(m_backendLabel);

    connect(&m_probeWatcher, &QFutureWatcher<BackendReport>::finished, this, [this] {
        m_report = m_probeWatcher.result();
        showBackend(m_report);
        emit backendProbed();
    });
}

MainWindow::~MainWindow()
{
    m_probeWatcher.waitForFinished();
}

void MainWindow::startBackgroundWork()
{
    m_probeWatcher.setFuture(QtConcurrent::run([] { return probeBackends(); }));
    m_library->rescan();
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
