// Simplified Chinese: the compiled .qm is in the app's resources and a window made after
// installTranslation() speaks Chinese (and English again after switching back); every message in
// resources/translations/hearth_zh_CN.ts is translated with its placeholders and accelerators;
// and lupdate over gui/ finds no string the .ts lacks, so a tr() added without a translation
// fails here. Expected texts are written out, not taken from the translator under test.
#include <QApplication>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QLibraryInfo>
#include <QProcess>
#include <QPushButton>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>

#include "api_panel.h"
#include "app_setup.h"
#include "lora_panel.h"
#include "main_window.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

const QString kTsPath = QStringLiteral(HEARTH_SOURCE_DIR "/resources/translations/hearth_zh_CN.ts");

QApplication& application()
{
    return *static_cast<QApplication*>(QCoreApplication::instance());
}

LibraryScanOptions noLibrary()
{
    LibraryScanOptions options;
    options.includeHfCache = false;
    return options;
}

// %1..%99 and %n, as a set: a translation may reorder them but must keep every one.
QSet<QString> placeholders(const QString& text)
{
    static const QRegularExpression pattern(QStringLiteral("%(\\d{1,2}|n)"));
    QSet<QString> found;
    for (const auto& match : pattern.globalMatch(text)) found.insert(match.captured(0));
    return found;
}

// A keyboard accelerator: '&' before a letter or digit ("&&" is a literal ampersand).
bool hasAccelerator(const QString& text)
{
    static const QRegularExpression pattern(QStringLiteral("(^|[^&])&[\\w]"));
    return pattern.match(text).hasMatch();
}

struct TsMessage {
    QString context;
    QString source;
    QString type;              // the translation's type attribute ("unfinished", "vanished", ...)
    QStringList translations;  // one, or one per numerus form
};

// Reads every <message> of a Qt Linguist file; `error` says what could not be read.
QList<TsMessage> readTs(const QString& path, QString* error)
{
    QList<TsMessage> messages;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot open %1").arg(path);
        return messages;
    }
    QXmlStreamReader xml(&file);
    QString context;
    TsMessage current;
    while (!xml.atEnd()) {
        xml.readNext();
        if (!xml.isStartElement()) {
            if (xml.isEndElement() && xml.name() == QLatin1String("message")) messages.append(current);
            continue;
        }
        const auto name = xml.name();
        if (name == QLatin1String("TS")) {
            if (xml.attributes().value(QStringLiteral("language")) != QLatin1String("zh_CN") ||
                xml.attributes().value(QStringLiteral("sourcelanguage")) != QLatin1String("en"))
                *error = QStringLiteral("%1: expected language zh_CN with source language en").arg(path);
        } else if (name == QLatin1String("name")) {
            context = xml.readElementText();
        } else if (name == QLatin1String("message")) {
            current = TsMessage{context, {}, {}, {}};
        } else if (name == QLatin1String("source")) {
            current.source = xml.readElementText();
        } else if (name == QLatin1String("translation")) {
            current.type = xml.attributes().value(QStringLiteral("type")).toString();
            // Either text or <numerusform> children; IncludeChildElements would flatten those.
            QString text;
            while (!xml.atEnd()) {
                xml.readNext();
                if (xml.isCharacters()) text += xml.text();
                if (xml.isStartElement() && xml.name() == QLatin1String("numerusform"))
                    current.translations.append(xml.readElementText());
                if (xml.isEndElement() && xml.name() == QLatin1String("translation")) break;
            }
            if (current.translations.isEmpty()) current.translations.append(text);
        }
    }
    if (xml.hasError()) *error = QStringLiteral("%1: %2 at line %3").arg(path, xml.errorString()).arg(xml.lineNumber());
    return messages;
}

