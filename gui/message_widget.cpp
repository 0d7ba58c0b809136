#include "message_widget.h"

#include "markdown_stream.h"

#include <algorithm>

#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QClipboard>
#include <QElapsedTimer>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QPushButton>
#include <QRegularExpression>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextCursor>
#include <QTextDocument>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace hearth::gui {

QString formatReplyStats(const ReplyStats& stats)
{
    QStringList parts;
    if (stats.generatedTokens) parts << QObject::tr("%1 tokens").arg(*stats.generatedTokens);
    if (stats.ttftMs) parts << QObject::tr("TTFT %1 ms").arg(*stats.ttftMs, 0, 'f', 0);
    if (stats.tokensPerS) parts << QObject::tr("%1 tok/s").arg(*stats.tokensPerS, 0, 'f', 1);
    if (stats.promptTokens) {
        const qint64 cached = stats.cachedTokens.value_or(0);
        parts << (cached > 0 ? QObject::tr("%1 of %2 prompt tokens cached").arg(cached).arg(*stats.promptTokens)
                             : QObject::tr("prompt %1 tokens, none cached").arg(*stats.promptTokens));
    }
    return parts.join(QStringLiteral(" · "));
}

MessageEditor::MessageEditor(QWidget* parent) : QPlainTextEdit(parent)
{
    setObjectName(QStringLiteral("messageEditor"));
    setToolTip(tr("Ctrl+Enter: save and send · Esc: cancel"));
}

bool MessageEditor::event(QEvent* event)
{
    if (event->type() == QEvent::ShortcutOverride) {
        const auto* key = static_cast<QKeyEvent*>(event);
        const bool enter = key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter;
        if (key->key() == Qt::Key_Escape || (enter && (key->modifiers() & Qt::ControlModifier))) {
            event->accept();
            return true;
        }
    }
    return QPlainTextEdit::event(event);
}

void MessageEditor::keyPressEvent(QKeyEvent* event)
{
    const bool enter = event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter;
    if (enter && (event->modifiers() & Qt::ControlModifier)) {
        emit saveRequested();
        return;
    }
    if (event->key() == Qt::Key_Escape) {
        emit cancelRequested();
        return;
    }
    QPlainTextEdit::keyPressEvent(event);
}

namespace {

QPushButton* actionButton(const QString& text, const char* name, const QString& tooltip, QWidget* parent)
{
    auto* button = new QPushButton(text, parent);
    button->setObjectName(QString::fromLatin1(name));
    button->setFlat(true);
    button->setToolTip(tooltip);
    return button;
}

}  // namespace

