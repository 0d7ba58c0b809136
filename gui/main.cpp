// hearth: the desktop app. The window is shown before anything slow starts.
#include <QApplication>

#include "main_window.h"

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Hearth"));
    QApplication::setOrganizationName(QStringLiteral("hearth"));
    QApplication::setApplicationVersion(QStringLiteral(HEARTH_GUI_VERSION));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/hearth.svg")));

    hearth::gui::MainWindow window;
    window.show();
    window.startBackgroundWork();
    return QApplication::exec();
}
