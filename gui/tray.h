// The system tray icon that keeps Hearth (and its loaded model) running after the window closes,
// when the user asked for that and the desktop has a tray. Without a tray it is never created.
#pragma once

#include <QObject>

#include <memory>

class QMenu;
class QSystemTrayIcon;

namespace hearth::gui {

class Tray : public QObject {
    Q_OBJECT

public:
    explicit Tray(QObject* parent = nullptr);
    ~Tray() override;

    // Whether this desktop shows tray icons (the offscreen platform and some desktops do not).
    static bool available();
    // Shows the icon with `tooltip` (what is loaded); no-op without a tray.
    void show(const QString& tooltip);
    void hide();
    bool isVisible() const;

signals:
    void showWindowRequested();
    void quitRequested();

private:
    std::unique_ptr<QMenu> m_menu;  // a menu cannot have a non-widget parent
    QSystemTrayIcon* m_icon = nullptr;
};

}  // namespace hearth::gui
