// Per-conversation system prompt and sampling settings (temperature, top-p, top-k, min-p, max
// tokens, seed, repetition penalty). A field left at its "default" entry stays unset, which
// means "the engine's default".
#pragma once

#include <QDialog>

#include "store/conversation_store.h"

class QDoubleSpinBox;
class QPlainTextEdit;
class QSpinBox;

namespace hearth::gui {

class ConversationSettingsDialog : public QDialog {
    Q_OBJECT

public:
    explicit ConversationSettingsDialog(const ConversationInfo& info, QWidget* parent = nullptr);

    // `info` with the system prompt and sampling as edited (other fields unchanged).
    ConversationInfo edited() const;

private:
    ConversationInfo m_info;
    QPlainTextEdit* m_systemPrompt = nullptr;
    QDoubleSpinBox* m_temperature = nullptr;
    QDoubleSpinBox* m_topP = nullptr;
    QSpinBox* m_topK = nullptr;
    QDoubleSpinBox* m_minP = nullptr;
    QSpinBox* m_maxTokens = nullptr;
    QSpinBox* m_seed = nullptr;
    QDoubleSpinBox* m_repetitionPenalty = nullptr;
};

}  // namespace hearth::gui
