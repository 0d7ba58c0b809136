// One message in the chat view: role and state, the text rendered as Markdown (code blocks in
// monospace, each with a copy button), per-reply stats and actions. A streaming reply appends
// deltas to its own document only, so a long conversation is never re-rendered per delta.
#pragma once

#include <QFrame>
#include <QString>

#include "store/conversation_store.h"

class QLabel;
class QTextBrowser;
class QHBoxLayout;
class QPushButton;
class QTimer;

namespace hearth::gui {

class MessageWidget : public QFrame {
    Q_OBJECT

public:
    explicit MessageWidget(const Message& message, QWidget* parent = nullptr);

    MessageId messageId() const { return m_message.id; }
    const QString& text() const { return m_text; }
    // Adds streamed text; the Markdown is re-rendered at most every 33 ms (less often when long).
    void appendText(const QString& delta);
    // Replaces the whole message (state, stats, final text) once it is stored.
    void setMessage(const Message& message);
    // The fenced code blocks of `markdown`, without their fences (what the copy buttons copy).
    static QStringList codeBlocks(const QString& markdown);

signals:
    void regenerateRequested(hearth::MessageId id);
    void deleteRequested(hearth::MessageId id);

private:
    void render();
    void updateHeader();
    void updateCodeButtons();
    void fitHeight();
    void resizeEvent(QResizeEvent* event) override;

    Message m_message;
    QString m_text;
    QLabel* m_header = nullptr;
    QTextBrowser* m_body = nullptr;
    QLabel* m_stats = nullptr;
    QHBoxLayout* m_codeButtons = nullptr;
    QPushButton* m_regenerate = nullptr;
    QTimer* m_renderTimer = nullptr;
    int m_codeButtonCount = 0;
};

// "42 tokens · TTFT 120 ms · 35.1 tok/s · 12 of 80 prompt tokens cached"
QString formatReplyStats(const ReplyStats& stats);

}  // namespace hearth::gui
