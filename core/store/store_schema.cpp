#include "store/store_schema.h"

#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "store/conversation_store.h"
#include "util/log.h"
#include "util/paths.h"

namespace hearth::store_detail {

namespace {

// Version 1: conversations, the message tree and settings. Kept verbatim as shipped: a migration
// never edits an older step, it adds a new one.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE conversations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    title          TEXT    NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    model_path     TEXT    NOT NULL DEFAULT '',
    system_prompt  TEXT    NOT NULL DEFAULT '',
    sampling_json  TEXT    NOT NULL DEFAULT '{}',
    pinned         INTEGER NOT NULL DEFAULT 0,
    archived       INTEGER NOT NULL DEFAULT 0,
    active_leaf_id INTEGER
);
CREATE INDEX conversations_by_updated ON conversations(updated_at_ms DESC);
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id   INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id         INTEGER REFERENCES messages(id),
    role              TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content           TEXT    NOT NULL DEFAULT '',
    reasoning_content TEXT    NOT NULL DEFAULT '',
    tool_calls_json   TEXT    NOT NULL DEFAULT '',
    tool_call_id      TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL CHECK (state IN ('complete', 'streaming', 'waiting', 'error',
                                                        'cancelled', 'interrupted')),
    error_message     TEXT    NOT NULL DEFAULT '',
    stats_json        TEXT    NOT NULL DEFAULT '{}',
    created_at_ms     INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE INDEX messages_by_parent ON messages(parent_id);
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Version 2: a trigram full-text index over message content, so search finds substrings in any
// script (Chinese has no spaces to split words on). Streaming rows are indexed once they end, so
// the frequent streaming writes do not re-index a growing reply.
constexpr const char* kSchemaV2Fts = R"sql(
CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id',
                                             tokenize='trigram');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.state <> 'streaming' BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.state <> 'streaming' BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, state ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.state <> 'streaming';
    INSERT INTO messages_fts(rowid, content)
        SELECT new.id, new.content WHERE new.state <> 'streaming';
END;
INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages WHERE state <> 'streaming';
)sql";

// Runs the step that takes a database from `fromVersion` to fromVersion + 1.
Status migrateStep(SqliteDb& db, int fromVersion)
{
    switch (fromVersion) {
    case 0: {
        HEARTH_TRY_STATUS(db.exec(kSchemaV1, "creating the schema (version 1)"));
        const std::string setId = "PRAGMA application_id = " + std::to_string(kApplicationId);
        return db.exec(setId.c_str(), "marking the file as Hearth's");
    }
    case 1:
        // Without FTS5 search falls back to LIKE; the version still advances (see docs/STORAGE.md).
        if (!haveTrigramFts())
            return Status::ok();
        return db.exec(kSchemaV2Fts, "adding the search index (version 2)");
    default:
        return makeError(ErrorCode::Internal, db.path() + ": no migration from schema version " +
                                                  std::to_string(fromVersion));
    }
}

// Each step commits together with its user_version, so a crash mid-migration leaves the old
// version intact and the next open retries the step.
Status migrate(SqliteDb& db, int fromVersion, int targetVersion)
{
    for (int v = fromVersion; v < targetVersion; ++v) {
        HEARTH_TRY_STATUS(db.exec("BEGIN IMMEDIATE", "starting a migration"));
        Status step = migrateStep(db, v);
        if (step) {
            const std::string setVersion = "PRAGMA user_version = " + std::to_string(v + 1);
            step = db.exec(setVersion.c_str(), "recording the schema version");
        }
        if (step)
            step = db.exec("COMMIT", "committing a migration");
        if (!step) {
            (void)db.exec("ROLLBACK", "rolling back a failed migration");
            return step;
        }
    }
    return Status::ok();
}