MessageWidget::MessageWidget(const Message& message, QWidget* parent) : QFrame(parent), m_message(message)
{
    setObjectName(QStringLiteral("message"));
    setFrameShape(QFrame::StyledPanel);
    const bool isUser = message.role == MessageRole::User;
    setStyleSheet(isUser ? QStringLiteral("#message { background: palette(alternate-base); border-radius: 6px; }")
                         : QStringLiteral("#message { border-radius: 6px; }"));

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(10, 6, 10, 6);
    auto* top = new QHBoxLayout;
    m_header = new QLabel(this);
    m_header->setObjectName(QStringLiteral("messageHeader"));
    top->addWidget(m_header, 1);

    // "‹ 2/3 ›": the alternatives made by edit-and-resend or regenerate.
    m_previous = new QToolButton(this);
    m_previous->setObjectName(QStringLiteral("previousAlternative"));
    m_previous->setText(QStringLiteral("‹"));
    m_previous->setAutoRaise(true);
    m_previous->setToolTip(tr("Show the previous alternative"));
    m_alternative = new QLabel(this);
    m_alternative->setObjectName(QStringLiteral("alternativeIndex"));
    m_next = new QToolButton(this);
    m_next->setObjectName(QStringLiteral("nextAlternative"));
    m_next->setText(QStringLiteral("›"));
    m_next->setAutoRaise(true);
    m_next->setToolTip(tr("Show the next alternative"));
    connect(m_previous, &QToolButton::clicked, this, [this] { emit alternativeRequested(m_message.id, -1); });
    connect(m_next, &QToolButton::clicked, this, [this] { emit alternativeRequested(m_message.id, +1); });
    top->addWidget(m_previous);
    top->addWidget(m_alternative);
    top->addWidget(m_next);

    m_copy = actionButton(tr("Copy"), "copyMessage", tr("Copy the whole message"), this);
    connect(m_copy, &QPushButton::clicked, this, &MessageWidget::copyAll);
    top->addWidget(m_copy);
    if (isUser) {
        m_edit = actionButton(tr("Edit"), "editMessage", tr("Edit this message and send it again; the old "
                                                             "version and its reply stay as an alternative"), this);
        connect(m_edit, &QPushButton::clicked, this, &MessageWidget::startEditing);
        top->addWidget(m_edit);
    }
    if (message.role == MessageRole::Assistant) {
        m_regenerate = actionButton(tr("Regenerate"), "regenerateMessage",
                                    tr("Write another reply; this one stays as an alternative"), this);
        connect(m_regenerate, &QPushButton::clicked, this, [this] { emit regenerateRequested(m_message.id); });
        top->addWidget(m_regenerate);
    }
    auto* remove = actionButton(tr("Delete"), "deleteMessage", tr("Delete this message and everything after it"), this);
    connect(remove, &QPushButton::clicked, this, [this] { emit deleteRequested(m_message.id); });
    top->addWidget(remove);
    layout->addLayout(top);

    m_body = new QTextBrowser(this);
    m_body->setObjectName(QStringLiteral("messageBody"));
    m_body->setFrameShape(QFrame::NoFrame);
    m_body->setOpenExternalLinks(true);
    m_body->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_body->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_body->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_body->setMinimumWidth(60);
    m_body->viewport()->setAutoFillBackground(false);
    layout->addWidget(m_body);

    if (isUser) {
        m_editPane = new QWidget(this);
        auto* editLayout = new QVBoxLayout(m_editPane);
        editLayout->setContentsMargins(0, 0, 0, 0);
        m_editor = new MessageEditor(m_editPane);
        editLayout->addWidget(m_editor);
        auto* editButtons = new QHBoxLayout;
        editButtons->addStretch(1);
        auto* cancel = new QPushButton(tr("Cancel"), m_editPane);
        cancel->setObjectName(QStringLiteral("cancelEdit"));
        cancel->setToolTip(tr("Keep the message as it was (Esc)"));
        auto* save = new QPushButton(tr("Save && send"), m_editPane);
        save->setObjectName(QStringLiteral("saveEdit"));
        save->setToolTip(tr("Send the edited message as a new alternative (Ctrl+Enter)"));
        save->setDefault(true);
        editButtons->addWidget(cancel);
        editButtons->addWidget(save);
        editLayout->addLayout(editButtons);
        connect(save, &QPushButton::clicked, this, &MessageWidget::saveEdit);
        connect(cancel, &QPushButton::clicked, this, &MessageWidget::cancelEditing);
        connect(m_editor, &MessageEditor::saveRequested, this, &MessageWidget::saveEdit);
        connect(m_editor, &MessageEditor::cancelRequested, this, &MessageWidget::cancelEditing);
        m_editPane->setVisible(false);
        layout->addWidget(m_editPane);
    }

    m_codeButtons = new QHBoxLayout;
    m_codeButtons->addStretch(1);
    layout->addLayout(m_codeButtons);

    m_stats = new QLabel(this);
    m_stats->setObjectName(QStringLiteral("messageStats"));
    m_stats->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_stats->setWordWrap(true);
    layout->addWidget(m_stats);

    m_stream = std::make_unique<MarkdownStream>(m_body->document(),
                                                [this](QTextDocument& piece) { decorateCode(piece); });
    m_renderTimer = new QTimer(this);
    m_renderTimer->setSingleShot(true);
    connect(m_renderTimer, &QTimer::timeout, this, &MessageWidget::render);

    setMessage(message);
}

MessageWidget::~MessageWidget() = default;

void MessageWidget::setBusy(bool busy)
{
    m_busy = busy;
    updateActions();
}

void MessageWidget::startEditing()
{
    if (!m_editPane || m_busy) return;
    m_editor->setPlainText(m_text);
    m_editor->moveCursor(QTextCursor::End);
    m_body->setVisible(false);
    m_editPane->setVisible(true);
    m_editor->setFocus();
    updateActions();
}

void MessageWidget::cancelEditing()
{
    if (!m_editPane) return;
    m_editPane->setVisible(false);
    m_body->setVisible(true);
    updateActions();
}

bool MessageWidget::isEditing() const { return m_editPane && !m_editPane->isHidden(); }

void MessageWidget::saveEdit()
{
    const QString text = m_editor->toPlainText();
    if (text.trimmed().isEmpty() || m_busy) return;
    cancelEditing();
    emit editSubmitted(m_message.id, text);
}

void MessageWidget::copyAll()
{
    QApplication::clipboard()->setText(m_text);
    m_copy->setText(tr("Copied"));
    QTimer::singleShot(1500, m_copy, [copy = m_copy] { copy->setText(tr("Copy")); });
}

void MessageWidget::updateActions()
{
    const bool alternatives = m_message.siblingCount > 1;
    m_previous->setVisible(alternatives);
    m_alternative->setVisible(alternatives);
    m_next->setVisible(alternatives);
    m_alternative->setText(QStringLiteral("%1/%2").arg(m_message.siblingIndex + 1).arg(m_message.siblingCount));
    m_previous->setEnabled(!m_busy && m_message.siblingIndex > 0);
    m_next->setEnabled(!m_busy && m_message.siblingIndex + 1 < m_message.siblingCount);
    if (m_regenerate) m_regenerate->setEnabled(!m_busy && m_message.state != MessageState::Streaming);
    if (m_edit) m_edit->setEnabled(!m_busy && !isEditing());
}

