// hearth-test-labels: model
// Screenshots of the real main window, in English and in Simplified Chinese: the reference model
// (random weights, so the reply is nonsense) loaded through the real engine on the CPU, a message
// sent and answered, a LoRA adapter attached, the Local API listening; one picture per side tab,
// and the load options and settings dialogs. The PNGs go to <build>/screenshots, or to
// $HEARTH_SCREENSHOT_DIR when set (how docs/screenshots is refreshed, see its README.md). Each
// picture must be its widget's size and more than a blank fill, and the Chinese run needs a font
// with Chinese glyphs.
#include <QApplication>
#include <QDialog>
#include <QDir>
#include <QFontDatabase>
#include <QFontMetrics>
#include <QImage>
#include <QListWidget>
#include <QPushButton>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include <functional>

#include "api_panel.h"
#include "app_setup.h"
#include "chat_controller.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "engine_controller.h"
#include "lora_panel.h"
#include "main_window.h"
#include "message_widget.h"
#include "store/conversation_store.h"
#include "support/reference_models.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

QString screenshotDir()
{
    const QString fromEnv = qEnvironmentVariable("HEARTH_SCREENSHOT_DIR");
    return fromEnv.isEmpty() ? QStringLiteral(HEARTH_BINARY_DIR "/screenshots") : fromEnv;
}

// "LibraryPanel" -> "library_panel", "backendDetail" -> "backend_detail".
QString snakeCase(QString name)
{
    name.remove(QRegularExpression(QStringLiteral("^.*::")));
    QString out;
    for (qsizetype i = 0; i < name.size(); ++i) {
        if (name.at(i).isUpper() && i > 0) out += QLatin1Char('_');
        out += name.at(i).toLower();
    }
    return out;
}

// A name for a side tab that is the same in every language: the page's own Hearth class, its
// object name, or the first Hearth widget inside it.
QString pageName(QWidget* page, int index)
{
    const auto hearthClass = [](const QObject* o) {
        return QString::fromLatin1(o->metaObject()->className()).startsWith(QLatin1String("hearth::gui::"));
    };
    if (hearthClass(page)) return snakeCase(QString::fromLatin1(page->metaObject()->className()));
    if (!page->objectName().isEmpty()) return snakeCase(page->objectName());
    for (QWidget* child : page->findChildren<QWidget*>())
        if (hearthClass(child)) return snakeCase(QString::fromLatin1(child->metaObject()->className()));
    return QStringLiteral("tab%1").arg(index);
}

// Saves the window as it is now as <view>-<language>.png; what is wrong with the picture, or empty.
QString saveShot(QWidget& window, const QString& view, const QString& language)
{
    QCoreApplication::processEvents();
    const QImage image = window.grab().toImage();
    const QSize expected = window.size() * window.devicePixelRatioF();
    if (image.isNull() || image.size() != expected)
        return QStringLiteral("%1: grabbed %2x%3, expected %4x%5")
            .arg(view)
            .arg(image.width())
            .arg(image.height())
            .arg(expected.width())
            .arg(expected.height());
    // A blank or single-colour picture means nothing was painted: real views have text and frames.
    QSet<QRgb> colours;
    for (int y = 0; y < image.height() && colours.size() < 64; y += 3)
        for (int x = 0; x < image.width(); x += 3) colours.insert(image.pixel(x, y));
    if (colours.size() < 16) return QStringLiteral("%1: only %2 colours").arg(view).arg(colours.size());
    const QString path = QDir(screenshotDir()).filePath(QStringLiteral("%1-%2.png").arg(view, language));
    if (!image.save(path, "PNG") || QFileInfo(path).size() == 0) return QStringLiteral("cannot write %1").arg(path);
    return {};
}

// Runs `open` (which shows a modal dialog and returns when it closes), grabs the dialog once it
// is up and laid out, and rejects it; what went wrong, or empty.
QString grabModalDialog(const std::function<void()>& open, const QString& view, const QString& language)
{
    QString problem = QStringLiteral("%1: no dialog appeared").arg(view);
    int ticksSeen = 0;
    QTimer poll;
    poll.setInterval(50);
    QObject::connect(&poll, &QTimer::timeout, [&] {
        auto* dialog = qobject_cast<QDialog*>(QApplication::activeModalWidget());
        if (!dialog || ++ticksSeen < 4) return;  // a few turns for layout and first paint
        poll.stop();
        problem = saveShot(*dialog, view, language);
        dialog->reject();
    });
    poll.start();
    open();
    return problem;
}

