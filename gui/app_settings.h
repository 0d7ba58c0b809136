// The app's preferences, kept in QSettings (~/.config/hearth/Hearth.conf) so they can be read
// before the first window exists (language, theme). Conversations and the last used model live
// in the conversation store instead. One place for the keys and their defaults.
#pragma once

#include <QSettings>
#include <QString>
#include <QStringList>

namespace hearth::gui::settings {

inline const QString kExtraFolders = QStringLiteral("library/extraFolders");      // QStringList
inline const QString kUseHfCache = QStringLiteral("library/useHfCache");          // bool, default true
inline const QString kDefaultModel = QStringLiteral("models/defaultModel");       // path; empty: the last used
inline const QString kPreloadOnLaunch = QStringLiteral("models/preloadOnLaunch"); // bool, default true
inline const QString kKeepLoadedInTray = QStringLiteral("window/keepLoadedInTray"); // bool, default false
inline const QString kGpuIndex = QStringLiteral("engine/gpuIndex");               // int, default 0; -1: CPU
inline const QString kLanguage = QStringLiteral("ui/language");                   // "" (system), "en", "zh_CN"
inline const QString kTheme = QStringLiteral("ui/theme");                         // "system", "light", "dark"
inline const QString kLoadDtype = QStringLiteral("load/dtype");                   // "auto", "fp16", "bf16"
inline const QString kLoadContext = QStringLiteral("load/contextLength");         // int; 0: the model's

inline bool useHfCache() { return QSettings().value(kUseHfCache, true).toBool(); }
inline bool preloadOnLaunch() { return QSettings().value(kPreloadOnLaunch, true).toBool(); }
inline bool keepLoadedInTray() { return QSettings().value(kKeepLoadedInTray, false).toBool(); }
inline QString language() { return QSettings().value(kLanguage).toString(); }
inline QString theme() { return QSettings().value(kTheme, QStringLiteral("system")).toString(); }

}  // namespace hearth::gui::settings