void MessageWidget::setMessage(const Message& message)
{
    m_message = message;
    m_text = QString::fromStdString(message.content);
    updateHeader();
    render();
}

void MessageWidget::appendText(const QString& delta)
{
    m_text += delta;
    if (m_renderTimer->isActive()) return;
    // Re-rendering costs time in proportion to the text, so the pause before the next one grows
    // with what the last one took: a streaming reply gets at most about a fifth of the GUI
    // thread however long it grows (every 33 ms while short, at most once a second).
    m_renderTimer->start(std::clamp(static_cast<int>(4 * m_lastRenderMs), 33, 1000));
}

QStringList MessageWidget::codeBlocks(const QString& markdown)
{
    static const QRegularExpression fence(QStringLiteral("```[^\\n]*\\n(.*?)(?:```|$)"),
                                          QRegularExpression::DotMatchesEverythingOption);
    QStringList blocks;
    for (auto it = fence.globalMatch(markdown); it.hasNext();) blocks << it.next().captured(1);
    return blocks;
}

void MessageWidget::render()
{
    QElapsedTimer took;
    took.start();
    m_renderTimer->stop();
    ++m_renderCount;
    m_stream->update(m_text);
    updateCodeButtons();
    fitHeight();
    m_lastRenderMs = took.elapsed();
}

void MessageWidget::decorateCode(QTextDocument& document) const
{
    // Code in monospace and shaded, whatever the platform's Markdown importer chose.
    const QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    for (QTextBlock block = document.begin(); block.isValid(); block = block.next()) {
        if (!block.blockFormat().hasProperty(QTextFormat::BlockCodeFence) &&
            !block.blockFormat().hasProperty(QTextFormat::BlockCodeLanguage))
            continue;
        QTextCursor cursor(block);
        QTextBlockFormat shaded = block.blockFormat();
        shaded.setBackground(palette().alternateBase());
        shaded.setLeftMargin(8);
        cursor.setBlockFormat(shaded);
        cursor.movePosition(QTextCursor::EndOfBlock, QTextCursor::KeepAnchor);
        QTextCharFormat format;
        format.setFont(mono);
        cursor.mergeCharFormat(format);
    }
}

void MessageWidget::updateCodeButtons()
{
    const QStringList blocks = codeBlocks(m_text);
    while (m_codeButtonCount < blocks.size()) {
        const int index = m_codeButtonCount++;
        auto* button = new QPushButton(tr("Copy code %1").arg(index + 1), this);
        button->setObjectName(QStringLiteral("copyCode"));
        connect(button, &QPushButton::clicked, this, [this, index] {
            const QStringList now = codeBlocks(m_text);
            if (index < now.size()) QApplication::clipboard()->setText(now.at(index));
        });
        m_codeButtons->insertWidget(m_codeButtons->count() - 1, button);
    }
}

void MessageWidget::updateHeader()
{
    QString who;
    switch (m_message.role) {
    case MessageRole::User: who = tr("You"); break;
    case MessageRole::Assistant: who = tr("Assistant"); break;
    case MessageRole::System: who = tr("System"); break;
    case MessageRole::Tool: who = tr("Tool"); break;
    }
    QString state;
    switch (m_message.state) {
    case MessageState::Waiting: state = tr("waiting for the model…"); break;
    case MessageState::Streaming: state = tr("writing…"); break;
    case MessageState::Cancelled: state = tr("stopped"); break;
    case MessageState::Interrupted: state = tr("interrupted"); break;
    case MessageState::Error: state = tr("error: %1").arg(QString::fromStdString(m_message.errorMessage)); break;
    case MessageState::Complete: break;
    }
    QString header = QStringLiteral("<b>%1</b>").arg(who);
    if (!state.isEmpty()) header += QStringLiteral(" — <i>%1</i>").arg(state.toHtmlEscaped());
    m_header->setText(header);
    m_header->setProperty("messageState", QString::fromLatin1(messageStateName(m_message.state)));
    const QString stats = formatReplyStats(m_message.stats);
    m_stats->setText(stats);
    m_stats->setVisible(!stats.isEmpty());
    updateActions();
}

void MessageWidget::fitHeight()
{
    QTextDocument* doc = m_body->document();
    doc->setTextWidth(m_body->viewport()->width() > 50 ? m_body->viewport()->width() : 600);
    m_body->setFixedHeight(static_cast<int>(doc->size().height()) + 6);
}

void MessageWidget::resizeEvent(QResizeEvent* event)
{
    QFrame::resizeEvent(event);
    fitHeight();
}

}  // namespace hearth::gui
