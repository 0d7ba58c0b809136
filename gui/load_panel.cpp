#include "load_panel.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "engine_controller.h"

namespace hearth::gui {

namespace {

// The stages in the order a load goes through them; the view never steps back along it.
int stageIndex(const std::string& stage)
{
    static const char* const kOrder[] = {kLoadStageOpening, kLoadStageReading, kLoadStageConverting,
                                         kLoadStageWarmingUp, kLoadStageReady};
    for (int i = 0; i < 5; ++i)
        if (stage == kOrder[i]) return i;
    return -1;
}

QString bytes(std::uint64_t n)
{
    return QLocale().formattedDataSize(static_cast<qint64>(n));
}

QString seconds(double s)
{
    if (s < 1.0) return LoadPanel::tr("%1 ms").arg(std::lround(s * 1000.0));
    if (s < 90.0) return LoadPanel::tr("%1 s").arg(s, 0, 'f', 1);
    const long total = std::lround(s);
    return LoadPanel::tr("%1 min %2 s").arg(total / 60).arg(total % 60);
}

}  // namespace

QString loadStageName(const std::string& stage)
{
    if (stage == kLoadStageOpening) return LoadPanel::tr("opening files");
    if (stage == kLoadStageReading) return LoadPanel::tr("reading weights");
    if (stage == kLoadStageConverting) return LoadPanel::tr("converting");
    if (stage == kLoadStageWarmingUp) return LoadPanel::tr("warming up");
    if (stage == kLoadStageReady) return LoadPanel::tr("ready");
    if (stage == kLoadStageTokenizer) return LoadPanel::tr("reading the tokenizer");
    if (stage == kLoadStageCudaContext) return LoadPanel::tr("starting the GPU");
    if (stage == kLoadStageStaging) return LoadPanel::tr("reserving transfer buffers");
    if (stage == kLoadStageCublas) return LoadPanel::tr("GPU math libraries and workspace");
    if (stage == kLoadStageKvPool) return LoadPanel::tr("reserving the KV cache");
    if (stage == kLoadStageGemmTuning) return LoadPanel::tr("choosing the fastest matrix kernels");
    return QString::fromStdString(stage);
}

QString formatBreakdown(const std::vector<LoadStageTime>& breakdown)
{
    QStringList parts;
    for (std::size_t i = 0; i < breakdown.size(); ++i) {
        const LoadStageTime& t = breakdown[i];
        QString part = LoadPanel::tr("%1 %2").arg(loadStageName(t.stage), seconds(t.ms / 1000.0));
        if (t.overlapped) {
            part = LoadPanel::tr("%1 (behind the transfer)").arg(part);
        } else if (i > 0 && breakdown[i - 1].overlapped && breakdown[i - 1].stage == t.stage) {
            // The same work went on past the transfer (the tokenizer outlasting the reads).
            part = LoadPanel::tr("%1 more after it").arg(seconds(t.ms / 1000.0));
        }
        parts << part;
    }
    return parts.join(QStringLiteral(" · "));
}

LoadPanel::LoadPanel(EngineController* engine, QWidget* parent) : QFrame(parent), m_engine(engine)
{
    setObjectName(QStringLiteral("loadPanel"));
    setFrameShape(QFrame::StyledPanel);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 6, 8, 6);
    layout->setSpacing(2);

    auto* top = new QHBoxLayout;
    m_title = new QLabel(this);
    m_title->setObjectName(QStringLiteral("loadTitle"));
    m_title->setTextFormat(Qt::PlainText);
    QFont bold = m_title->font();
    bold.setBold(true);
    m_title->setFont(bold);
    m_bar = new QProgressBar(this);
    m_bar->setObjectName(QStringLiteral("loadBar"));
    m_bar->setRange(0, 1000);
    m_bar->setTextVisible(false);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setObjectName(QStringLiteral("loadCancel"));
    m_retry = new QPushButton(tr("Retry"), this);
    m_retry->setObjectName(QStringLiteral("loadRetry"));
    m_dismiss = new QPushButton(tr("Dismiss"), this);
    m_dismiss->setObjectName(QStringLiteral("loadDismiss"));
    // Buttons keep their size; the title takes the room the bar leaves when it is hidden.
    for (QPushButton* b : {m_cancel, m_retry, m_dismiss}) b->setSizePolicy(QSizePolicy::Maximum, QSizePolicy::Fixed);
    m_title->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    top->addWidget(m_title);
    top->addWidget(m_bar, 1);
    top->addWidget(m_cancel);
    top->addWidget(m_retry);
    top->addWidget(m_dismiss);
    layout->addLayout(top);

