// The conversation database's schema, its forward migrations, and the open sequence that checks
// versions, recovers from crashes and moves damaged files aside. Private to core/store; the
// schema is documented in docs/STORAGE.md and the two must change together.
#pragma once

#include <string>

#include "store/sqlite_db.h"

namespace hearth {
struct OpenReport;
}

namespace hearth::store_detail {

// 'HRTH' in PRAGMA application_id marks a file as Hearth's conversation database.
inline constexpr int kApplicationId = 0x48525448;

// True when the SQLite library offers FTS5 with the trigram tokenizer (SQLite >= 3.34).
bool haveTrigramFts();

// Opens `path`, creating, migrating to `targetVersion` and recovering it as needed; fills `report`.
Result<SqliteDb> openConversationDatabase(const std::string& path, int targetVersion, int busyTimeoutMs,
                                          OpenReport& report);

}  // namespace hearth::store_detail
