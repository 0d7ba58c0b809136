// The conversation pane: one MessageWidget per message of the active branch in a scroll area,
// a streaming reply updated in place, and the input box (Enter or Ctrl+Enter sends, Shift+Enter
// adds a line) that works while the model loads; Esc stops a running reply from anywhere in the
// window. All actions go through the ChatController; deleting a message that has later messages
// asks first.
#pragma once

#include <QPlainTextEdit>
#include <QWidget>

#include <map>
#include <vector>

#include "store/conversation_store.h"

class QPushButton;
class QShortcut;
class QScrollArea;
class QVBoxLayout;
class QLabel;

namespace hearth::gui {

class ChatController;
class MessageWidget;

// Enter sends, Shift+Enter inserts a newline.
class ChatInput : public QPlainTextEdit {
    Q_OBJECT

public:
    explicit ChatInput(QWidget* parent = nullptr);

signals:
    void sendRequested();

protected:
    void keyPressEvent(QKeyEvent* event) override;
};

class ChatView : public QWidget {
    Q_OBJECT

public:
    explicit ChatView(ChatController* controller, QWidget* parent = nullptr);

    // Shows the current conversation of the controller again from the store.
    void reload();
    ChatInput* input() const { return m_input; }
    MessageWidget* messageWidget(MessageId id) const;
    QList<MessageWidget*> messageWidgets() const;
    // Deletes message `id`, asking first when messages after it would go too.
    void deleteMessage(MessageId id);

private:
    void send();
    void editSettings();
    void onDelta(MessageId reply, const QString& text);
    void onGeneratingChanged();
    void scrollToEnd();

    ChatController* m_controller;
    QLabel* m_title = nullptr;
    QScrollArea* m_scroll = nullptr;
    QWidget* m_list = nullptr;
    QVBoxLayout* m_listLayout = nullptr;
    ChatInput* m_input = nullptr;
    QPushButton* m_send = nullptr;
    QPushButton* m_stop = nullptr;
    QPushButton* m_settings = nullptr;
    QShortcut* m_sendShortcut = nullptr;
    QShortcut* m_sendKeypadShortcut = nullptr;
    QShortcut* m_stopShortcut = nullptr;
    std::map<MessageId, MessageWidget*> m_widgets;
    std::vector<MessageId> m_order;  // the active branch as shown, root first
};

}  // namespace hearth::gui