    auto makeLine = [this, layout](const char* name) {
        auto* label = new QLabel(this);
        label->setObjectName(QLatin1String(name));
        label->setTextFormat(Qt::PlainText);
        label->setWordWrap(true);
        label->setTextInteractionFlags(Qt::TextSelectableByMouse);
        layout->addWidget(label);
        return label;
    };
    m_stage = makeLine("loadStage");
    m_bytes = makeLine("loadBytes");
    m_files = makeLine("loadFiles");
    m_breakdown = makeLine("loadBreakdown");

    connect(m_cancel, &QPushButton::clicked, m_engine, &EngineController::cancelLoad);
    connect(m_retry, &QPushButton::clicked, this, &LoadPanel::retry);
    connect(m_dismiss, &QPushButton::clicked, this, &LoadPanel::dismiss);
    connect(m_engine, &EngineController::loadStarted, this, &LoadPanel::onStarted);
    connect(m_engine, &EngineController::loadProgress, this, &LoadPanel::onProgress);
    connect(m_engine, &EngineController::ready, this, &LoadPanel::onReady);
    connect(m_engine, &EngineController::loadFailed, this, &LoadPanel::onFailed);
    connect(m_engine, &EngineController::loadCancelled, this, &LoadPanel::onCancelled);
    // Unloading while a load runs ends that load.
    connect(m_engine, &EngineController::unloaded, this, &LoadPanel::onCancelled);
    setVisible(false);
}

void LoadPanel::onStarted(const QString& modelPath)
{
    m_phase = Phase::Loading;
    m_modelPath = modelPath;
    m_clock.start();
    m_stageIndex = -1;
    m_shownBytesDone = 0;
    m_shownPermille = 0;
    m_title->setText(tr("Loading %1").arg(QFileInfo(modelPath).fileName()));
    m_title->setToolTip(modelPath);
    m_bar->setRange(0, 0);  // busy until the first byte count
    m_bar->setVisible(true);
    m_stage->setText(tr("Stage: %1").arg(loadStageName(kLoadStageOpening)));
    m_bytes->clear();
    m_files->clear();
    m_files->setVisible(false);
    m_breakdown->clear();
    m_breakdown->setVisible(false);
    setButtons();
    setVisible(true);
}

double LoadPanel::elapsedS(const LoadProgress& progress) const
{
    // The engine's own clock when it reports one; the panel's since the load started otherwise.
    if (progress.elapsedS > 0.0) return progress.elapsedS;
    return m_clock.isValid() ? static_cast<double>(m_clock.elapsed()) / 1000.0 : 0.0;
}

void LoadPanel::onProgress(const LoadProgress& progress)
{
    if (m_phase != Phase::Loading) return;
    const int index = stageIndex(progress.stage);
    if (index >= m_stageIndex) {
        m_stageIndex = index;
        m_stage->setText(tr("Stage: %1").arg(loadStageName(progress.stage)));
    }
    const double elapsed = elapsedS(progress);
    if (progress.bytesTotal > 0) {
        m_shownBytesDone = std::max<quint64>(m_shownBytesDone, std::min(progress.bytesDone, progress.bytesTotal));
        const int permille = static_cast<int>(1000.0 * static_cast<double>(m_shownBytesDone) /
                                              static_cast<double>(progress.bytesTotal));
        m_shownPermille = std::max(m_shownPermille, permille);
        m_bar->setRange(0, 1000);
        m_bar->setValue(m_shownPermille);
        QStringList parts;
        parts << tr("%1 of %2").arg(bytes(m_shownBytesDone), bytes(progress.bytesTotal));
        if (progress.rateBytesPerS > 0.0) parts << tr("%1/s").arg(bytes(static_cast<std::uint64_t>(progress.rateBytesPerS)));
        double eta = progress.etaS;
        if (eta <= 0.0 && progress.rateBytesPerS > 0.0 && m_shownBytesDone < progress.bytesTotal)
            eta = static_cast<double>(progress.bytesTotal - m_shownBytesDone) / progress.rateBytesPerS;
        if (eta > 0.0) parts << tr("about %1 left").arg(seconds(eta));
        parts << tr("%1 elapsed").arg(seconds(elapsed));
        m_bytes->setText(parts.join(QStringLiteral(" · ")));
    } else {
        m_bytes->setText(tr("%1 elapsed").arg(seconds(elapsed)));
    }

    if (!progress.files.empty()) {
        int done = 0;
        QString current;
        for (const LoadFileProgress& f : progress.files) {
            if (f.bytesTotal > 0 && f.bytesDone >= f.bytesTotal) {
                ++done;
            } else if (current.isEmpty() && f.bytesDone > 0) {
                const double pct = f.bytesTotal ? 100.0 * static_cast<double>(f.bytesDone) / static_cast<double>(f.bytesTotal) : 0.0;
                current = tr("%1 (%2%)").arg(QString::fromStdString(f.file)).arg(pct, 0, 'f', 0);
            }
        }
        QString text = tr("Files: %1 of %2 done").arg(done).arg(progress.files.size());
        if (!current.isEmpty()) text += tr(" · now %1").arg(current);
        m_files->setText(text);
        m_files->setVisible(true);
    } else if (!progress.file.empty()) {
        m_files->setText(tr("File: %1").arg(QString::fromStdString(progress.file)));
        m_files->setVisible(true);
    }
}

