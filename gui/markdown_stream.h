// Renders a growing Markdown text into a QTextDocument without parsing the whole text again on
// every update: the text is cut at blank lines outside code fences where the next line does not
// continue a list, quote, table or indented block; everything before the last such cut is parsed
// once and kept ("stable"), and only the text after it (the tail) is parsed again next time. A
// 20k-token reply thus costs each render about the size of its last paragraphs, not of the reply.
#pragma once

#include <QString>

#include <functional>

class QTextDocument;

namespace hearth::gui {

class MarkdownStream {
public:
    // `decorate` is applied to each freshly parsed piece before it joins `document` (e.g. code
    // blocks in monospace). `document` is not owned.
    MarkdownStream(QTextDocument* document, std::function<void(QTextDocument&)> decorate);

    // Shows `text`: incrementally when it extends the text shown last, from scratch otherwise.
    void update(const QString& text);
    // How many characters of the text are parsed and fixed (tests and the render cost).
    qsizetype stableChars() const { return m_stableChars; }

    // What the cut search knows about the text scanned so far, kept between calls.
    struct ScanState {
        qsizetype scannedTo = 0;     // complete lines before this were scanned
        QString fence;               // the code-fence marker open there, empty outside a fence
        bool previousBlank = false;  // the last scanned line was blank (outside a fence)
    };
    // The latest place after `from` where `text` may be cut: the start of a line after a blank
    // line, outside code fences, that begins a new independent block; `from` if none.
    static qsizetype lastSafeCut(const QString& text, qsizetype from, ScanState& state);

private:
    void reset();
    // Replaces everything from m_tailPos to the end with `markdown`, rendered.
    void replaceTail(const QString& markdown);

    QTextDocument* m_document;
    std::function<void(QTextDocument&)> m_decorate;
    QString m_shown;            // the text shown now
    qsizetype m_stableChars = 0;
    ScanState m_scan;
    int m_tailPos = 0;          // where the tail starts in the document
};

}  // namespace hearth::gui
