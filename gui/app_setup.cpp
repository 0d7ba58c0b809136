#include "app_setup.h"

#include <QApplication>
#include <QLibraryInfo>
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
QTranslator* g_qtTranslator = nullptr;

// The standard dialog buttons (QDialogButtonBox, QMessageBox) take their texts from Qt's own
// translations, which many systems lack (Debian: qt6-translations-l10n). Marked here, they are in
// hearth_<locale>.ts too, so Hearth's dialogs speak its language either way.
[[maybe_unused]] constexpr const char* kStandardButtonTexts[] = {
    QT_TRANSLATE_NOOP("QPlatformTheme", "OK"),       QT_TRANSLATE_NOOP("QPlatformTheme", "Save"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "Save All"), QT_TRANSLATE_NOOP("QPlatformTheme", "Open"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "&Yes"),     QT_TRANSLATE_NOOP("QPlatformTheme", "Yes to &All"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "&No"),      QT_TRANSLATE_NOOP("QPlatformTheme", "N&o to All"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "Abort"),    QT_TRANSLATE_NOOP("QPlatformTheme", "Retry"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "Ignore"),   QT_TRANSLATE_NOOP("QPlatformTheme", "Close"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "Cancel"),   QT_TRANSLATE_NOOP("QPlatformTheme", "Discard"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "Help"),     QT_TRANSLATE_NOOP("QPlatformTheme", "Apply"),
    QT_TRANSLATE_NOOP("QPlatformTheme", "Reset"),    QT_TRANSLATE_NOOP("QPlatformTheme", "Restore Defaults"),
};

void removeTranslator(QApplication& app, QTranslator*& translator)
{
    if (!translator) return;
    app.removeTranslator(translator);
    delete translator;
    translator = nullptr;
}

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
    removeTranslator(app, g_qtTranslator);
    removeTranslator(app, g_translator);
    const QLocale locale = language.isEmpty() ? QLocale::system() : QLocale(language);
    if (locale.language() == QLocale::English) return QStringLiteral("en");
    // The .qm files are compiled into the resources (resources/translations, built by lrelease).
    auto translator = std::make_unique<QTranslator>();
    if (!translator->load(locale, QStringLiteral("hearth"), QStringLiteral("_"), QStringLiteral(":/i18n")))
        return QStringLiteral("en");
    // Qt's own texts (context menus, file dialogs) where the system has them; installed first so
    // Hearth's translation, searched first, wins where both translate a text.
    auto qtTranslator = std::make_unique<QTranslator>();
    if (qtTranslator->load(locale, QStringLiteral("qtbase"), QStringLiteral("_"),
                           QLibraryInfo::path(QLibraryInfo::TranslationsPath))) {
        g_qtTranslator = qtTranslator.release();
        app.installTranslator(g_qtTranslator);
    }
    g_translator = translator.release();
    app.installTranslator(g_translator);
    return locale.name();
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