Status initialize(SqliteDb& db, int targetVersion, int busyTimeoutMs, OpenReport& report)
{
    sqlite3_busy_timeout(db.handle(), busyTimeoutMs);
    // Read-only inspection first: a file we must refuse is left exactly as it was.
    HEARTH_TRY_ASSIGN(const std::int64_t version, db.queryInt("PRAGMA user_version", "reading the schema version"));
    HEARTH_TRY_ASSIGN(const std::int64_t appId, db.queryInt("PRAGMA application_id", "reading the application id"));
    HEARTH_TRY_ASSIGN(const std::int64_t nObjects,
                      db.queryInt("SELECT count(*) FROM sqlite_master", "reading the schema"));
    if (version > targetVersion)
        return makeError(ErrorCode::Unsupported,
                         db.path() + ": the conversation database has schema version " + std::to_string(version) +
                             ", made by a newer Hearth; this build knows up to version " +
                             std::to_string(targetVersion) + ". The file was left unchanged; update Hearth to open it");
    if ((appId != 0 && appId != kApplicationId) || (appId == 0 && version == 0 && nObjects > 0))
        return makeError(ErrorCode::Unsupported,
                         db.path() + ": this SQLite file is not a Hearth conversation database; it was left unchanged");

    report.created = nObjects == 0;
    {
        HEARTH_TRY_ASSIGN(Statement wal, Statement::prepare(db, "PRAGMA journal_mode = WAL", "switching to write-ahead logging"));
        HEARTH_TRY_ASSIGN(const bool hasRow, wal.step());
        // Some file systems (network mounts) cannot do WAL; the rollback journal is still safe.
        if (!hasRow || wal.columnText(0) != "wal")
            logWarning(db.path() + ": write-ahead logging unavailable; using the rollback journal");
    }
    // NORMAL in WAL mode survives a process kill; only a power cut may drop the last commits.
    HEARTH_TRY_STATUS(db.exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", "setting connection options"));
    if (version < targetVersion) {
        if (version > 0)
            report.migratedFromVersion = static_cast<int>(version);
        HEARTH_TRY_STATUS(migrate(db, static_cast<int>(version), targetVersion));
    }
    HEARTH_TRY_STATUS(db.exec("UPDATE messages SET state = 'interrupted' WHERE state = 'streaming'",
                              "marking replies cut off by a crash"));
    report.interruptedReplies = db.changes();
    return Status::ok();
}

std::string utcStamp()
{
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}

// Renames the damaged file (and its WAL and shared-memory files, which belong with it) aside.
Result<std::string> moveAside(const std::string& path)
{
    namespace fs = std::filesystem;
    const std::string base = path + ".corrupt-" + utcStamp();
    std::string target = base;
    std::error_code ec;
    for (int n = 1; fs::exists(target, ec); ++n)
        target = base + "-" + std::to_string(n);
    fs::rename(path, target, ec);
    if (ec)
        return makeError(ErrorCode::Io, path + ": the database is damaged and could not be renamed aside to " + target +
                                            ": " + ec.message());
    for (const char* suffix : {"-wal", "-shm"}) {
        if (fs::exists(path + suffix, ec))
            fs::rename(path + suffix, target + suffix, ec);
    }
    return target;
}

}  // namespace

bool haveTrigramFts()
{
    return sqlite3_libversion_number() >= 3034000 && sqlite3_compileoption_used("ENABLE_FTS5");
}

Result<SqliteDb> openConversationDatabase(const std::string& path, int targetVersion, int busyTimeoutMs,
                                          OpenReport& report)
{
    const std::string parent = std::filesystem::path(path).parent_path().string();
    if (!parent.empty())
        HEARTH_TRY_STATUS(makeDirs(parent));

    HEARTH_TRY_ASSIGN(SqliteDb db, SqliteDb::open(path, true));
    Status ready = initialize(db, targetVersion, busyTimeoutMs, report);
    if (ready)
        return db;
    if (ready.error().code != ErrorCode::Corrupt)
        return ready.error();

    // Never delete a damaged file: keep it for recovery tools and start a fresh one.
    db.close();
    HEARTH_TRY_ASSIGN(const std::string movedTo, moveAside(path));
    logWarning(ready.message() + "; moved it to " + movedTo + " and started a new database");
    OpenReport fresh;
    fresh.corruptFileMovedTo = movedTo;
    fresh.corruptionReason = ready.message();
    HEARTH_TRY_ASSIGN(db, SqliteDb::open(path, true));
    HEARTH_TRY_STATUS(initialize(db, targetVersion, busyTimeoutMs, fresh));
    report = fresh;
    return db;
}

}  // namespace hearth::store_detail