struct SampleTexts {
    QString olderChats[2];
    QString title;
    QString prompt;
};

SampleTexts samples(const QString& language)
{
    if (language == QLatin1String("zh_CN"))
        return {{QStringLiteral("杭州三日游行程"), QStringLiteral("解释一下 LoRA 微调")}, QStringLiteral("你好"),
                QStringLiteral("你好！请用三句话介绍一下你自己。")};
    return {{QStringLiteral("Three days in Hangzhou"), QStringLiteral("What is LoRA fine-tuning?")},
            QStringLiteral("Hello"), QStringLiteral("Hello! Introduce yourself in three sentences.")};
}

}  // namespace

class TestScreenshots : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(QDir().mkpath(screenshotDir())); }

    void cleanup() { installTranslation(*qApp, QStringLiteral("en")); }

    void mainViews_data()
    {
        QTest::addColumn<QString>("language");
        QTest::newRow("en") << QStringLiteral("en");
        QTest::newRow("zh_CN") << QStringLiteral("zh_CN");
    }

    void mainViews()
    {
        QFETCH(QString, language);
        const std::string refDir = test::referenceModelsDir();
        if (refDir.empty()) QSKIP("reference models could not be generated");
        const QString models = QString::fromStdString(refDir);
        if (language == QLatin1String("zh_CN")) {
            // Without a Chinese font offscreen Qt draws boxes: the pictures would be worthless.
            const QStringList families = QFontDatabase::families(QFontDatabase::SimplifiedChinese);
            QVERIFY2(!families.isEmpty(), "no font with Chinese glyphs (Debian: fonts-noto-cjk)");
            QVERIFY(QFontMetrics(QFont(families.first())).inFontUcs4(U'发'));
        }
        QCOMPARE(installTranslation(*qApp, language), language);
        const SampleTexts text = samples(language);

        // A store with two earlier conversations and the one the picture shows (short greedy replies).
        QTemporaryDir dir;
        const QString storePath = dir.filePath(QStringLiteral("chat.sqlite3"));
        ConversationId shown{};
        {
            auto store = ConversationStore::open(storePath.toStdString());
            QVERIFY(store);
            for (const QString& title : text.olderChats) {
                NewConversation older;
                older.title = title.toStdString();
                QVERIFY((*store)->createConversation(older));
            }
            NewConversation fresh;
            fresh.title = text.title.toStdString();
            fresh.sampling.temperature = 0.0;
            fresh.sampling.maxTokens = 40;
            auto created = (*store)->createConversation(fresh);
            QVERIFY(created);
            shown = *created;
        }
        // The library: the reference models and a download that stopped half-way (listed as broken).
        const QString broken = dir.filePath(QStringLiteral("library/Qwen2.5-0.5B-Instruct-partial"));
        QVERIFY(QDir().mkpath(broken));
        QFile config(broken + QStringLiteral("/config.json"));
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.write(R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"})");
        config.close();
        QFile weights(broken + QStringLiteral("/model.safetensors"));
        QVERIFY(weights.open(QIODevice::WriteOnly));
        weights.write(QByteArray("\x00\x10\x00\x00\x00\x00\x00\x00{\"model.embed", 21));  // header cut short
        weights.close();
        LibraryScanOptions library;
        library.includeHfCache = false;
        library.folders = {refDir, dir.filePath(QStringLiteral("library")).toStdString()};

        MainWindow window(library, nullptr, {}, storePath);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.startBackgroundWork();
        QTRY_VERIFY_WITH_TIMEOUT(window.chatView() != nullptr, 10000);

        QSignalSpy ready(window.engineController(), &EngineController::ready);
        QSignalSpy failed(window.engineController(), &EngineController::loadFailed);
        window.loadModel(models + QStringLiteral("/ref-qwen2-d64"));
        QTRY_VERIFY_WITH_TIMEOUT(ready.count() + failed.count() > 0, 120000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().at(0).toString()));

        // Open the conversation as a user does: click it in the list.
        auto* list = window.conversationList()->findChild<QListWidget*>(QStringLiteral("conversationList"));
        QVERIFY(list);
        QListWidgetItem* item = nullptr;
        for (int row = 0; row < list->count(); ++row)
            if (list->item(row)->data(Qt::UserRole).toLongLong() == shown) item = list->item(row);
        QVERIFY(item);
        QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualItemRect(item).center());
        QTRY_VERIFY(window.chatController()->currentConversation() == shown);
        QSignalSpy finished(window.chatController(), &ChatController::replyFinished);
        QSignalSpy errors(window.chatController(), &ChatController::errorOccurred);
        window.chatView()->input()->setPlainText(text.prompt);
        auto* send = window.findChild<QPushButton*>(QStringLiteral("sendButton"));
        QVERIFY(send);
        QTest::mouseClick(send, Qt::LeftButton);
        QVERIFY2(finished.wait(120000), errors.isEmpty() ? "no reply" : qPrintable(errors.first().at(0).toString()));
        QTRY_COMPARE(window.chatView()->messageWidgets().size(), 2);
        QCOMPARE(window.chatView()->messageWidgets().at(0)->text(), text.prompt);
        QVERIFY(!window.chatView()->messageWidgets().at(1)->text().isEmpty());
        QTest::qWait(100);  // let the last batched delta and the stats line land
        QString problem = saveShot(window, QStringLiteral("chat"), language);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));

        // Side panels with something in them: an adapter attached and the API listening.
        QSignalSpy attached(window.engineController(), &EngineController::adapterAttached);
        QSignalSpy refused(window.engineController(), &EngineController::adapterFailed);
        window.loraPanel()->attachFolder(models + QStringLiteral("/ref-qwen2-d64-lora"));
        QTRY_VERIFY_WITH_TIMEOUT(attached.count() + refused.count() > 0, 60000);
        // A fixed port reads better in the docs; any free one when it is taken.
        if (auto* port = window.apiPanel()->findChild<QSpinBox*>(QStringLiteral("apiPort"))) port->setValue(18080);
        if (!window.apiPanel()->startServer()) {
            if (auto* port = window.apiPanel()->findChild<QSpinBox*>(QStringLiteral("apiPort"))) port->setValue(0);
            QVERIFY(window.apiPanel()->startServer());
        }

        int pictures = 1;
        QTabWidget* tabs = nullptr;
        for (QTabWidget* candidate : window.findChildren<QTabWidget*>())
            if (candidate->indexOf(window.apiPanel()) >= 0) tabs = candidate;
        QVERIFY(tabs);
        // Wider side panel for its own pictures, as a user would drag the splitter.
        QSplitter* splitter = nullptr;
        for (QSplitter* candidate : window.findChildren<QSplitter*>())
            if (candidate->indexOf(window.conversationList()) >= 0) splitter = candidate;
        if (splitter && splitter->count() == 3) splitter->setSizes({220, 460, 600});
        for (int i = 0; i < tabs->count(); ++i) {
            tabs->setCurrentIndex(i);
            QTest::qWait(50);
            problem = saveShot(window, pageName(tabs->widget(i), i), language);
            QVERIFY2(problem.isEmpty(), qPrintable(problem));
            ++pictures;
        }
        QVERIFY(pictures >= 4);  // the chat, the library, LoRA and the Local API at least

        // The dialogs: load options (with the memory estimate) for the model in use, and settings.
        problem = grabModalDialog([&] { window.loadWithOptions(models + QStringLiteral("/ref-qwen2-d64")); },
                                  QStringLiteral("load_options"), language);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        problem = grabModalDialog([&] { window.openSettings(); }, QStringLiteral("settings"), language);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        pictures += 2;
        qInfo("%d screenshots in %s", pictures, qPrintable(screenshotDir()));
    }
};

QTEST_MAIN(TestScreenshots)
#include "tst_screenshots.moc"
