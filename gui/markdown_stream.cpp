#include "markdown_stream.h"

#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QTextDocumentFragment>

namespace hearth::gui {

namespace {

// The fence marker (``` or ~~~, possibly longer) a line opens or closes, empty if none.
QString fenceMarker(QStringView line)
{
    qsizetype i = 0;
    while (i < line.size() && i < 3 && line[i] == QLatin1Char(' ')) ++i;
    if (i >= line.size() || (line[i] != QLatin1Char('`') && line[i] != QLatin1Char('~'))) return {};
    const QChar c = line[i];
    qsizetype n = 0;
    while (i + n < line.size() && line[i + n] == c) ++n;
    return n >= 3 ? QString(n, c) : QString();
}

// Whether a block starting with `line` could continue the block before a blank line (a list
// item, an indented or quoted line, a table row) and so must not start a separately parsed piece.
bool continuesBlock(QStringView line)
{
    if (line.isEmpty()) return true;
    const QChar c = line[0];
    if (c.isSpace() || c == QLatin1Char('>') || c == QLatin1Char('|')) return true;
    if ((c == QLatin1Char('-') || c == QLatin1Char('*') || c == QLatin1Char('+')) &&
        (line.size() == 1 || line[1] == QLatin1Char(' ')))
        return true;
    qsizetype digits = 0;
    while (digits < line.size() && line[digits].isDigit()) ++digits;
    return digits > 0 && digits < line.size() && (line[digits] == QLatin1Char('.') || line[digits] == QLatin1Char(')'));
}

}  // namespace

MarkdownStream::MarkdownStream(QTextDocument* document, std::function<void(QTextDocument&)> decorate)
    : m_document(document), m_decorate(std::move(decorate))
{
}

qsizetype MarkdownStream::lastSafeCut(const QString& text, qsizetype from, ScanState& state)
{
    qsizetype cut = from;
    // Only complete lines are judged, so a line still streaming is looked at again next time.
    for (qsizetype end; (end = text.indexOf(QLatin1Char('\n'), state.scannedTo)) >= 0; state.scannedTo = end + 1) {
        const qsizetype pos = state.scannedTo;
        const QStringView line = QStringView(text).mid(pos, end - pos);
        const QString marker = fenceMarker(line);
        const bool blank = line.trimmed().isEmpty();
        if (!state.fence.isEmpty()) {
            if (!marker.isEmpty() && marker[0] == state.fence[0] && marker.size() >= state.fence.size() &&
                line.trimmed().size() == marker.size())
                state.fence.clear();
        } else if (!marker.isEmpty()) {
            // An indented fence may belong to a list item above it.
            if (state.previousBlank && pos > from && !line[0].isSpace()) cut = pos;
            state.fence = marker;
        } else if (state.previousBlank && !blank && pos > from && !continuesBlock(line)) {
            cut = pos;
        }
        state.previousBlank = state.fence.isEmpty() && marker.isEmpty() && blank;
    }
    return cut;
}

void MarkdownStream::reset()
{
    m_document->clear();
    m_shown.clear();
    m_stableChars = 0;
    m_scan = {};
    m_tailPos = 0;
}

void MarkdownStream::update(const QString& text)
{
    if (!text.startsWith(m_shown)) reset();
    const qsizetype cut = lastSafeCut(text, m_stableChars, m_scan);
    if (cut > m_stableChars) {
        // The new stable piece goes where the tail was; the tail then starts in a new block after it.
        replaceTail(text.mid(m_stableChars, cut - m_stableChars));
        QTextCursor cursor(m_document);
        cursor.movePosition(QTextCursor::End);
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat());
        m_tailPos = cursor.position();
        m_stableChars = cut;
    }
    replaceTail(text.mid(m_stableChars));
    m_shown = text;
}

void MarkdownStream::replaceTail(const QString& markdown)
{
    QTextDocument piece;
    piece.setDefaultFont(m_document->defaultFont());
    piece.setMarkdown(markdown);
    if (m_decorate) m_decorate(piece);
    QTextCursor cursor(m_document);
    cursor.beginEditBlock();
    cursor.setPosition(m_tailPos);
    cursor.movePosition(QTextCursor::End, QTextCursor::KeepAnchor);
    cursor.removeSelectedText();
    // The piece's first block joins the block at the cursor, which takes that block's format
    // (a heading, a code block) but not a list membership, which is why no cut starts a list item.
    QTextBlockFormat first = piece.begin().blockFormat();
    first.clearProperty(QTextFormat::ObjectIndex);
    cursor.setBlockFormat(first);
    cursor.setBlockCharFormat(piece.begin().charFormat());
    cursor.insertFragment(QTextDocumentFragment(&piece));
    cursor.endEditBlock();
}

}  // namespace hearth::gui
