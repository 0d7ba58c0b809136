// hearth: the desktop app. The window is shown before anything slow starts.
//
// HEARTH_STARTUP_PROBE=1 makes the app print one line to stderr once the window is shown and has
// been painted for the first time, then quit (tests/perf/startup_time.py runs it):
//   startup_ms=<process start to first paint> main_to_shown_ms=<main() to first paint> exec_to_main_ms=<the rest>
// The process start is the kernel's start time of this process (/proc/self/stat, 10 ms ticks), so
// dynamic loading and static initialisation before main() are counted too.
#include <QApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QFile>
#include <QSettings>
#include <QTimer>

#include <cstdio>
#include <ctime>
#include <optional>
#include <unistd.h>

#include "app_settings.h"
#include "app_setup.h"
#include "main_window.h"

namespace {

// Milliseconds since this process started, from the kernel's bookkeeping; empty off Linux.
std::optional<double> msSinceProcessStart()
{
    QFile stat(QStringLiteral("/proc/self/stat"));
    if (!stat.open(QIODevice::ReadOnly)) return std::nullopt;
    const QByteArray line = stat.readAll();
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const qsizetype close = line.lastIndexOf(')');
    if (close < 0) return std::nullopt;
    const QList<QByteArray> fields = line.mid(close + 2).split(' ');
    constexpr int kStartTimeField = 22 - 3;  // field 22 of stat(5), counted from field 3
    if (fields.size() <= kStartTimeField) return std::nullopt;
    bool ok = false;
    const double startTicks = fields.at(kStartTimeField).toDouble(&ok);
    const long ticksPerS = sysconf(_SC_CLK_TCK);
    timespec now{};
    // starttime counts from boot, suspended time included: CLOCK_BOOTTIME is the same clock.
    if (!ok || ticksPerS <= 0 || clock_gettime(CLOCK_BOOTTIME, &now) != 0) return std::nullopt;
    const double nowMs = static_cast<double>(now.tv_sec) * 1000.0 + static_cast<double>(now.tv_nsec) / 1e6;
    return nowMs - startTicks * 1000.0 / static_cast<double>(ticksPerS);
}

// Reports when the window is on screen, then quits: after MainWindow::firstShown() and after the
// first paint of a widget in the window (on X11 the paint waits for the server's expose, which
// can come after firstShown). Watches the whole application's paint events because the window's
// children, not the window itself, paint its contents.
class StartupProbe : public QObject {
public:
    StartupProbe(hearth::gui::MainWindow* window, QElapsedTimer sinceMain) : m_window(window), m_sinceMain(sinceMain)
    {
        connect(window, &hearth::gui::MainWindow::firstShown, this, [this] {
            m_shown = true;
            reportWhenDone();
        });
    }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override
    {
        if (!m_painted && event->type() == QEvent::Paint && watched->isWidgetType() &&
            static_cast<QWidget*>(watched)->window() == m_window) {
            m_painted = true;
            // Queued: the paint in progress (and the backing store flush after it) finishes first.
            QTimer::singleShot(0, this, &StartupProbe::reportWhenDone);
        }
        return QObject::eventFilter(watched, event);
    }

private:
    void reportWhenDone()
    {
        if (m_reported || !m_shown || !m_painted) return;
        m_reported = true;
        const double mainToShownMs = static_cast<double>(m_sinceMain.nsecsElapsed()) / 1e6;
        const std::optional<double> startupMs = msSinceProcessStart();
        const double totalMs = startupMs.value_or(mainToShownMs);
        std::fprintf(stderr, "startup_ms=%.1f main_to_shown_ms=%.1f exec_to_main_ms=%.1f\n", totalMs, mainToShownMs,
                     startupMs ? totalMs - mainToShownMs : 0.0);
        QCoreApplication::quit();
    }

    hearth::gui::MainWindow* m_window;
    QElapsedTimer m_sinceMain;
    bool m_shown = false;
    bool m_painted = false;
    bool m_reported = false;
};

}  // namespace

int main(int argc, char** argv)
{
    QElapsedTimer sinceMain;
    sinceMain.start();

    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Hearth"));
    QApplication::setOrganizationName(QStringLiteral("hearth"));
    QApplication::setApplicationVersion(QStringLiteral(HEARTH_GUI_VERSION));

    // Language and theme before the first widget exists: widgets take their texts when made.
    hearth::gui::installTranslation(app, hearth::gui::settings::language());
    hearth::gui::applyTheme(app, hearth::gui::settings::theme());
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/hearth.svg")));

    hearth::gui::MainWindow window;
    std::optional<StartupProbe> probe;
    if (qEnvironmentVariableIntValue("HEARTH_STARTUP_PROBE") == 1) {
        probe.emplace(&window, sinceMain);
        app.installEventFilter(&*probe);
    }
    window.show();
    window.startBackgroundWork();
    const int code = QApplication::exec();
    if (probe) app.removeEventFilter(&*probe);
    return code;
}