void LoadPanel::onReady(const QString& backendName)
{
    if (m_phase != Phase::Loading) return;
    m_phase = Phase::Ready;
    const LoadProgress& last = m_engine->lastProgress();
    const double elapsed = elapsedS(last);
    m_title->setText(tr("Loaded %1 in %2").arg(QFileInfo(m_modelPath).fileName(), seconds(elapsed)));
    m_bar->setRange(0, 1000);
    m_bar->setValue(1000);
    m_bar->setVisible(false);
    m_stage->setText(tr("Ready on the %1 backend").arg(backendName));
    if (last.bytesTotal > 0) m_bytes->setText(tr("%1 read").arg(bytes(last.bytesTotal)));
    m_files->setVisible(false);
    if (!last.breakdown.empty()) {
        m_breakdown->setText(tr("Where the time went: %1").arg(formatBreakdown(last.breakdown)));
    } else {
        m_breakdown->setText(tr("This engine reported no per-stage timings for this load."));
    }
    m_breakdown->setVisible(true);
    setButtons();
}

void LoadPanel::onFailed(const QString& reason)
{
    // A cancel is reported as cancelled (loadCancelled came first), not as a failure.
    if (m_phase != Phase::Loading) return;
    m_phase = Phase::Failed;
    m_title->setText(tr("Could not load %1").arg(QFileInfo(m_modelPath).fileName()));
    m_bar->setVisible(false);
    m_stage->setText(tr("Reason: %1").arg(reason));
    m_files->setVisible(false);
    const LoadProgress& last = m_engine->lastProgress();
    m_breakdown->setVisible(!last.breakdown.empty());
    if (!last.breakdown.empty()) m_breakdown->setText(tr("Before it stopped: %1").arg(formatBreakdown(last.breakdown)));
    setButtons();
    setVisible(true);
}

void LoadPanel::onCancelled()
{
    if (m_phase != Phase::Loading) return;
    m_phase = Phase::Cancelled;
    m_title->setText(tr("Loading %1 was cancelled").arg(QFileInfo(m_modelPath).fileName()));
    m_bar->setVisible(false);
    m_stage->setText(tr("No model is loaded. Load one from the library when you are ready."));
    m_files->setVisible(false);
    m_breakdown->setVisible(false);
    setButtons();
}

void LoadPanel::retry()
{
    if (m_modelPath.isEmpty()) return;
    m_engine->load(m_modelPath, m_engine->loadOptions());
}

void LoadPanel::dismiss()
{
    if (m_phase == Phase::Loading) return;
    setVisible(false);
    emit dismissed();
}

void LoadPanel::setButtons()
{
    m_cancel->setVisible(m_phase == Phase::Loading);
    m_retry->setVisible(m_phase == Phase::Failed || m_phase == Phase::Cancelled);
    m_dismiss->setVisible(m_phase != Phase::Loading && m_phase != Phase::Idle);
}

}  // namespace hearth::gui
