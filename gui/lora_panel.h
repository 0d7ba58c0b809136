// The LoRA panel: the adapters attached to the loaded model, attach from a PEFT folder (the
// engine checks it matches the base model), detach, and the adapter and scale the current
// conversation uses (saved with the conversation). Engine work runs in the background; a refused
// adapter's reason is shown in the panel.
#pragma once

#include <QWidget>

#include <optional>

#include "store/conversation_store.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;

namespace hearth::gui {

class EngineController;

class LoraPanel : public QWidget {
    Q_OBJECT

public:
    explicit LoraPanel(EngineController* engine, QWidget* parent = nullptr);

    // The store the per-conversation choice is saved in (not owned; null: nothing is saved).
    void setStore(ConversationStore* store) { m_store = store; }
    // Shows and edits the choice of `id` (none: no conversation yet, the choice is disabled).
    void setConversation(std::optional<ConversationId> id);
    // Attaches the adapter folder `path`, named after the folder.
    void attachFolder(const QString& path);
    QListWidget* list() const { return m_list; }
    QComboBox* adapterChoice() const { return m_choice; }
    QDoubleSpinBox* scale() const { return m_scale; }
    QString message() const;

private:
    void refresh();
    void saveChoice();
    void detachSelected();

    EngineController* m_engine;
    ConversationStore* m_store = nullptr;
    std::optional<ConversationId> m_conversation;
    bool m_updating = false;
    QListWidget* m_list = nullptr;
    QComboBox* m_choice = nullptr;
    QDoubleSpinBox* m_scale = nullptr;
    QLabel* m_message = nullptr;
};

}  // namespace hearth::gui
