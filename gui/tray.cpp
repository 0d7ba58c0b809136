#include "tray.h"

#include <QApplication>
#include <QIcon>
#include <QMenu>
#include <QSystemTrayIcon>

namespace hearth::gui {

Tray::Tray(QObject* parent) : QObject(parent) {}

Tray::~Tray()
{
    delete m_icon;  // before the menu it refers to
}

bool Tray::available()
{
    return QSystemTrayIcon::isSystemTrayAvailable();
}

void Tray::show(const QString& tooltip)
{
    if (!available()) return;
    if (!m_icon) {
        m_icon = new QSystemTrayIcon(QApplication::windowIcon(), this);
        m_menu = std::make_unique<QMenu>();
        m_menu->addAction(tr("Show Hearth"), this, &Tray::showWindowRequested);
        m_menu->addSeparator();
        m_menu->addAction(tr("Quit Hearth"), this, &Tray::quitRequested);
        m_icon->setContextMenu(m_menu.get());
        connect(m_icon, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason reason) {
            if (reason == QSystemTrayIcon::Trigger || reason == QSystemTrayIcon::DoubleClick) emit showWindowRequested();
        });
    }
    m_icon->setToolTip(tooltip);
    m_icon->show();
}

void Tray::hide()
{
    if (m_icon) m_icon->hide();
}

bool Tray::isVisible() const
{
    return m_icon && m_icon->isVisible();
}

}  // namespace hearth::gui
