// A thin RAII layer over the SQLite C API for the store room: one connection, prepared
// statements, and SQLite result codes turned into hearth Errors that name the file and the step.
// Private to core/store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hearth::store_detail {

// Maps a SQLite result code to an Error: locked -> Busy, disk full / I/O -> Io,
// corrupt / not a database -> Corrupt, constraint -> InvalidArgument.
Error sqliteError(int rc, std::string_view detail, const std::string& path, std::string_view what);

// True for the result codes that mean the file itself is damaged or is not a database.
bool isCorruptionCode(int rc);

class SqliteDb {
public:
    SqliteDb() = default;
    ~SqliteDb();
    SqliteDb(SqliteDb&& other) noexcept;
    SqliteDb& operator=(SqliteDb&& other) noexcept;
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    // Opens (and with `create`, creates) the database file read-write.
    static Result<SqliteDb> open(const std::string& path, bool create);

    // Runs one or more statements without results; `what` names the step in errors.
    Status exec(const char* sql, std::string_view what);
    // Builds the Error for the connection's last failure.
    Error lastError(int rc, std::string_view what) const;
    // Reads a single integer (e.g. PRAGMA user_version).
    Result<std::int64_t> queryInt(const char* sql, std::string_view what);

    sqlite3* handle() const { return m_db; }
    const std::string& path() const { return m_path; }
    std::int64_t lastInsertId() const;
    int changes() const;
    void close();

private:
    sqlite3* m_db = nullptr;
    std::string m_path;
};

class Statement {
public:
    Statement() = default;
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Compiles `sql` on `db`; `what` names the operation in error messages.
    static Result<Statement> prepare(SqliteDb& db, const char* sql, std::string_view what);

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, std::optional<std::int64_t> value);
    Statement& bindNull(int index);

    // Advances one row: true when a row is available, false when done.
    Result<bool> step();
    // Steps to completion (for statements without result rows).
    Status run();

    std::int64_t columnInt(int column) const;
    std::optional<std::int64_t> columnOptionalInt(int column) const;
    std::string columnText(int column) const;

private:
    sqlite3_stmt* m_stmt = nullptr;
    SqliteDb* m_db = nullptr;
    std::string m_what;
};

}  // namespace hearth::store_detail
