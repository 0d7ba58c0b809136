#include "conversation_settings_dialog.h"

#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QVBoxLayout>

namespace hearth::gui {

namespace {

// The minimum of each box stands for "unset" and shows "default".
QDoubleSpinBox* doubleBox(QWidget* parent, double unset, double max, double step, std::optional<double> value)
{
    auto* box = new QDoubleSpinBox(parent);
    box->setRange(unset, max);
    box->setSingleStep(step);
    box->setDecimals(2);
    box->setSpecialValueText(QObject::tr("default"));
    box->setValue(value.value_or(unset));
    return box;
}

QSpinBox* intBox(QWidget* parent, int unset, int max, std::optional<std::int64_t> value)
{
    auto* box = new QSpinBox(parent);
    box->setRange(unset, max);
    box->setSpecialValueText(QObject::tr("default"));
    box->setValue(value ? static_cast<int>(*value) : unset);
    return box;
}

std::optional<double> read(const QDoubleSpinBox* box)
{
    return box->value() == box->minimum() ? std::nullopt : std::optional<double>(box->value());
}

std::optional<std::int64_t> read(const QSpinBox* box)
{
    return box->value() == box->minimum() ? std::nullopt : std::optional<std::int64_t>(box->value());
}

}  // namespace

ConversationSettingsDialog::ConversationSettingsDialog(const ConversationInfo& info, QWidget* parent)
    : QDialog(parent), m_info(info)
{
    setWindowTitle(tr("Conversation settings"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    m_systemPrompt = new QPlainTextEdit(QString::fromStdString(info.systemPrompt), this);
    m_systemPrompt->setObjectName(QStringLiteral("systemPrompt"));
    const SamplingSettings& s = info.sampling;
    // Unset sits one step below the smallest valid value.
    m_temperature = doubleBox(this, -0.01, 5.0, 0.05, s.temperature);
    m_topP = doubleBox(this, 0.0, 1.0, 0.05, s.topP);
    m_topK = intBox(this, -1, 1000, s.topK);
    m_minP = doubleBox(this, -0.01, 0.99, 0.01, s.minP);
    m_maxTokens = intBox(this, 0, 1 << 20, s.maxTokens);
    m_seed = intBox(this, -1, 2147483647, s.seed);
    m_repetitionPenalty = doubleBox(this, 0.0, 3.0, 0.05, s.repetitionPenalty);
    form->addRow(tr("System prompt"), m_systemPrompt);
    form->addRow(tr("Temperature"), m_temperature);
    form->addRow(tr("Top-p"), m_topP);
    form->addRow(tr("Top-k"), m_topK);
    form->addRow(tr("Min-p"), m_minP);
    form->addRow(tr("Max tokens"), m_maxTokens);
    form->addRow(tr("Seed"), m_seed);
    form->addRow(tr("Repetition penalty"), m_repetitionPenalty);
    layout->addLayout(form);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

ConversationInfo ConversationSettingsDialog::edited() const
{
    ConversationInfo info = m_info;
    info.systemPrompt = m_systemPrompt->toPlainText().toStdString();
    info.sampling.temperature = read(m_temperature);
    info.sampling.topP = read(m_topP);
    info.sampling.topK = read(m_topK);
    info.sampling.minP = read(m_minP);
    info.sampling.maxTokens = read(m_maxTokens);
    info.sampling.seed = read(m_seed);
    info.sampling.repetitionPenalty = read(m_repetitionPenalty);
    return info;
}

}  // namespace hearth::gui