// What is wrong with the translations in `path`, one line per message; empty when all is well.
QStringList translationProblems(const QString& path)
{
    QString error;
    const QList<TsMessage> messages = readTs(path, &error);
    QStringList problems;
    if (!error.isEmpty()) problems << error;
    if (messages.isEmpty()) problems << QStringLiteral("%1 holds no messages").arg(path);
    for (const TsMessage& m : messages) {
        if (m.type == QLatin1String("vanished") || m.type == QLatin1String("obsolete")) continue;
        const QString where = QStringLiteral("[%1] \"%2\"").arg(m.context, m.source);
        if (m.type == QLatin1String("unfinished")) {
            problems << where + QStringLiteral(": unfinished");
            continue;
        }
        for (const QString& translation : m.translations) {
            if (translation.trimmed().isEmpty()) {
                problems << where + QStringLiteral(": empty translation");
                continue;
            }
            if (placeholders(translation) != placeholders(m.source))
                problems << where + QStringLiteral(": placeholders differ in \"%1\"").arg(translation);
            if (hasAccelerator(m.source) && !hasAccelerator(translation))
                problems << where + QStringLiteral(": keyboard accelerator lost in \"%1\"").arg(translation);
        }
    }
    return problems;
}

QString findLupdate()
{
    const QStringList dirs{QLibraryInfo::path(QLibraryInfo::BinariesPath),
                           QLibraryInfo::path(QLibraryInfo::LibraryExecutablesPath), QStringLiteral("/usr/lib/qt6/bin")};
    for (const QString& name : {QStringLiteral("lupdate-qt6"), QStringLiteral("lupdate")}) {
        const QString found = QStandardPaths::findExecutable(name, dirs);
        if (!found.isEmpty()) return found;
    }
    return {};
}

QTabWidget* tabsHolding(QWidget* window, QWidget* page)
{
    for (QTabWidget* tabs : window->findChildren<QTabWidget*>())
        if (tabs->indexOf(page) >= 0) return tabs;
    return nullptr;
}

}  // namespace

