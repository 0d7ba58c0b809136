#include "conversation_settings_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "sampling_presets.h"

namespace hearth::gui {

namespace {

QString fieldText(std::optional<double> value) { return value ? QString::number(*value, 'g', 6) : QString(); }
QString fieldText(std::optional<std::int64_t> value) { return value ? QString::number(*value) : QString(); }

// Either the C locale's "0.7" or the user's own ("0,7") is accepted.
std::optional<double> toDouble(const QString& text)
{
    bool ok = false;
    double value = text.toDouble(&ok);
    if (!ok) value = QLocale().toDouble(text, &ok);
    return ok ? std::optional<double>(value) : std::nullopt;
}

}  // namespace

ConversationSettingsDialog::ConversationSettingsDialog(const ConversationInfo& info, QWidget* parent)
    : QDialog(parent), m_info(info), m_presetName(QString::fromStdString(info.sampling.presetName))
{
    setWindowTitle(tr("Conversation settings"));
    auto* layout = new QVBoxLayout(this);
    m_form = new QFormLayout;
    m_systemPrompt = new QPlainTextEdit(QString::fromStdString(info.systemPrompt), this);
    m_systemPrompt->setObjectName(QStringLiteral("systemPrompt"));
    m_systemPrompt->setPlaceholderText(tr("e.g. You are a concise assistant. Answer in English."));
    m_form->addRow(tr("System prompt"), m_systemPrompt);

    m_preset = new QComboBox(this);
    m_preset->setObjectName(QStringLiteral("samplingPreset"));
    for (const SamplingPreset& preset : samplingPresets()) {
        m_preset->addItem(preset.label, preset.key);
        m_preset->setItemData(m_preset->count() - 1, preset.tooltip, Qt::ToolTipRole);
    }
    m_preset->addItem(tr("Custom"), QString::fromLatin1(kCustomPresetKey));
    m_preset->setItemData(m_preset->count() - 1, tr("Your own values"), Qt::ToolTipRole);
    m_form->addRow(tr("Preset"), m_preset);

    m_temperature = addField(QStringLiteral("temperature"), tr("Temperature"),
                             tr("0 is greedy (always the likeliest token); higher is more varied. 0 to 5."));
    m_topP = addField(QStringLiteral("topP"), tr("Top-p"), tr("Sample from the smallest set of tokens whose "
                                                              "probabilities add up to this. Greater than 0, at most 1."));
    m_topK = addField(QStringLiteral("topK"), tr("Top-k"), tr("Sample from the k likeliest tokens; 0 turns it off."));
    m_minP = addField(QStringLiteral("minP"), tr("Min-p"),
                      tr("Drop tokens less likely than this fraction of the likeliest one. 0 to below 1."));
    m_maxTokens = addField(QStringLiteral("maxTokens"), tr("Max tokens"), tr("The longest reply, in tokens (default 1024)."));
    m_seed = addField(QStringLiteral("seed"), tr("Seed"), tr("The same seed and prompt give the same reply; empty is random."));
    m_repetitionPenalty = addField(QStringLiteral("repetitionPenalty"), tr("Repetition penalty"),
                                   tr("Above 1 discourages repeating tokens already in the text; 1 turns it off."));
    layout->addLayout(m_form);

    m_message = new QLabel(this);
    m_message->setObjectName(QStringLiteral("validationMessage"));
    m_message->setStyleSheet(QStringLiteral("color: #c0392b;"));
    m_message->setWordWrap(true);
    m_message->setVisible(false);
    layout->addWidget(m_message);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &ConversationSettingsDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(m_buttons);

    showSettings(info.sampling);
    int shown = m_preset->findData(QString::fromLatin1(kCustomPresetKey));
    if (auto preset = findSamplingPreset(QString::fromStdString(info.sampling.presetName));
        preset && matchesSamplingPreset(*preset, info.sampling))
        shown = m_preset->findData(preset->key);
    m_preset->setCurrentIndex(shown);
    connect(m_preset, &QComboBox::activated, this, [this](int index) { choosePreset(m_preset->itemData(index).toString()); });
    validate();
}

QLineEdit* ConversationSettingsDialog::addField(const QString& name, const QString& label, const QString& tooltip)
{
    auto* field = new QLineEdit(this);
    field->setObjectName(name);
    field->setPlaceholderText(tr("default"));
    field->setToolTip(tooltip);
    field->setClearButtonEnabled(true);
    connect(field, &QLineEdit::textChanged, this, &ConversationSettingsDialog::onFieldEdited);
    m_form->addRow(label, field);
    return field;
}

void ConversationSettingsDialog::showSettings(const SamplingSettings& s)
{
    m_filling = true;
    m_temperature->setText(fieldText(s.temperature));
    m_topP->setText(fieldText(s.topP));
    m_topK->setText(fieldText(s.topK));
    m_minP->setText(fieldText(s.minP));
    m_maxTokens->setText(fieldText(s.maxTokens));
    m_seed->setText(fieldText(s.seed));
    m_repetitionPenalty->setText(fieldText(s.repetitionPenalty));
    m_filling = false;
}

bool ConversationSettingsDialog::choosePreset(const QString& key)
{
    const int index = m_preset->findData(key);
    if (index < 0) return false;
    m_preset->setCurrentIndex(index);
    if (auto preset = findSamplingPreset(key)) showSettings(applySamplingPreset(*preset, parse().settings));
    m_presetName = key;
    validate();
    return true;
}

QString ConversationSettingsDialog::presetKey() const { return m_preset->currentData().toString(); }

void ConversationSettingsDialog::onFieldEdited()
{
    if (m_filling) return;
    // Seed and length are not part of a preset: changing them keeps the preset.
    auto* field = qobject_cast<QLineEdit*>(sender());
    if (field != m_maxTokens && field != m_seed) {
        const int custom = m_preset->findData(QString::fromLatin1(kCustomPresetKey));
        if (m_preset->currentIndex() != custom) m_preset->setCurrentIndex(custom);
        m_presetName = QString::fromLatin1(kCustomPresetKey);
    }
    validate();
}

ConversationSettingsDialog::Parsed ConversationSettingsDialog::parse() const
{
    Parsed out;
    // A field is bad when it cannot be read or its value alone is out of range.
    auto readDouble = [&](QLineEdit* field, const QString& label, std::optional<double> SamplingSettings::*member) {
        const QString text = field->text().trimmed();
        if (text.isEmpty()) return;
        SamplingSettings alone;
        (alone.*member) = toDouble(text);
        if (!(alone.*member)) out.problems << tr("%1: \"%2\" is not a number.").arg(label, text);
        if (!(alone.*member) || !samplingProblems(alone).isEmpty()) out.badFields << field;
        out.settings.*member = alone.*member;
    };
    auto readInt = [&](QLineEdit* field, const QString& label, std::optional<std::int64_t> SamplingSettings::*member) {
        const QString text = field->text().trimmed();
        if (text.isEmpty()) return;
        bool ok = false;
        const qlonglong value = text.toLongLong(&ok);
        SamplingSettings alone;
        if (ok) alone.*member = value;
        else out.problems << tr("%1: \"%2\" is not a whole number.").arg(label, text);
        if (!ok || !samplingProblems(alone).isEmpty()) out.badFields << field;
        out.settings.*member = alone.*member;
    };
    readDouble(m_temperature, tr("Temperature"), &SamplingSettings::temperature);
    readDouble(m_topP, tr("Top-p"), &SamplingSettings::topP);
    readInt(m_topK, tr("Top-k"), &SamplingSettings::topK);
    readDouble(m_minP, tr("Min-p"), &SamplingSettings::minP);
    readInt(m_maxTokens, tr("Max tokens"), &SamplingSettings::maxTokens);
    readInt(m_seed, tr("Seed"), &SamplingSettings::seed);
    readDouble(m_repetitionPenalty, tr("Repetition penalty"), &SamplingSettings::repetitionPenalty);
    out.problems << samplingProblems(out.settings);
    out.settings.presetName = m_presetName.toStdString();
    return out;
}

QStringList ConversationSettingsDialog::problems() const { return parse().problems; }

void ConversationSettingsDialog::validate()
{
    const Parsed parsed = parse();
    m_message->setText(parsed.problems.join(QLatin1Char('\n')));
    m_message->setVisible(!parsed.problems.isEmpty());
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(parsed.problems.isEmpty());
    for (QLineEdit* field : {m_temperature, m_topP, m_topK, m_minP, m_maxTokens, m_seed, m_repetitionPenalty}) {
        const bool bad = parsed.badFields.contains(field);
        field->setProperty("invalid", bad);
        field->setStyleSheet(bad ? QStringLiteral("QLineEdit { border: 1px solid #c0392b; }") : QString());
    }
}

void ConversationSettingsDialog::accept()
{
    validate();
    if (!problems().isEmpty()) return;
    QDialog::accept();
}

ConversationInfo ConversationSettingsDialog::edited() const
{
    ConversationInfo info = m_info;
    info.systemPrompt = m_systemPrompt->toPlainText().toStdString();
    info.sampling = parse().settings;
    return info;
}

}  // namespace hearth::gui
