// One message in the chat view: role and state, the text rendered as Markdown (code blocks in
// monospace, each with a copy button), per-reply stats and actions (copy, delete, regenerate on
// replies, edit in place on the user's messages, and "‹ 2/3 ›" to switch between alternatives).
// A streaming reply appends deltas to its own document only, so a long conversation is never
// re-rendered per delta.
#pragma once

#include <QFrame>
#include <QPlainTextEdit>
#include <QString>

#include <memory>

#include "store/conversation_store.h"

class QLabel;
class QTextBrowser;
class QHBoxLayout;
class QPushButton;
class QTextDocument;
class QTimer;
class QToolButton;

namespace hearth::gui {

class MarkdownStream;

// The in-place editor of a user message: Ctrl+Enter saves and sends, Esc cancels (both taken
// before the window's shortcuts, which would otherwise send the chat input or stop a reply).
class MessageEditor : public QPlainTextEdit {
    Q_OBJECT

public:
    explicit MessageEditor(QWidget* parent = nullptr);

signals:
    void saveRequested();
    void cancelRequested();

protected:
    bool event(QEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
};

class MessageWidget : public QFrame {
    Q_OBJECT

public:
    explicit MessageWidget(const Message& message, QWidget* parent = nullptr);
    ~MessageWidget() override;

    MessageId messageId() const { return m_message.id; }
    const QString& text() const { return m_text; }
    // Adds streamed text; the Markdown is re-rendered later, at most every 33 ms and less often
    // as the reply grows (never once per delta).
    void appendText(const QString& delta);
    // How many times the Markdown was rendered (tests check the throttling).
    int renderCount() const { return m_renderCount; }
    // Replaces the whole message (state, stats, final text) once it is stored.
    void setMessage(const Message& message);
    // The fenced code blocks of `markdown`, without their fences (what the copy buttons copy).
    static QStringList codeBlocks(const QString& markdown);
    // While a reply streams, edit, regenerate and switching alternatives are unavailable.
    void setBusy(bool busy);
    // Turns the text into an editor with Save & send / Cancel (user messages only).
    void startEditing();
    void cancelEditing();
    bool isEditing() const;
    const Message& message() const { return m_message; }

signals:
    void regenerateRequested(hearth::MessageId id);
    void deleteRequested(hearth::MessageId id);
    void editSubmitted(hearth::MessageId id, const QString& text);
    // Show the alternative `step` places away (-1 older, +1 newer).
    void alternativeRequested(hearth::MessageId id, int step);

private:
    void saveEdit();
    void copyAll();
    void updateActions();
    void render();
    void decorateCode(QTextDocument& document) const;
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
    QPushButton* m_edit = nullptr;
    QPushButton* m_copy = nullptr;
    QToolButton* m_previous = nullptr;
    QLabel* m_alternative = nullptr;
    QToolButton* m_next = nullptr;
    QWidget* m_editPane = nullptr;
    MessageEditor* m_editor = nullptr;
    bool m_busy = false;
    QTimer* m_renderTimer = nullptr;
    std::unique_ptr<MarkdownStream> m_stream;  // parses only the text that changed
    int m_codeButtonCount = 0;
    int m_renderCount = 0;
    qint64 m_lastRenderMs = 0;  // what the last render took: sets the pause before the next
};

// "42 tokens · TTFT 120 ms · 35.1 tok/s · 12 of 80 prompt tokens cached"
QString formatReplyStats(const ReplyStats& stats);

}  // namespace hearth::gui
