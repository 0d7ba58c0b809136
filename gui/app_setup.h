// What the app sets up before its first window: the interface language and the colour theme.
// Both read the preferences in app_settings.h; the settings dialog calls them again on change.
#pragma once

#include <QString>

class QApplication;

namespace hearth::gui {

// Installs the translation for `language` ("" follows the system locale, "en", "zh_CN"); returns
// the language actually in use ("en" when no translation matches). Widgets made afterwards use it.
QString installTranslation(QApplication& app, const QString& language);
// Applies "light", "dark" or "system" (the platform's own palette) to the whole application.
void applyTheme(QApplication& app, const QString& theme);

}  // namespace hearth::gui