class TestTranslation : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { installTranslation(application(), QStringLiteral("en")); }

    void qmIsBuiltIn()
    {
        QCOMPARE(installTranslation(application(), QStringLiteral("zh_CN")), QStringLiteral("zh_CN"));
        QVERIFY(QFile::exists(QStringLiteral(":/i18n/hearth_zh_CN.qm")));
        QCOMPARE(QCoreApplication::translate("hearth::gui::ChatView", "Send"), QStringLiteral("发送"));
        QCOMPARE(QCoreApplication::translate("hearth::gui::MessageWidget", "Regenerate"), QStringLiteral("重新生成"));
        // Standard dialog buttons too, with or without Qt's own translations on the system.
        {
            QDialogButtonBox buttons(QDialogButtonBox::Close | QDialogButtonBox::Cancel);
            QCOMPARE(buttons.button(QDialogButtonBox::Close)->text(), QStringLiteral("关闭"));
            QCOMPARE(buttons.button(QDialogButtonBox::Cancel)->text(), QStringLiteral("取消"));
        }
        // Back to English: the source texts again.
        QCOMPARE(installTranslation(application(), QStringLiteral("en")), QStringLiteral("en"));
        QCOMPARE(QCoreApplication::translate("hearth::gui::ChatView", "Send"), QStringLiteral("Send"));
        // A language without a translation falls back to English rather than failing.
        QCOMPARE(installTranslation(application(), QStringLiteral("fr_FR")), QStringLiteral("en"));
    }

    void windowSpeaksTheChosenLanguage_data()
    {
        QTest::addColumn<QString>("language");
        QTest::addColumn<QString>("send");
        QTest::addColumn<QString>("apiTab");
        QTest::addColumn<QString>("loraTab");
        QTest::newRow("zh_CN") << QStringLiteral("zh_CN") << QStringLiteral("发送") << QStringLiteral("本地 API")
                               << QStringLiteral("LoRA");
        QTest::newRow("en") << QStringLiteral("en") << QStringLiteral("Send") << QStringLiteral("Local API")
                            << QStringLiteral("LoRA");
    }

    void windowSpeaksTheChosenLanguage()
    {
        QFETCH(QString, language);
        QFETCH(QString, send);
        QFETCH(QString, apiTab);
        QFETCH(QString, loraTab);
        QCOMPARE(installTranslation(application(), language), language);
        QTemporaryDir dir;
        MainWindow window(noLibrary(), nullptr, {}, dir.filePath(QStringLiteral("chat.sqlite3")));
        window.show();
        window.startBackgroundWork();
        QTRY_VERIFY(window.findChild<QPushButton*>(QStringLiteral("sendButton")));
        QCOMPARE(window.findChild<QPushButton*>(QStringLiteral("sendButton"))->text(), send);
        QTabWidget* tabs = tabsHolding(&window, window.apiPanel());
        QVERIFY(tabs);
        QCOMPARE(tabs->tabText(tabs->indexOf(window.apiPanel())), apiTab);
        // Technical names stay as they are.
        QCOMPARE(tabs->tabText(tabs->indexOf(window.loraPanel())), loraTab);
    }

    void everyMessageIsTranslated()
    {
        const QStringList problems = translationProblems(kTsPath);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
    }

    // The checker itself must notice what it is there to notice.
    void checkerFindsMistakes_data()
    {
        QTest::addColumn<QString>("message");
        QTest::addColumn<QString>("problem");
        QTest::newRow("unfinished") << QStringLiteral("<source>Send</source><translation type=\"unfinished\"></translation>")
                                    << QStringLiteral("unfinished");
        QTest::newRow("empty") << QStringLiteral("<source>Send</source><translation></translation>")
                               << QStringLiteral("empty translation");
        QTest::newRow("lost placeholder") << QStringLiteral("<source>Loading %1…</source><translation>正在加载…</translation>")
                                          << QStringLiteral("placeholders differ");
        QTest::newRow("extra placeholder") << QStringLiteral("<source>Ready</source><translation>就绪 %1</translation>")
                                           << QStringLiteral("placeholders differ");
        QTest::newRow("lost accelerator") << QStringLiteral("<source>&amp;File</source><translation>文件</translation>")
                                          << QStringLiteral("accelerator lost");
        QTest::newRow("empty numerus") << QStringLiteral("<source>%n model(s)</source><translation><numerusform></numerusform></translation>")
                                       << QStringLiteral("empty translation");
        QTest::newRow("fine") << QStringLiteral("<source>&amp;File %1</source><translation>文件(&amp;F) %1</translation>")
                              << QString();
    }

    void checkerFindsMistakes()
    {
        QFETCH(QString, message);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("t.ts"));
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QStringLiteral("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE TS>\n"
                                  "<TS version=\"2.1\" language=\"zh_CN\" sourcelanguage=\"en\"><context><name>C</name>"
                                  "<message>%1</message></context></TS>\n")
                       .arg(message)
                       .toUtf8());
        file.close();
        const QStringList problems = translationProblems(path);
        if (problem.isEmpty()) {
            QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
        } else {
            QCOMPARE(problems.size(), 1);
            QVERIFY2(problems.first().contains(problem), qPrintable(problems.first()));
        }
    }

    // lupdate over gui/ into a copy of the .ts: a tr() string the .ts lacks arrives unfinished.
    void sourcesHaveNoUntranslatedStrings()
    {
        const QString lupdate = findLupdate();
        if (lupdate.isEmpty()) QSKIP("lupdate not found (Debian: qt6-l10n-tools)");
        QTemporaryDir dir;
        const QString copy = dir.filePath(QStringLiteral("hearth_zh_CN.ts"));
        QVERIFY(QFile::copy(kTsPath, copy));
        QFile::setPermissions(copy, QFile::ReadOwner | QFile::WriteOwner);
        QProcess run;
        run.setProcessChannelMode(QProcess::MergedChannels);
        // The same options as the hearth_lupdate target (gui/CMakeLists.txt).
        run.start(lupdate, {QStringLiteral("-silent"), QStringLiteral("-no-obsolete"), QStringLiteral("-locations"),
                            QStringLiteral("none"), QStringLiteral("-source-language"), QStringLiteral("en"),
                            QStringLiteral("-extensions"), QStringLiteral("cpp,h"),
                            QStringLiteral(HEARTH_SOURCE_DIR "/gui"), QStringLiteral("-ts"), copy});
        QVERIFY(run.waitForFinished(120000));
        QVERIFY2(run.exitCode() == 0, run.readAll().constData());
        const QStringList problems = translationProblems(copy);
        QVERIFY2(problems.isEmpty(),
                 qPrintable(QStringLiteral("strings in gui/ without a translation (run the hearth_lupdate target, "
                                           "then translate them in resources/translations/hearth_zh_CN.ts):\n") +
                            problems.join(QLatin1Char('\n'))));
    }
};

QTEST_MAIN(TestTranslation)
#include "tst_translation.moc"
