// The conversations in the store, most recent first: new, rename, delete (after a confirmation)
// and a search box that matches titles and message text.
#pragma once

#include <QWidget>

#include <functional>
#include <optional>

#include "store/conversation_store.h"

class QLineEdit;
class QListWidget;

namespace hearth::gui {

class ConversationList : public QWidget {
    Q_OBJECT

public:
    explicit ConversationList(QWidget* parent = nullptr);

    // The store to list (not owned); null empties the list.
    void setStore(ConversationStore* store);
    // Reads the list again (after a message or a new conversation).
    void refresh();
    void select(std::optional<ConversationId> id);
    std::optional<ConversationId> selected() const;
    // Asks before deleting; tests replace it (the default shows a QMessageBox).
    void setConfirm(std::function<bool(const QString& title)> confirm) { m_confirm = std::move(confirm); }
    void renameSelected(const QString& title);
    void deleteSelected();
    QListWidget* list() const { return m_list; }

signals:
    void conversationSelected(std::optional<hearth::ConversationId> id);
    void newRequested();
    void errorOccurred(const QString& message);

private:
    void askRename();

    ConversationStore* m_store = nullptr;
    QLineEdit* m_search = nullptr;
    QListWidget* m_list = nullptr;
    std::function<bool(const QString&)> m_confirm;
    bool m_refreshing = false;
};

}  // namespace hearth::gui
