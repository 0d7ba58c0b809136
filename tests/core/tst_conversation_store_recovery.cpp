// ConversationStore when things go wrong: a process killed mid-reply, a version 1 database
// written with the documented v1 schema, a file from a newer Hearth, a file that is not ours,
// damaged files, and a database locked by another connection.
#include <QTemporaryDir>
#include <QtTest>

#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "store/conversation_store.h"

using namespace hearth;

#define CHECK_OK(expr)                                                                       \
    do {                                                                                     \
        const auto checkOk_ = (expr);                                                        \
        QVERIFY2(checkOk_.isOk(), checkOk_.isOk() ? "" : checkOk_.error().message.c_str()); \
    } while (0)

namespace {

// The version 1 schema exactly as docs/STORAGE.md documents it; a copy, so that an accidental
// change to the shipped migration shows up as a failure here.
constexpr const char* kDocumentedV1Schema = R"sql(
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
PRAGMA application_id = 1213355080;
PRAGMA user_version = 1;
)sql";

bool rawExec(const std::string& path, const std::string& sql)
{
    sqlite3* db = nullptr;
    bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
              sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    if (!ok)
        qWarning("raw SQL failed: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return ok;
}

std::string rawText(const std::string& path, const std::string& sql)
{
    sqlite3* db = nullptr;
    std::string out = "<error>";
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
            const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
            out = t ? t : "";
        }
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return out;
}

std::string readBytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeBytes(const std::string& path, const std::string& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

std::unique_ptr<ConversationStore> openStore(const std::string& path, StoreOptions options = {})
{
    auto store = ConversationStore::open(path, std::move(options));
    if (!store) {
        qWarning("%s", store.error().message.c_str());
        return nullptr;
    }
    return std::move(store).value();
}

std::string chunk(int i) { return "[" + std::to_string(i) + "]"; }

std::int64_t steadyMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// The child of crashMidReply: streams numbered chunks into a reply and reports each one on the
// pipe until it is killed. Never returns.
[[noreturn]] void streamUntilKilled(const std::string& path, int reportFd)
{
    auto store = ConversationStore::open(path);
    if (!store)
        _exit(2);
    ConversationStore& s = *store.value();
    const ConversationId id = s.createConversation({}).value();
    NewMessage question;
    question.content = "Tell me a long story";
    if (!s.addMessage(id, question))
        _exit(3);
    const MessageId reply = s.beginReply(id).value();
    for (int i = 0;; ++i) {
        if (!s.appendDelta(reply, chunk(i)))
            _exit(4);
        const std::int32_t nAppended = i + 1;
        if (write(reportFd, &nAppended, sizeof nAppended) != sizeof nAppended)
            _exit(5);
        usleep(2000);
    }
}

}  // namespace

class TestConversationStoreRecovery : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string dbPath(const char* name) const { return m_dir.filePath(QString::fromUtf8(name)).toStdString(); }

