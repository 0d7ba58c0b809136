#include "app_setup.h"

#include <QApplication>
#include <QLocale>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>
#include <QTranslator>

#include <memory>

// The resources live in the static hearth_gui library, whose unreferenced objects the linker
// drops: naming their init functions here keeps the icons and the .qm files in every binary.
// Outside any namespace because Q_INIT_RESOURCE declares a global function.
static void initHearthResources()
{
    static const bool done = [] {
        Q_INIT_RESOURCE(hearth);
        Q_INIT_RESOURCE(hearth_i18n);
        return true;
    }();
    (void)done;
}

namespace hearth::gui {

namespace {

QTranslator* g_translator = nullptr;

QPalette darkPalette()
{
    QPalette p;
    const QColor window(37, 37, 40), base(28, 28, 30), text(230, 230, 230), disabled(128, 128, 128);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, window);
    p.setColor(QPalette::ToolTipBase, window);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(255, 80, 80));
    p.setColor(QPalette::Link, QColor(110, 170, 255));
    p.setColor(QPalette::Highlight, QColor(64, 120, 200));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Disabled, QPalette::Text, disabled);
    p.setColor(QPalette::Disabled, QPalette::WindowText, disabled);
    p.setColor(QPalette::Disabled, QPalette::ButtonText, disabled);
    return p;
}

}  // namespace

QString installTranslation(QApplication& app, const QString& language)
{
    initHearthResources();
    if (g_translator) {
        app.removeTranslator(g_translator);
        delete g_translator;
        g_translator = nullptr;
    }
    const QLocale locale = language.isEmpty() ? QLocale::system() : QLocale(language);
    auto translator = std::make_unique<QTranslator>();
    // The .qm files are compiled into the resources (resources/translations, built by lrelease).
    if (locale.language() != QLocale::English &&
        translator->load(locale, QStringLiteral("hearth"), QStringLiteral("_"), QStringLiteral(":/i18n"))) {
        g_translator = translator.release();
        app.installTranslator(g_translator);
        return locale.name();
    }
    return QStringLiteral("en");
}

void applyTheme(QApplication& app, const QString& theme)
{
    initHearthResources();
    if (theme == QLatin1String("dark")) {
        app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        app.setPalette(darkPalette());
    } else if (theme == QLatin1String("light")) {
        app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        app.setPalette(app.style()->standardPalette());
    } else {
        // "system": the platform theme's palette (which follows the desktop's dark mode).
        app.setPalette(QPalette());
    }
}

}  // namespace hearth::gui
