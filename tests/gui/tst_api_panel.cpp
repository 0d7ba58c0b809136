// The Local API panel drives the real HTTP server on the chat's engine (a fake here): toggled on,
// /health and /v1/models answer over a real socket (cpp-httplib's client, independent of the
// panel); toggled off, the port is closed; a non-loopback host is refused without an API key
// and, with one, requests must carry it.
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api_panel.h"
#include "engine_controller.h"
#include "fake_engine.h"

using namespace hearth;
using namespace hearth::gui;

class TestApiPanel : public QObject {
    Q_OBJECT

private slots:
    void togglesServerOnTheChatEngine()
    {
        auto engine = std::make_shared<test::FakeEngine>(true);
        EngineController controller(engine);
        QSignalSpy ready(&controller, &EngineController::ready);
        controller.load(QStringLiteral("/models/fake-qwen"));
        QCOMPARE(ready.count(), 1);

        ApiPanel panel(&controller);
        panel.findChild<QSpinBox*>(QStringLiteral("apiPort"))->setValue(0);
        auto* toggle = panel.findChild<QPushButton*>(QStringLiteral("apiToggle"));
        QSignalSpy started(&panel, &ApiPanel::started);
        QTest::mouseClick(toggle, Qt::LeftButton);
        QCOMPARE(started.count(), 1);
        QVERIFY(panel.isRunning());
        const int port = panel.port();
        QVERIFY(port > 0);
        const QString url = QStringLiteral("http://127.0.0.1:%1/v1").arg(port);
        QCOMPARE(panel.baseUrl(), url);
        QVERIFY(panel.findChild<QLabel*>(QStringLiteral("apiUrl"))->text().contains(url));

        httplib::Client client("127.0.0.1", port);
        client.set_connection_timeout(5);
        auto health = client.Get("/health");
        QVERIFY(health);
        QCOMPARE(health->status, 200);
        auto models = client.Get("/v1/models");
        QVERIFY(models);
        QCOMPARE(models->status, 200);
        const auto body = nlohmann::json::parse(models->body, nullptr, false);
        QVERIFY(!body.is_discarded());
        QCOMPARE(QString::fromStdString(body["data"][0]["id"].get<std::string>()), QStringLiteral("fake-qwen"));
        QCOMPARE(body["data"][0]["meta"]["state"].get<std::string>(), std::string("ready"));

        QSignalSpy stopped(&panel, &ApiPanel::stopped);
        QTest::mouseClick(toggle, Qt::LeftButton);
        QVERIFY(stopped.wait(10000));
        QVERIFY(!panel.isRunning());
        QCOMPARE(toggle->text(), QStringLiteral("Start API server"));
        httplib::Client after("127.0.0.1", port);
        after.set_connection_timeout(2);
        QVERIFY(!after.Get("/health"));
    }

    void nonLoopbackNeedsKey()
    {
        auto engine = std::make_shared<test::FakeEngine>(true);
        EngineController controller(engine);
        controller.load(QStringLiteral("/models/fake-qwen"));
        ApiPanel panel(&controller);
        panel.findChild<QSpinBox*>(QStringLiteral("apiPort"))->setValue(0);
        panel.findChild<QLineEdit*>(QStringLiteral("apiHost"))->setText(QStringLiteral("0.0.0.0"));
        QSignalSpy failed(&panel, &ApiPanel::startFailed);
        QVERIFY(!panel.startServer());
        QCOMPARE(failed.count(), 1);
        QVERIFY(!panel.isRunning());
        const QString state = panel.findChild<QLabel*>(QStringLiteral("apiState"))->text();
        QVERIFY2(state.contains(QStringLiteral("key")), qPrintable(state));

        QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("apiGenerateKey")), Qt::LeftButton);
        const std::string key = panel.findChild<QLineEdit*>(QStringLiteral("apiKey"))->text().toStdString();
        QVERIFY(key.size() >= 32);
        QVERIFY(panel.startServer());
        httplib::Client client("127.0.0.1", panel.port());
        auto refused = client.Get("/v1/models");
        QVERIFY(refused);
        QCOMPARE(refused->status, 401);
        auto allowed = client.Get("/v1/models", httplib::Headers{{"Authorization", "Bearer " + key}});
        QVERIFY(allowed);
        QCOMPARE(allowed->status, 200);
        // The panel goes out of scope while serving: its destructor must stop the server cleanly.
    }
};

QTEST_MAIN(TestApiPanel)
#include "tst_api_panel.moc"