private slots:
    void crashMidReplyKeepsFlushedText()
    {
        const std::string path = dbPath("crash.sqlite3");
        int fds[2];
        QCOMPARE(pipe(fds), 0);
        const pid_t child = fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            close(fds[0]);
            streamUntilKilled(path, fds[1]);
        }
        close(fds[1]);

        // When the parent learned of each append: the child made it no later than that.
        std::vector<std::pair<std::int32_t, std::int64_t>> seen;
        std::int64_t firstMs = -1;
        while (firstMs < 0 || steadyMs() - firstMs < 1500) {
            pollfd p{fds[0], POLLIN, 0};
            if (poll(&p, 1, 5000) <= 0)
                break;
            std::int32_t n = 0;
            if (read(fds[0], &n, sizeof n) != sizeof n)
                break;
            if (firstMs < 0)
                firstMs = steadyMs();
            seen.emplace_back(n, steadyMs());
        }
        const std::int64_t killMs = steadyMs();
        QCOMPARE(kill(child, SIGKILL), 0);
        int status = 0;
        QCOMPARE(waitpid(child, &status, 0), child);
        QVERIFY2(WIFSIGNALED(status), "the child should have been streaming when killed");
        std::int32_t lastReported = seen.empty() ? 0 : seen.back().first;
        for (std::int32_t n = 0; read(fds[0], &n, sizeof n) == sizeof n;)
            lastReported = n;
        close(fds[0]);
        QVERIFY2(lastReported > 50, "the child made too little progress to judge");

        // Everything appended 300 ms before the kill (200 ms interval plus scheduling slack) must be on disk.
        std::int32_t mustHave = 0;
        for (const auto& [n, atMs] : seen)
            if (atMs <= killMs - 300)
                mustHave = n;

        auto store = openStore(path);
        QVERIFY(store);
        QCOMPARE(store->report().interruptedReplies, 1);
        const auto list = store->listConversations().value();
        QCOMPARE(list.size(), size_t(1));
        const Conversation c = store->conversation(list[0].id).value();
        QCOMPARE(c.messages.size(), size_t(2));
        const Message& reply = c.messages[1];
        QCOMPARE(reply.state, MessageState::Interrupted);
        const auto nSaved = static_cast<std::int32_t>(std::count(reply.content.begin(), reply.content.end(), '['));
        std::string expected;
        for (int i = 0; i < nSaved; ++i)
            expected += chunk(i);
        QCOMPARE(reply.content, expected);  // whole chunks, in order, nothing torn
        QVERIFY2(nSaved >= mustHave && nSaved <= lastReported + 1,
                 qPrintable(QStringLiteral("saved %1 chunks; must have %2, %3 were appended")
                                .arg(nSaved).arg(mustHave).arg(lastReported)));
        // The kept text is searchable like any finished reply.
        QCOMPARE(store->searchConversations(chunk(mustHave / 2)).value().size(), size_t(1));
    }

    void closedMidReplyIsInterruptedOnReopen()
    {
        const std::string path = dbPath("closed.sqlite3");
        MessageId reply = 0;
        {
            auto s = openStore(path);
            QVERIFY(s);
            const ConversationId id = s->createConversation({}).value();
            reply = s->beginReply(id).value();
            CHECK_OK(s->appendDelta(reply, "partial answer"));
        }
        auto s = openStore(path);
        QVERIFY(s);
        QCOMPARE(s->report().interruptedReplies, 1);
        const Message m = s->message(reply).value();
        QCOMPARE(m.state, MessageState::Interrupted);
        QCOMPARE(m.content, std::string("partial answer"));
        auto again = openStore(path);
        QVERIFY(again);
        QCOMPARE(again->report().interruptedReplies, 0);
    }

    void migratesVersion1()
    {
        const std::string path = dbPath("v1.sqlite3");
        QVERIFY(rawExec(path, std::string(kDocumentedV1Schema) + R"sql(
            INSERT INTO conversations (id, title, created_at_ms, updated_at_ms, sampling_json, active_leaf_id)
                VALUES (1, 'Old chat', 1000, 2000, '{"temperature":0.5,"preset":"creative"}', 2);
            INSERT INTO messages (id, conversation_id, parent_id, role, content, state, created_at_ms)
                VALUES (1, 1, NULL, 'user', '关于迁移测试的问题', 'complete', 1000),
                       (2, 1, 1, 'assistant', 'An answer from version one', 'complete', 1500),
                       (3, 1, 1, 'assistant', 'cut off mid', 'streaming', 1600);
            INSERT INTO settings (key, value) VALUES ('last_model', '/models/old');
        )sql"));
        auto s = openStore(path);
        QVERIFY(s);
        QCOMPARE(s->report().migratedFromVersion, 1);
        QCOMPARE(s->report().interruptedReplies, 1);
        QCOMPARE(rawText(path, "PRAGMA user_version"), std::to_string(ConversationStore::kSchemaVersion));
        QCOMPARE(rawText(path, "SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts'"), std::string("1"));
        const Conversation c = s->conversation(1).value();
        QCOMPARE(c.info.title, std::string("Old chat"));
        QCOMPARE(c.info.sampling.temperature.value(), 0.5);
        QCOMPARE(c.info.sampling.presetName, std::string("creative"));
        QCOMPARE(c.messages.size(), size_t(2));
        QCOMPARE(c.messages[1].content, std::string("An answer from version one"));
        QCOMPARE(c.messages[1].siblingCount, 2);
        QCOMPARE(s->setting("last_model").value().value(), std::string("/models/old"));
        // Old rows were indexed by the migration (4-character query: the index path).
        QCOMPARE(s->searchConversations("迁移测试").value().size(), size_t(1));
        QCOMPARE(s->searchConversations("version one").value().size(), size_t(1));
        QCOMPARE(s->searchConversations("cut off mid").value().size(), size_t(1));
        // New rows go through the triggers the migration added.
        CHECK_OK(s->addMessage(1, NewMessage{MessageRole::User, "a brand new question", {}, {}, {}, MessageState::Complete, {}}));
        QCOMPARE(s->searchConversations("brand new").value().size(), size_t(1));
        QVERIFY(rawExec(path, "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)"));
    }

    void refusesWithoutTouching_data()
    {
        QTest::addColumn<QByteArray>("sql");
        QTest::addColumn<QByteArray>("messagePart");
        QTest::newRow("newer schema") << QByteArray(kDocumentedV1Schema).append("PRAGMA user_version = 3;")
                                      << QByteArray("newer Hearth");
        QTest::newRow("much newer schema") << QByteArray(kDocumentedV1Schema).append("PRAGMA user_version = 1000;")
                                           << QByteArray("version 1000");
        QTest::newRow("another application") << QByteArray("CREATE TABLE notes (x); PRAGMA application_id = 42;")
                                             << QByteArray("not a Hearth");
        QTest::newRow("a foreign database") << QByteArray("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
                                            << QByteArray("not a Hearth");
    }

    void refusesWithoutTouching()
    {
        QFETCH(QByteArray, sql);
        QFETCH(QByteArray, messagePart);
        const QByteArray name = QByteArray("refuse-") + QByteArray(QTest::currentDataTag()) + QByteArray(".sqlite3");
        const std::string path = dbPath(name.constData());
        QVERIFY(rawExec(path, sql.toStdString()));
        const std::string before = readBytes(path);
        const auto mtimeBefore = QFileInfo(QString::fromStdString(path)).lastModified();
        const auto store = ConversationStore::open(path);
        QVERIFY(!store);
        QCOMPARE(store.error().code, ErrorCode::Unsupported);
        QVERIFY2(store.error().message.find(messagePart.toStdString()) != std::string::npos, store.error().message.c_str());
        QVERIFY2(store.error().message.find(path) != std::string::npos, "the message names the file");
        QVERIFY(readBytes(path) == before);
        QCOMPARE(QFileInfo(QString::fromStdString(path)).lastModified(), mtimeBefore);
        QVERIFY(!QFile::exists(QString::fromStdString(path + "-wal")));
    }

    void damagedFileMovedAside_data()
    {
        QTest::addColumn<bool>("garbage");  // else: a real database whose schema page is overwritten
        QTest::newRow("not a database") << true;
        QTest::newRow("damaged schema page") << false;
    }

    void damagedFileMovedAside()
    {
        QFETCH(bool, garbage);
        const std::string path = dbPath(garbage ? "garbage.sqlite3" : "damaged.sqlite3");
        if (garbage) {
            std::string bytes;
            while (bytes.size() < 8192)
                bytes += "this is not a database, just some text. ";
            writeBytes(path, bytes);
        } else {
            {
                auto s = openStore(path);
                QVERIFY(s);
                QVERIFY(s->createConversation({}).isOk());
            }
            std::string bytes = readBytes(path);
            QVERIFY(bytes.size() >= 4096);
            for (std::size_t i = 100; i < 4096; ++i)
                bytes[i] = static_cast<char>(0xA5);
            writeBytes(path, bytes);
        }
        const std::string damaged = readBytes(path);

        auto s = openStore(path);
        QVERIFY(s);
        const OpenReport& report = s->report();
        QVERIFY2(report.corruptFileMovedTo.rfind(path + ".corrupt-", 0) == 0, report.corruptFileMovedTo.c_str());
        QVERIFY(!report.corruptionReason.empty());
        QVERIFY(report.created);
        QVERIFY(readBytes(report.corruptFileMovedTo) == damaged);  // nothing lost, nothing rewritten
        QVERIFY(s->listConversations(true).value().empty());
        CHECK_OK(s->createConversation({}));
    }

    void lockedDatabaseIsAnErrorValue()
    {
        const std::string path = dbPath("locked.sqlite3");
        StoreOptions options;
        options.busyTimeoutMs = 100;
        auto s = openStore(path, options);
        QVERIFY(s);
        sqlite3* other = nullptr;
        QCOMPARE(sqlite3_open(path.c_str(), &other), SQLITE_OK);
        QCOMPARE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
        const auto blocked = s->createConversation({});
        QVERIFY(!blocked);
        QCOMPARE(blocked.error().code, ErrorCode::Busy);
        QVERIFY2(blocked.error().message.find("locked") != std::string::npos, blocked.error().message.c_str());
        QCOMPARE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(other);
        CHECK_OK(s->createConversation({}));
    }

    void failedStreamingWriteKeepsTextPending()
    {
        std::int64_t clockMs = 0;
        StoreOptions options;
        options.busyTimeoutMs = 50;
        options.steadyClockMs = [&clockMs] { return clockMs; };
        const std::string path = dbPath("pending.sqlite3");
        auto s = openStore(path, options);
        QVERIFY(s);
        const MessageId reply = s->beginReply(s->createConversation({}).value()).value();
        CHECK_OK(s->appendDelta(reply, "before the lock, "));
        sqlite3* other = nullptr;
        QCOMPARE(sqlite3_open(path.c_str(), &other), SQLITE_OK);
        QCOMPARE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
        clockMs = 250;  // a write is due, and the database is locked
        const Status blocked = s->appendDelta(reply, "during the lock, ");
        QVERIFY(!blocked);
        QCOMPARE(blocked.error().code, ErrorCode::Busy);
        QCOMPARE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(other);
        CHECK_OK(s->appendDelta(reply, "after it."));
        CHECK_OK(s->flush());
        QCOMPARE(rawText(path, "SELECT content FROM messages WHERE id = " + std::to_string(reply)),
                 std::string("before the lock, during the lock, after it."));
    }
};

QTEST_APPLESS_MAIN(TestConversationStoreRecovery)
#include "tst_conversation_store_recovery.moc"
