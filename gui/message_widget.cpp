#include "message_widget.h"

#include <algorithm>

#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QClipboard>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QRegularExpression>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextCursor>
#include <QTextDocument>
#include <QTimer>
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

    auto* copy = new QPushButton(tr("Copy"), this);
    copy->setObjectName(QStringLiteral("copyMessage"));
    copy->setFlat(true);
    connect(copy, &QPushButton::clicked, this, [this] { QApplication::clipboard()->setText(m_text); });
    top->addWidget(copy);
    if (message.role == MessageRole::Assistant) {
        m_regenerate = new QPushButton(tr("Regenerate"), this);
        m_regenerate->setObjectName(QStringLiteral("regenerateMessage"));
        m_regenerate->setFlat(true);
        connect(m_regenerate, &QPushButton::clicked, this, [this] { emit regenerateRequested(m_message.id); });
        top->addWidget(m_regenerate);
    }
    auto* remove = new QPushButton(tr("Delete"), this);
    remove->setObjectName(QStringLiteral("deleteMessage"));
    remove->setFlat(true);
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

    m_codeButtons = new QHBoxLayout;
    m_codeButtons->addStretch(1);
    layout->addLayout(m_codeButtons);

    m_stats = new QLabel(this);
    m_stats->setObjectName(QStringLiteral("messageStats"));
    m_stats->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_stats->setWordWrap(true);
    layout->addWidget(m_stats);

    m_renderTimer = new QTimer(this);
    m_renderTimer->setSingleShot(true);
    connect(m_renderTimer, &QTimer::timeout, this, &MessageWidget::render);

    setMessage(message);
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
    // Re-rendering costs time in proportion to the text: a long reply is redrawn less often
    // (33 ms up to 64 KB, then slower, at most 4 times a second) so the window stays responsive.
    if (!m_renderTimer->isActive()) m_renderTimer->start(std::clamp(static_cast<int>(m_text.size() / 2048), 33, 250));
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
    m_body->setMarkdown(m_text);
    // Code in monospace whatever the platform's Markdown importer chose.
    const QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    for (QTextBlock block = m_body->document()->begin(); block.isValid(); block = block.next()) {
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
    updateCodeButtons();
    fitHeight();
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
    if (m_message.siblingCount > 1)
        header += QStringLiteral(" <small>(%1/%2)</small>").arg(m_message.siblingIndex + 1).arg(m_message.siblingCount);
    if (!state.isEmpty()) header += QStringLiteral(" — <i>%1</i>").arg(state.toHtmlEscaped());
    m_header->setText(header);
    m_header->setProperty("messageState", QString::fromLatin1(messageStateName(m_message.state)));
    const QString stats = formatReplyStats(m_message.stats);
    m_stats->setText(stats);
    m_stats->setVisible(!stats.isEmpty());
    if (m_regenerate) m_regenerate->setEnabled(m_message.state != MessageState::Streaming);
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
