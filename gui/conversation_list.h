// The conversations in the store, most recent first: new (also Ctrl+N anywhere in the window),
// rename, delete (after a confirmation), a search box that matches titles and message text, and a
// context menu that also exports a conversation as JSON or Markdown and imports a JSON export.
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
    // Writes conversation `id` to `path` (what the Export menu items do after the file dialog).
    bool exportJson(ConversationId id, const QString& path);
    bool exportMarkdown(ConversationId id, const QString& path);
    // Adds the conversation exported in `path` and selects it; none on failure (reported).
    std::optional<ConversationId> importJson(const QString& path);

signals:
    void conversationSelected(std::optional<hearth::ConversationId> id);
    void newRequested();
    void errorOccurred(const QString& message);

private:
    void askRename();
    void showMenu(const QPoint& at);
    void askExport(bool markdown);
    void askImport();
    bool writeFile(const QString& path, const std::string& text);
    void fail(const QString& message);

    ConversationStore* m_store = nullptr;
    QLineEdit* m_search = nullptr;
    QListWidget* m_list = nullptr;
    std::function<bool(const QString&)> m_confirm;
    bool m_refreshing = false;
    bool m_interactive = false;  // a menu action is running: failures are also shown in a box
};

}  // namespace hearth::gui
