// The main window opens (offscreen), and reports the backend the core probe found.
#include <QLabel>
#include <QSignalSpy>
#include <QtTest>

#include "main_window.h"

class TestMainWindow : public QObject {
    Q_OBJECT

private slots:
    void opensAndReportsBackend()
    {
        hearth::gui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        auto* label = window.findChild<QLabel*>(QStringLiteral("backendLabel"));
        QVERIFY(label);

        QSignalSpy probed(&window, &hearth::gui::MainWindow::backendProbed);
        window.startBackgroundWork();
        QVERIFY(probed.wait(30000));

        const hearth::BackendReport expected = hearth::probeBackends();
        QCOMPARE(window.backendReport().backend, expected.backend);
        QVERIFY2(label->text().contains(QString::fromStdString(expected.summary()).left(4)),
                 qPrintable(label->text()));
        if (expected.backend == "cpu")
            QVERIFY(label->text().contains(QStringLiteral("CPU")));
        else
            QVERIFY(label->text().contains(QStringLiteral("CUDA")));
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
