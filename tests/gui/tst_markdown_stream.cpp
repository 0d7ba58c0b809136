// The incremental Markdown renderer used while a reply streams: fed a reply in pieces of many
// sizes, it must end with the same document as one QTextDocument::setMarkdown of the whole text
// (same plain text, same headings, code blocks and list items), while parsing only the recent
// part on each update (most of a long reply becomes "stable" and is not parsed again).
#include <QElapsedTimer>
#include <QTextBlock>
#include <QTextDocument>
#include <QTextList>
#include <QtTest>

#include "markdown_stream.h"

using hearth::gui::MarkdownStream;

namespace {

const char* kReply =
    "# Sorting in Python\n\n"
    "Here is a **short** answer with `inline code`.\n\n"
    "## Steps\n\n"
    "1. Read the list\n"
    "2. Sort it\n\n"
    "3. Print it, after a blank line inside the list\n\n"
    "- a bullet\n"
    "- another bullet\n\n"
    "  an indented continuation of the bullet\n\n"
    "```python\n"
    "def f(xs):\n"
    "\n"
    "    return sorted(xs)\n"
    "```\n\n"
    "- a step with code:\n\n"
    "  ```sh\n"
    "  ls -la\n"
    "  ```\n\n"
    "> a quote\n\n"
    "> that goes on\n\n"
    "| a | b |\n"
    "|---|---|\n"
    "| 1 | 2 |\n\n"
    "~~~\n"
    "plain fence with ``` inside\n"
    "~~~\n\n"
    "Done. *Thanks* for asking.\n";

struct Shape {
    QString plain;
    QList<int> headingLevels;
    int codeBlocks = 0;
    int listItems = 0;
};

Shape shapeOf(const QTextDocument& document)
{
    Shape shape;
    shape.plain = document.toPlainText().trimmed();
    for (QTextBlock block = document.begin(); block.isValid(); block = block.next()) {
        if (block.blockFormat().headingLevel() > 0) shape.headingLevels << block.blockFormat().headingLevel();
        if (block.blockFormat().hasProperty(QTextFormat::BlockCodeFence)) ++shape.codeBlocks;
        if (block.textList()) ++shape.listItems;
    }
    return shape;
}

}  // namespace

class TestMarkdownStream : public QObject {
    Q_OBJECT

private slots:
    void piecesGiveTheSameDocumentAsOneParse_data()
    {
        QTest::addColumn<int>("pieceChars");
        for (int n : {1, 2, 3, 7, 13, 64, 100000}) QTest::newRow(qPrintable(QString::number(n))) << n;
    }
    void piecesGiveTheSameDocumentAsOneParse()
    {
        QFETCH(int, pieceChars);
        const QString text = QString::fromUtf8(kReply);
        QTextDocument whole;
        whole.setMarkdown(text);
        const Shape expected = shapeOf(whole);
        QCOMPARE(expected.headingLevels, (QList<int>{1, 2}));  // the reference parse is what we think

        QTextDocument streamed;
        MarkdownStream stream(&streamed, {});
        QString shown;
        for (qsizetype at = 0; at < text.size(); at += pieceChars) {
            shown += text.mid(at, pieceChars);
            stream.update(shown);
        }
        const Shape got = shapeOf(streamed);
        QCOMPARE(got.plain, expected.plain);
        QCOMPARE(got.headingLevels, expected.headingLevels);
        QCOMPARE(got.codeBlocks, expected.codeBlocks);
        QCOMPARE(got.listItems, expected.listItems);
        QVERIFY2(stream.stableChars() > text.size() / 2, qPrintable(QString::number(stream.stableChars())));
    }

    void cutsAvoidFencesListsAndQuotes_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("stableText");  // what may be fixed before the last paragraph
        // Only complete lines are judged: the cut before "three" waits for its newline.
        QTest::newRow("paragraphs") << QStringLiteral("one\n\ntwo\n\nthree") << QStringLiteral("one\n\n");
        QTest::newRow("complete lines") << QStringLiteral("one\n\ntwo\n\nthree\n") << QStringLiteral("one\n\ntwo\n\n");
        QTest::newRow("inside a fence") << QStringLiteral("```\na\n\nb\n") << QString();
        QTest::newRow("after a fence") << QStringLiteral("```\na\n\nb\n```\n\nnext\nmore")
                                       << QStringLiteral("```\na\n\nb\n```\n\n");
        QTest::newRow("list item") << QStringLiteral("intro\n\n1. a\n\n2. b\n") << QString();
        QTest::newRow("after a list") << QStringLiteral("- a\n- b\n\nafter\nmore\n") << QStringLiteral("- a\n- b\n\n");
        QTest::newRow("fence in a list item") << QStringLiteral("- item\n\n  ```\n  code\n  ```\n") << QString();
        QTest::newRow("quote") << QStringLiteral("> a\n\n> b\n") << QString();
        QTest::newRow("line not finished") << QStringLiteral("one\n\ntw") << QString();
    }
    void cutsAvoidFencesListsAndQuotes()
    {
        QFETCH(QString, text);
        QFETCH(QString, stableText);
        MarkdownStream::ScanState state;
        const qsizetype cut = MarkdownStream::lastSafeCut(text, 0, state);
        QCOMPARE(text.left(cut), stableText);
    }

    void longReplyParsesOnlyItsTail()
    {
        QString text;
        for (int i = 0; i < 400; ++i)
            text += QStringLiteral("Paragraph %1 with some **bold** words and `code` in it.\n\n").arg(i);
        QTextDocument streamed;
        MarkdownStream stream(&streamed, {});
        stream.update(text);
        QElapsedTimer timer;
        timer.start();
        for (int i = 0; i < 200; ++i) {
            text += QStringLiteral("word ");
            stream.update(text);
        }
        const qint64 incrementalMs = timer.restart();
        QTextDocument whole;
        for (int i = 0; i < 20; ++i) whole.setMarkdown(text);
        const qint64 fullMs = timer.elapsed() * 10;  // the same 200 updates parsed whole
        qInfo("200 updates of a %lld-character reply: %lld ms incremental, about %lld ms whole",
              static_cast<long long>(text.size()), static_cast<long long>(incrementalMs), static_cast<long long>(fullMs));
        QVERIFY(stream.stableChars() > text.size() - 2000);
        QVERIFY2(incrementalMs * 4 < fullMs, qPrintable(QStringLiteral("%1 vs %2").arg(incrementalMs).arg(fullMs)));
        QCOMPARE(streamed.toPlainText().trimmed(), whole.toPlainText().trimmed());
    }

    void anEditedTextStartsOver()
    {
        QTextDocument streamed;
        MarkdownStream stream(&streamed, {});
        stream.update(QStringLiteral("first\n\nsecond\n\nthird"));
        stream.update(QStringLiteral("other\n\ntext"));
        QCOMPARE(streamed.toPlainText().trimmed(), QStringLiteral("other\ntext"));
    }
};

QTEST_MAIN(TestMarkdownStream)
#include "tst_markdown_stream.moc"
