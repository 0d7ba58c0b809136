// Per-conversation system prompt and sampling settings (temperature, top-p, top-k, min-p, max
// tokens, seed, repetition penalty) with presets. An empty field stays unset, which means "the
// engine's default"; choosing a preset fills the knobs it names and editing any of them by hand
// turns the preset into "Custom". Out-of-range or unreadable values are named under the form and
// OK stays disabled until they are fixed, so nothing absurd reaches the store or the engine.
#pragma once

#include <QDialog>
#include <QList>

#include "store/conversation_store.h"

class QComboBox;
class QDialogButtonBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPlainTextEdit;

namespace hearth::gui {

class ConversationSettingsDialog : public QDialog {
    Q_OBJECT

public:
    explicit ConversationSettingsDialog(const ConversationInfo& info, QWidget* parent = nullptr);

    // `info` with the system prompt and sampling as edited (other fields unchanged); meaningful
    // when problems() is empty.
    ConversationInfo edited() const;
    // What is wrong with the fields now (empty: OK may be pressed).
    QStringList problems() const;
    // Fills the fields from the preset `key` (as choosing it in the box does); false if unknown.
    bool choosePreset(const QString& key);
    // The preset shown: a preset key or "custom".
    QString presetKey() const;

    void accept() override;

private:
    struct Parsed {
        SamplingSettings settings;
        QStringList problems;
        QList<QLineEdit*> badFields;  // outlined in red
    };
    Parsed parse() const;
    void showSettings(const SamplingSettings& settings);
    void onFieldEdited();
    void validate();
    QLineEdit* addField(const QString& name, const QString& label, const QString& tooltip);

    ConversationInfo m_info;
    QPlainTextEdit* m_systemPrompt = nullptr;
    QComboBox* m_preset = nullptr;
    QLineEdit* m_temperature = nullptr;
    QLineEdit* m_topP = nullptr;
    QLineEdit* m_topK = nullptr;
    QLineEdit* m_minP = nullptr;
    QLineEdit* m_maxTokens = nullptr;
    QLineEdit* m_seed = nullptr;
    QLineEdit* m_repetitionPenalty = nullptr;
    QLabel* m_message = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
    QFormLayout* m_form = nullptr;
    // What edited() stores as presetName: the loaded one until a preset is chosen or a knob edited.
    QString m_presetName;
    bool m_filling = false;  // fields are being set from a preset, not by the user
};

}  // namespace hearth::gui
