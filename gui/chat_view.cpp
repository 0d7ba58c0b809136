#include "chat_view.h"

#include <algorithm>

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QShortcut>
#include <QTimer>
#include <QVBoxLayout>

#include "chat_controller.h"
#include "conversation_settings_dialog.h"
#include "message_widget.h"

namespace hearth::gui {

ChatInput::ChatInput(QWidget* parent) : QPlainTextEdit(parent)
{
    setObjectName(QStringLiteral("chatInput"));
    setPlaceholderText(tr("Type a message (Enter sends, Shift+Enter for a new line)"));
    setMaximumHeight(90);
}

void ChatInput::keyPressEvent(QKeyEvent* event)
{
    const bool enter = event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter;
    if (enter && !(event->modifiers() & Qt::ShiftModifier)) {
        emit sendRequested();
        return;
    }
    QPlainTextEdit::keyPressEvent(event);
}

ChatView::ChatView(ChatController* controller, QWidget* parent) : QWidget(parent), m_controller(controller)
{
    auto* layout = new QVBoxLayout(this);
    m_title = new QLabel(this);
    m_title->setObjectName(QStringLiteral("chatTitle"));
    auto* top = new QHBoxLayout;
    top->addWidget(m_title, 1);
    m_settings = new QPushButton(tr("Settings…"), this);
    m_settings->setObjectName(QStringLiteral("conversationSettings"));
    m_settings->setEnabled(false);
    top->addWidget(m_settings);
    layout->addLayout(top);

    m_scroll = new QScrollArea(this);
    m_scroll->setWidgetResizable(true);
    m_scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_list = new QWidget(m_scroll);
    m_listLayout = new QVBoxLayout(m_list);
    m_listLayout->addStretch(1);
    m_scroll->setWidget(m_list);
    layout->addWidget(m_scroll, 1);

    auto* bottom = new QHBoxLayout;
    m_input = new ChatInput(this);
    bottom->addWidget(m_input, 1);
    auto* buttons = new QVBoxLayout;
    m_send = new QPushButton(tr("Send"), this);
    m_send->setObjectName(QStringLiteral("sendButton"));
    m_send->setToolTip(tr("Send (Enter or Ctrl+Enter; Shift+Enter for a new line)"));
    m_stop = new QPushButton(tr("Stop"), this);
    m_stop->setObjectName(QStringLiteral("stopButton"));
    m_stop->setToolTip(tr("Stop the reply (Esc)"));
    m_stop->setEnabled(false);
    buttons->addWidget(m_send);
    buttons->addWidget(m_stop);
    bottom->addLayout(buttons);
    layout->addLayout(bottom);

    // Window-wide, so they work wherever the focus is (the list, a message, the buttons).
    m_sendShortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), this, this, &ChatView::send,
                                   Qt::WindowShortcut);
    m_sendShortcut->setObjectName(QStringLiteral("sendShortcut"));
    m_sendKeypadShortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Enter), this, this, &ChatView::send,
                                         Qt::WindowShortcut);
    m_stopShortcut = new QShortcut(QKeySequence(Qt::Key_Escape), this, m_controller, &ChatController::stop,
                                   Qt::WindowShortcut);
    m_stopShortcut->setObjectName(QStringLiteral("stopShortcut"));
    // Only while a reply runs, so Esc still closes popups and cancels edits elsewhere otherwise.
    m_stopShortcut->setEnabled(false);
    connect(m_input, &ChatInput::sendRequested, this, &ChatView::send);
    connect(m_send, &QPushButton::clicked, this, &ChatView::send);
    connect(m_stop, &QPushButton::clicked, m_controller, &ChatController::stop);
    connect(m_settings, &QPushButton::clicked, this, &ChatView::editSettings);
    connect(m_controller, &ChatController::conversationChanged, this, [this] { reload(); });
    connect(m_controller, &ChatController::replyDelta, this, &ChatView::onDelta);
    connect(m_controller, &ChatController::replyStarted, this, &ChatView::onGeneratingChanged);
    connect(m_controller, &ChatController::replyFinished, this, &ChatView::onGeneratingChanged);
}

