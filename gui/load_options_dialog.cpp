#include "load_options_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>

#include "app_settings.h"

namespace hearth::gui {

namespace {

// Models with no max positions in their config may still be loaded with a context this long.
constexpr std::int64_t kUnknownMaxContext = 131072;
constexpr std::int64_t kMinContext = 64;

QString qs(const std::string& s) { return QString::fromStdString(s); }

std::int64_t maxContext(const ModelEntry& entry)
{
    return entry.contextLength > 0 ? entry.contextLength : kUnknownMaxContext;
}

}  // namespace

QString dtypeKey(WeightDType dtype)
{
    switch (dtype) {
    case WeightDType::F16: return QStringLiteral("fp16");
    case WeightDType::BF16: return QStringLiteral("bf16");
    case WeightDType::AsStored: break;
    }
    return QStringLiteral("auto");
}

WeightDType dtypeFromKey(const QString& key)
{
    if (key == QLatin1String("fp16")) return WeightDType::F16;
    if (key == QLatin1String("bf16")) return WeightDType::BF16;
    return WeightDType::AsStored;
}

std::uint64_t weightBytesAs(const ModelEntry& entry, WeightDType dtype)
{
    if (dtype == WeightDType::AsStored || entry.parameterCount == 0) return entry.weightBytes;
    return entry.parameterCount * 2;
}

std::int64_t effectiveContext(const ModelEntry& entry, std::int64_t contextLength)
{
    if (contextLength <= 0) return entry.estimate(0).contextLength;
    return std::min(contextLength, maxContext(entry));
}

MemoryEstimate estimateForLoad(const ModelEntry& entry, const LoadOptions& options)
{
    return estimateMemory(entry.shape, weightBytesAs(entry, options.weightDtype),
                          effectiveContext(entry, options.contextLength));
}

LoadOptions rememberedLoadOptions(const ModelEntry& entry)
{
    const QSettings settings;
    LoadOptions options;
    options.weightDtype = dtypeFromKey(settings.value(settings::kLoadDtype).toString());
    options.contextLength = effectiveContext(entry, settings.value(settings::kLoadContext, 0).toLongLong());
    options.backend = settings.value(settings::kGpuIndex, 0).toInt() < 0 ? BackendChoice::Cpu : BackendChoice::Auto;
    options.gpuIndex = std::max(0, settings.value(settings::kGpuIndex, 0).toInt());
    return options;
}

LoadOptionsDialog::LoadOptionsDialog(const ModelEntry& entry, std::uint64_t freeBytes, const QString& where,
                                     QWidget* parent)
    : QDialog(parent), m_entry(entry), m_freeBytes(freeBytes), m_where(where)
{
    setObjectName(QStringLiteral("loadOptionsDialog"));
    setWindowTitle(tr("Load %1").arg(qs(entry.displayName)));
    setMinimumWidth(460);
    const LoadOptions initial = rememberedLoadOptions(entry);

    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    m_dtype = new QComboBox(this);
    m_dtype->setObjectName(QStringLiteral("dtype"));
    m_dtype->addItem(tr("As stored (%1)").arg(qs(entry.dtype)), dtypeKey(WeightDType::AsStored));
    m_dtype->addItem(tr("fp16"), dtypeKey(WeightDType::F16));
    m_dtype->addItem(tr("bf16"), dtypeKey(WeightDType::BF16));
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(dtypeKey(initial.weightDtype))));
    form->addRow(tr("Weights as:"), m_dtype);

    m_context = new QSpinBox(this);
    m_context->setObjectName(QStringLiteral("contextLength"));
    const std::int64_t maxCtx = std::min<std::int64_t>(maxContext(entry), std::numeric_limits<int>::max());
    m_context->setRange(static_cast<int>(std::min(kMinContext, maxCtx)), static_cast<int>(maxCtx));
    m_context->setSingleStep(1024);
    m_context->setSuffix(tr(" tokens"));
    m_context->setValue(static_cast<int>(initial.contextLength));
    form->addRow(tr("Context length:"), m_context);
    auto* maxNote = new QLabel(entry.contextLength > 0 ? tr("The model was trained for up to %1 tokens.").arg(entry.contextLength)
                                                       : tr("The model does not say how long a context it supports."),
                               this);
    maxNote->setWordWrap(true);
    form->addRow(QString(), maxNote);

    auto makeValue = [this](const char* name) {
        auto* label = new QLabel(this);
        label->setObjectName(QLatin1String(name));
        label->setTextInteractionFlags(Qt::TextSelectableByMouse);
        return label;
    };
    m_weights = makeValue("estWeights");
    m_kv = makeValue("estKvCache");
    m_workspace = makeValue("estWorkspace");
    m_total = makeValue("estTotal");
    m_fit = makeValue("fitVerdict");
    m_fit->setWordWrap(true);
    form->addRow(tr("Weights:"), m_weights);
    form->addRow(tr("KV cache:"), m_kv);
    form->addRow(tr("Workspace:"), m_workspace);
    form->addRow(tr("Total:"), m_total);
    form->addRow(tr("Verdict:"), m_fit);
    layout->addLayout(form);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Load"));
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        remember();
        accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_dtype, &QComboBox::currentIndexChanged, this, &LoadOptionsDialog::update);
    connect(m_context, &QSpinBox::valueChanged, this, &LoadOptionsDialog::update);
    update();
}

LoadOptions LoadOptionsDialog::options() const
{
    LoadOptions options = rememberedLoadOptions(m_entry);
    options.weightDtype = dtypeFromKey(m_dtype->currentData().toString());
    options.contextLength = m_context->value();
    return options;
}

void LoadOptionsDialog::remember() const
{
    QSettings settings;
    settings.setValue(settings::kLoadDtype, m_dtype->currentData().toString());
    settings.setValue(settings::kLoadContext, m_context->value());
}

void LoadOptionsDialog::update()
{
    const MemoryEstimate e = estimate();
    m_weights->setText(qs(formatBytes(e.weightsBytes)));
    m_kv->setText(tr("%1 (%2 per token)").arg(qs(formatBytes(e.kvCacheBytes)), qs(formatBytes(e.kvBytesPerToken))));
    m_workspace->setText(qs(formatBytes(e.workspaceBytes)));
    m_total->setText(qs(formatBytes(e.totalBytes)));
    if (m_freeBytes == 0) {
        m_fit->setText(tr("Free memory unknown: cannot say whether it fits."));
        return;
    }
    const QString free = qs(formatBytes(m_freeBytes));
    switch (fitsIn(e.totalBytes, m_freeBytes)) {
    case FitVerdict::Fits: m_fit->setText(tr("Fits in %1 (%2 free).").arg(m_where, free)); break;
    case FitVerdict::Tight:
        m_fit->setText(tr("Tight in %1 (%2 free): may fail if other programs take memory.").arg(m_where, free));
        break;
    case FitVerdict::DoesNotFit:
        m_fit->setText(tr("Does not fit in %1 (%2 free): lower the context length or pick a smaller model.").arg(m_where, free));
        break;
    }
}

}  // namespace hearth::gui
