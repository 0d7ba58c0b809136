#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

namespace hearth::store_detail {

bool isCorruptionCode(int rc)
{
    const int primary = rc & 0xff;
    return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

Error sqliteError(int rc, std::string_view detail, const std::string& path, std::string_view what)
{
    const int primary = rc & 0xff;
    std::string prefix = path + ": " + std::string(what) + ": ";
    std::string sqliteText = std::string(detail);
    switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return makeError(ErrorCode::Busy, prefix + "the database is locked by another connection or process (" +
                                              sqliteText + "); close the other Hearth instance and try again");
    case SQLITE_FULL:
        return makeError(ErrorCode::Io, prefix + "the disk is full (" + sqliteText + "); free some space and try again");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return makeError(ErrorCode::Corrupt, prefix + "the database file is damaged or not a database (" + sqliteText + ")");
    case SQLITE_NOMEM:
        return makeError(ErrorCode::OutOfMemory, prefix + sqliteText);
    case SQLITE_CONSTRAINT:
        return makeError(ErrorCode::InvalidArgument, prefix + sqliteText);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return makeError(ErrorCode::Io, prefix + sqliteText);
    default:
        return makeError(ErrorCode::Internal, prefix + sqliteText + " (SQLite code " + std::to_string(rc) + ")");
    }
}

SqliteDb::~SqliteDb() { close(); }

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_path(std::move(other.m_path))
{
}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept
{
    if (this != &other) {
        close();
        m_db = std::exchange(other.m_db, nullptr);
        m_path = std::move(other.m_path);
    }
    return *this;
}

void SqliteDb::close()
{
    if (m_db) {
        // sqlite3_close_v2 defers the close until any stray statements finish instead of failing.
        sqlite3_close_v2(m_db);
        m_db = nullptr;
    }
}

Result<SqliteDb> SqliteDb::open(const std::string& path, bool create)
{
    SqliteDb db;
    db.m_path = path;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    const int rc = sqlite3_open_v2(path.c_str(), &db.m_db, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string detail = db.m_db ? sqlite3_errmsg(db.m_db) : sqlite3_errstr(rc);
        return sqliteError(rc, detail, path, "cannot open the database");
    }
    sqlite3_extended_result_codes(db.m_db, 1);
    return db;
}

Error SqliteDb::lastError(int rc, std::string_view what) const
{
    return sqliteError(rc, m_db ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc), m_path, what);
}

Status SqliteDb::exec(const char* sql, std::string_view what)
{
    const int rc = sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        return lastError(rc, what);
    return Status::ok();
}

Result<std::int64_t> SqliteDb::queryInt(const char* sql, std::string_view what)
{
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*this, sql, what));
    HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
    if (!hasRow)
        return makeError(ErrorCode::Internal, m_path + ": " + std::string(what) + ": no result row");
    return stmt.columnInt(0);
}

std::int64_t SqliteDb::lastInsertId() const { return sqlite3_last_insert_rowid(m_db); }

int SqliteDb::changes() const { return sqlite3_changes(m_db); }

Statement::~Statement()
{
    if (m_stmt)
        sqlite3_finalize(m_stmt);
}

Statement::Statement(Statement&& other) noexcept
    : m_stmt(std::exchange(other.m_stmt, nullptr)), m_db(other.m_db), m_what(std::move(other.m_what))
{
}

Statement& Statement::operator=(Statement&& other) noexcept
{
    if (this != &other) {
        if (m_stmt)
            sqlite3_finalize(m_stmt);
        m_stmt = std::exchange(other.m_stmt, nullptr);
        m_db = other.m_db;
        m_what = std::move(other.m_what);
    }
    return *this;
}

Result<Statement> Statement::prepare(SqliteDb& db, const char* sql, std::string_view what)
{
    Statement stmt;
    stmt.m_db = &db;
    stmt.m_what = std::string(what);
    const int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &stmt.m_stmt, nullptr);
    if (rc != SQLITE_OK)
        return db.lastError(rc, what);
    return stmt;
}

Statement& Statement::bind(int index, std::int64_t value)
{
    sqlite3_bind_int64(m_stmt, index, value);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text)
{
    // SQLITE_TRANSIENT: SQLite copies the bytes, so temporaries are safe to pass.
    // An empty string_view may carry a null pointer, which SQLite would store as NULL.
    const char* bytes = text.data() ? text.data() : "";
    sqlite3_bind_text64(m_stmt, index, bytes, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    return *this;
}

Statement& Statement::bind(int index, std::optional<std::int64_t> value)
{
    if (value)
        return bind(index, *value);
    return bindNull(index);
}

Statement& Statement::bindNull(int index)
{
    sqlite3_bind_null(m_stmt, index);
    return *this;
}

Result<bool> Statement::step()
{
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    return m_db->lastError(rc, m_what);
}

Status Statement::run()
{
    for (;;) {
        HEARTH_TRY_ASSIGN(const bool hasRow, step());
        if (!hasRow)
            return Status::ok();
    }
}

std::int64_t Statement::columnInt(int column) const { return sqlite3_column_int64(m_stmt, column); }

std::optional<std::int64_t> Statement::columnOptionalInt(int column) const
{
    if (sqlite3_column_type(m_stmt, column) == SQLITE_NULL)
        return std::nullopt;
    return sqlite3_column_int64(m_stmt, column);
}

std::string Statement::columnText(int column) const
{
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, column));
    const int nBytes = sqlite3_column_bytes(m_stmt, column);
    return text ? std::string(text, static_cast<size_t>(nBytes)) : std::string();
}

}  // namespace hearth::store_detail