void ChatView::send()
{
    const QString text = m_input->toPlainText();
    if (text.trimmed().isEmpty()) return;
    m_input->clear();
    m_controller->send(text);
}

void ChatView::reload()
{
    for (auto& [id, widget] : m_widgets) widget->deleteLater();
    m_widgets.clear();
    m_order.clear();
    const auto current = m_controller->currentConversation();
    m_settings->setEnabled(current.has_value());
    if (!current) {
        m_title->setText(tr("<b>New chat</b>"));
        return;
    }
    auto conversation = m_controller->store()->conversation(*current);
    if (!conversation) {
        m_title->setText(QString::fromStdString(conversation.error().toString()));
        return;
    }
    m_title->setText(QStringLiteral("<b>%1</b>").arg(QString::fromStdString(conversation->info.title).toHtmlEscaped()));
    for (const Message& message : conversation->messages) {
        if (message.role == MessageRole::System) continue;
        auto* widget = new MessageWidget(message, m_list);
        widget->setBusy(m_controller->isGenerating());
        connect(widget, &MessageWidget::regenerateRequested, m_controller, &ChatController::regenerate);
        connect(widget, &MessageWidget::deleteRequested, this, &ChatView::deleteMessage);
        connect(widget, &MessageWidget::editSubmitted, m_controller, &ChatController::editAndResend);
        connect(widget, &MessageWidget::alternativeRequested, m_controller, &ChatController::switchAlternative);
        m_listLayout->insertWidget(m_listLayout->count() - 1, widget);
        m_widgets[message.id] = widget;
        m_order.push_back(message.id);
    }
    scrollToEnd();
}

MessageWidget* ChatView::messageWidget(MessageId id) const
{
    auto it = m_widgets.find(id);
    return it == m_widgets.end() ? nullptr : it->second;
}

QList<MessageWidget*> ChatView::messageWidgets() const
{
    QList<MessageWidget*> widgets;
    for (const auto& [id, widget] : m_widgets) widgets << widget;
    return widgets;
}

void ChatView::deleteMessage(MessageId id)
{
    const auto at = std::find(m_order.begin(), m_order.end(), id);
    const auto later = at == m_order.end() ? 0 : std::distance(at, m_order.end()) - 1;
    if (later > 0) {
        const auto answer = QMessageBox::question(
            this, tr("Delete messages"),
            tr("Delete this message and the %n message(s) after it? Alternatives branching off after it go too.", "",
               static_cast<int>(later)),
            QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
        if (answer != QMessageBox::Yes) return;
    }
    m_controller->deleteMessage(id);
}

void ChatView::editSettings()
{
    const auto current = m_controller->currentConversation();
    if (!current) return;
    auto info = m_controller->store()->conversationInfo(*current);
    if (!info) return;
    ConversationSettingsDialog dialog(*info, this);
    if (dialog.exec() != QDialog::Accepted) return;
    Status saved = m_controller->store()->updateConversationSettings(dialog.edited());
    if (!saved) m_title->setText(QString::fromStdString(saved.error().toString()));
}

void ChatView::onDelta(MessageId reply, const QString& text)
{
    if (MessageWidget* widget = messageWidget(reply)) widget->appendText(text);
    scrollToEnd();
}

void ChatView::onGeneratingChanged()
{
    const bool generating = m_controller->isGenerating();
    m_stop->setEnabled(generating);
    m_stopShortcut->setEnabled(generating);
    for (auto& [id, widget] : m_widgets) widget->setBusy(generating);
}

void ChatView::scrollToEnd()
{
    // After the layout has taken the new height into account.
    QTimer::singleShot(0, this, [this] { m_scroll->verticalScrollBar()->setValue(m_scroll->verticalScrollBar()->maximum()); });
}

}  // namespace hearth::gui
