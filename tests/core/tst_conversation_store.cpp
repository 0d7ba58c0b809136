// ConversationStore: conversations CRUD and ordering, settings, search, the message tree
// (edit and resend, regenerate, delete) and the coalescing of streaming writes, checked against
// hand-worked expectations and, for what reaches the disk, against a separate raw SQLite reader.
#include <QTemporaryDir>
#include <QtTest>

#include <sqlite3.h>

#include <chrono>
#include <string>
#include <vector>

#include "store/conversation_store.h"
#include "store/sqlite_db.h"

using namespace hearth;

// Passes when a Status or Result is ok; otherwise fails with its message.
#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        const auto checkOk_ = (expr);                                          \
        QVERIFY2(checkOk_.isOk(), checkOk_.isOk() ? "" : checkOk_.error().message.c_str()); \
    } while (0)

namespace {

// Reads one text value through a second, independent connection (what is on disk).
std::string rawText(const std::string& path, const std::string& sql)
{
    sqlite3* db = nullptr;
    std::string out = "<error>";
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
            const int rc = sqlite3_step(stmt);
            if (rc == SQLITE_ROW) {
                const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
                out = t ? t : "";
            } else if (rc == SQLITE_DONE) {
                out = "<no row>";
            }
        }
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return out;
}

// FTS5's own check that the search index matches the messages table.
bool searchIndexConsistent(const std::string& path)
{
    sqlite3* db = nullptr;
    bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
              sqlite3_exec(db, "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)", nullptr,
                           nullptr, nullptr) == SQLITE_OK;
    if (!ok)
        qWarning("search index check: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return ok;
}

std::vector<std::string> titles(const std::vector<ConversationInfo>& list)
{
    std::vector<std::string> out;
    for (const auto& c : list)
        out.push_back(c.title);
    return out;
}

std::vector<std::string> contents(const Conversation& c)
{
    std::vector<std::string> out;
    for (const auto& m : c.messages)
        out.push_back(m.content);
    return out;
}

NewMessage userMessage(std::string text)
{
    NewMessage m;
    m.role = MessageRole::User;
    m.content = std::move(text);
    return m;
}

// Opens a store, or reports why not (the caller QVERIFYs the pointer).
std::unique_ptr<ConversationStore> openStore(const std::string& path, StoreOptions options = {})
{
    auto store = ConversationStore::open(path, std::move(options));
    if (!store) {
        qWarning("%s", store.error().message.c_str());
        return nullptr;
    }
    return std::move(store).value();
}

}  // namespace

class TestConversationStore : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string dbPath(const char* name) const { return m_dir.filePath(QString::fromUtf8(name)).toStdString(); }

private slots:
    void createListRenameDelete()
    {
        auto store = ConversationStore::open(dbPath("crud.sqlite3"));
        QVERIFY2(store, store ? "" : store.error().message.c_str());
        QVERIFY((*store)->report().created);
        ConversationStore& s = **store;

        NewConversation nc;
        nc.title = "first";
        const ConversationId a = s.createConversation(nc).value();
        nc.title = "second";
        const ConversationId b = s.createConversation(nc).value();
        nc.title = "third";
        const ConversationId c = s.createConversation(nc).value();
        QCOMPARE(titles(s.listConversations().value()), (std::vector<std::string>{"third", "second", "first"}));

        // New activity moves a conversation to the top; renaming does not.
        CHECK_OK(s.addMessage(a, userMessage("hello")));
        CHECK_OK(s.renameConversation(c, "third renamed"));
        QCOMPARE(titles(s.listConversations().value()),
                 (std::vector<std::string>{"first", "third renamed", "second"}));

        ConversationInfo info = s.conversationInfo(b).value();
        info.archived = true;
        info.pinned = true;
        info.modelPath = "/models/qwen";
        info.systemPrompt = "Be brief.";
        info.sampling.temperature = 0.7;
        info.sampling.topK = 40;
        info.sampling.seed = -1;
        info.sampling.presetName = "precise";
        CHECK_OK(s.updateConversationSettings(info));
        QCOMPARE(titles(s.listConversations().value()), (std::vector<std::string>{"first", "third renamed"}));
        QCOMPARE(titles(s.listConversations(true).value()),
                 (std::vector<std::string>{"first", "third renamed", "second"}));
        const ConversationInfo reread = s.conversationInfo(b).value();
        QVERIFY(reread.sampling == info.sampling);
        QVERIFY(!reread.sampling.topP.has_value());
        QCOMPARE(reread.systemPrompt, std::string("Be brief."));
        QVERIFY(reread.pinned && reread.archived);
        QCOMPARE(rawText(s.path(), "SELECT sampling_json FROM conversations WHERE id = " + std::to_string(b)),
                 std::string(R"({"preset":"precise","seed":-1,"temperature":0.7,"top_k":40})"));

        CHECK_OK(s.deleteConversation(a));
        QCOMPARE(rawText(s.path(), "SELECT count(*) FROM messages"), std::string("0"));
        const Status again = s.deleteConversation(a);
        QVERIFY(!again && again.error().code == ErrorCode::NotFound);
        QCOMPARE(s.renameConversation(a, "x").error().code, ErrorCode::NotFound);
        QCOMPARE(s.addMessage(a, userMessage("x")).error().code, ErrorCode::NotFound);
    }

    void settings()
    {
        const QByteArray xdg = qgetenv("XDG_DATA_HOME");
        const std::string base = xdg.startsWith('/') ? xdg.toStdString()
                                                     : qgetenv("HOME").toStdString() + "/.local/share";
        QCOMPARE(ConversationStore::defaultPath(), base + "/hearth/conversations.sqlite3");

        auto s = openStore(dbPath("settings.sqlite3"));
        QVERIFY(s);
        QVERIFY(!s->setting("last_model").value().has_value());
        CHECK_OK(s->setSetting("last_model", "/models/a"));
        CHECK_OK(s->setSetting("last_model", "/models/b"));
        QCOMPARE(s->setting("last_model").value().value(), std::string("/models/b"));
        CHECK_OK(s->removeSetting("last_model"));
        QVERIFY(!s->setting("last_model").value().has_value());
    }

    void search_data()
    {
        QTest::addColumn<QByteArray>("query");  // UTF-8
        QTest::addColumn<QByteArrayList>("expected");  // titles, most recently updated first
        QTest::newRow("word in message") << QByteArray("borrow") << QByteArrayList{"Rust lifetimes"};
        QTest::newRow("ascii case folded") << QByteArray("BORROW CHECKER") << QByteArrayList{"Rust lifetimes"};
        QTest::newRow("title") << QByteArray("lifetimes") << QByteArrayList{"Rust lifetimes"};
        QTest::newRow("chinese two chars") << QByteArray("天气") << QByteArrayList{"出门"};
        QTest::newRow("chinese phrase") << QByteArray("北京的天气") << QByteArrayList{"出门"};
        QTest::newRow("chinese title") << QByteArray("出门") << QByteArrayList{"出门"};
        QTest::newRow("percent literal") << QByteArray("50%") << QByteArrayList{"Sale"};
        QTest::newRow("percent alone") << QByteArray("%") << QByteArrayList{"Sale"};
        QTest::newRow("underscore alone") << QByteArray("_") << QByteArrayList{"snake_case names"};
        QTest::newRow("underscore in word") << QByteArray("e_c") << QByteArrayList{"snake_case names"};
        QTest::newRow("backslash") << QByteArray("\\p") << QByteArrayList{"Paths"};
        QTest::newRow("double quote") << QByteArray("\"hi\"") << QByteArrayList{"Quotes"};
        QTest::newRow("two conversations") << QByteArray("price") << QByteArrayList{"Prices", "Sale"};
        QTest::newRow("no match") << QByteArray("zebra crossing") << QByteArrayList{};
    }

    void search()
    {
        QFETCH(QByteArray, query);
        QFETCH(QByteArrayList, expected);
        // One fresh database per row keeps the rows independent.
        const std::string path = dbPath("search.sqlite3");
        QFile::remove(QString::fromStdString(path));
        QFile::remove(QString::fromStdString(path + "-wal"));
        QFile::remove(QString::fromStdString(path + "-shm"));
        auto s = openStore(path);
        QVERIFY(s);
        const std::vector<std::pair<std::string, std::string>> data = {
            {"Rust lifetimes", "The borrow checker explained"},
            {"出门", "今天北京的天气很好，适合散步"},
            {"Sale", "Everything is 50% off: the price drops"},
            {"Prices", "price 500 dollars, model 5x0"},
            {"snake_case names", "use lower case"},
            {"Paths", "C:\\path\\to"},
            {"Quotes", "He said \"hi\" there"},
        };
        for (const auto& [title, text] : data) {
            NewConversation nc;
            nc.title = title;
            const ConversationId id = s->createConversation(nc).value();
            CHECK_OK(s->addMessage(id, userMessage(text)));
        }
        const auto found = s->searchConversations(query.toStdString());
        QVERIFY2(found, found ? "" : found.error().message.c_str());
        QByteArrayList got;
        for (const auto& c : found.value())
            got << QByteArray::fromStdString(c.title);
        QCOMPARE(got, expected);
    }

    void searchSeesFinishedAndStreamingReplies()
    {
        auto s = openStore(dbPath("search_stream.sqlite3"));
        QVERIFY(s);
        const ConversationId id = s->createConversation({}).value();
        CHECK_OK(s->addMessage(id, userMessage("question")));
        const MessageId reply = s->beginReply(id).value();
        CHECK_OK(s->appendDelta(reply, "a reply about 向量数据库"));
        QCOMPARE(s->searchConversations("向量数据库").value().size(), size_t(1));
        CHECK_OK(s->finishReply(reply, {}));
        QCOMPARE(s->searchConversations("向量数据库").value().size(), size_t(1));
        QCOMPARE(s->searchConversations("about").value().size(), size_t(1));
        CHECK_OK(s->deleteMessage(reply));
        QCOMPARE(s->searchConversations("向量数据库").value().size(), size_t(0));
        QVERIFY(searchIndexConsistent(s->path()));
    }

    void editAndRegenerateKeepAlternatives()
    {
        auto s = openStore(dbPath("branches.sqlite3"));
        QVERIFY(s);
        const ConversationId id = s->createConversation({}).value();
        const MessageId u1 = s->addMessage(id, userMessage("What is 2+2?")).value();
        const MessageId a1 = s->beginReply(id).value();
        CHECK_OK(s->appendDelta(a1, "4"));
        CHECK_OK(s->finishReply(a1, {}));
        const MessageId u2 = s->addMessage(id, userMessage("And 3+3?")).value();
        const MessageId a2 = s->beginReply(id).value();
        CHECK_OK(s->appendDelta(a2, "6"));
        CHECK_OK(s->finishReply(a2, {}));
        QCOMPARE(contents(s->conversation(id).value()),
                 (std::vector<std::string>{"What is 2+2?", "4", "And 3+3?", "6"}));

        // Regenerate the last reply: a sibling of a2 becomes the active one.
        const MessageId a2b = s->beginAlternativeReply(a2).value();
        CHECK_OK(s->appendDelta(a2b, "six"));
        CHECK_OK(s->finishReply(a2b, {}));
        Conversation c = s->conversation(id).value();
        QCOMPARE(contents(c), (std::vector<std::string>{"What is 2+2?", "4", "And 3+3?", "six"}));
        QCOMPARE(c.messages[3].siblingIndex, 1);
        QCOMPARE(c.messages[3].siblingCount, 2);
        QCOMPARE(c.messages[2].siblingCount, 1);

        // Edit the first question and resend: the new branch hides the old turns.
        const MessageId u1b = s->addAlternative(u1, userMessage("What is 2+3?")).value();
        const MessageId a1b = s->beginReply(id).value();
        CHECK_OK(s->appendDelta(a1b, "5"));
        CHECK_OK(s->finishReply(a1b, {}));
        c = s->conversation(id).value();
        QCOMPARE(contents(c), (std::vector<std::string>{"What is 2+3?", "5"}));
        QCOMPARE(c.messages[0].siblingIndex, 1);
        QCOMPARE(c.messages[0].siblingCount, 2);
        QVERIFY(!c.messages[0].parentId.has_value());
        QCOMPARE(s->allMessages(id).value().size(), size_t(7));  // u1 a1 u2 a2 a2b u1b a1b

        // Switching back to the first question shows its newest continuation.
        CHECK_OK(s->selectBranch(u1));
        QCOMPARE(contents(s->conversation(id).value()),
                 (std::vector<std::string>{"What is 2+2?", "4", "And 3+3?", "six"}));
        CHECK_OK(s->selectBranch(a2));
        QCOMPARE(contents(s->conversation(id).value()),
                 (std::vector<std::string>{"What is 2+2?", "4", "And 3+3?", "6"}));

        QVERIFY(searchIndexConsistent(s->path()));
        // Deleting the active reply falls back to its remaining sibling.
        CHECK_OK(s->deleteMessage(a2));
        QCOMPARE(contents(s->conversation(id).value()),
                 (std::vector<std::string>{"What is 2+2?", "4", "And 3+3?", "six"}));
        // Deleting a message removes everything after it on every branch.
        CHECK_OK(s->deleteMessage(u2));
        QCOMPARE(contents(s->conversation(id).value()), (std::vector<std::string>{"What is 2+2?", "4"}));
        QCOMPARE(s->allMessages(id).value().size(), size_t(4));
        CHECK_OK(s->deleteMessage(u1));
        QCOMPARE(contents(s->conversation(id).value()), (std::vector<std::string>{"What is 2+3?", "5"}));
        CHECK_OK(s->deleteMessage(u1b));
        c = s->conversation(id).value();
        QVERIFY(c.messages.empty());
        QVERIFY(!c.info.activeLeafId.has_value());
        QCOMPARE(s->message(a1b).error().code, ErrorCode::NotFound);
        QCOMPARE(rawText(s->path(), "SELECT count(*) FROM messages"), std::string("0"));
    }

    void messageFieldsAndStates()
    {
        auto s = openStore(dbPath("fields.sqlite3"));
        QVERIFY(s);
        const ConversationId id = s->createConversation({}).value();
        NewMessage queued = userMessage("sent before the model was ready");
        queued.state = MessageState::Waiting;
        const MessageId u = s->addMessage(id, queued).value();
        QCOMPARE(s->message(u).value().state, MessageState::Waiting);
        CHECK_OK(s->setMessageState(u, MessageState::Complete));

        const MessageId r = s->beginReply(id).value();
        QCOMPARE(s->message(r).value().state, MessageState::Streaming);
        CHECK_OK(s->appendDelta(r, "Let me check.", "The user wants the weather."));
        ReplyStats stats;
        stats.promptTokens = 120;
        stats.cachedTokens = 96;
        stats.generatedTokens = 7;
        stats.ttftMs = 41.5;
        stats.tokensPerS = 88.25;
        const std::string calls = R"([{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{}"}}])";
        CHECK_OK(s->finishReply(r, stats, calls));
        const Message m = s->message(r).value();
        QCOMPARE(m.content, std::string("Let me check."));
        QCOMPARE(m.reasoningContent, std::string("The user wants the weather."));
        QCOMPARE(m.toolCallsJson, calls);
        QCOMPARE(m.state, MessageState::Complete);
        QVERIFY(m.stats == stats);
        QCOMPARE(rawText(s->path(), "SELECT stats_json FROM messages WHERE id = " + std::to_string(r)),
                 std::string(R"({"cached_tokens":96,"generated_tokens":7,"prompt_tokens":120,"tokens_per_s":88.25,"ttft_ms":41.5})"));

        NewMessage tool;
        tool.role = MessageRole::Tool;
        tool.toolCallId = "call_1";
        tool.content = "sunny";
        CHECK_OK(s->addMessage(id, tool));
        const MessageId failed = s->beginReply(id).value();
        CHECK_OK(s->appendDelta(failed, "partial"));
        CHECK_OK(s->failReply(failed, MessageState::Error, "out of KV cache pages"));
        const Message f = s->message(failed).value();
        QCOMPARE(f.state, MessageState::Error);
        QCOMPARE(f.content, std::string("partial"));
        QCOMPARE(f.errorMessage, std::string("out of KV cache pages"));
        const MessageId stopped = s->beginReply(id).value();
        CHECK_OK(s->failReply(stopped, MessageState::Cancelled, {}));
        QCOMPARE(s->message(stopped).value().state, MessageState::Cancelled);

        // Misuse is refused with a reason, never a crash.
        QCOMPARE(s->appendDelta(stopped, "late").error().code, ErrorCode::InvalidArgument);
        QCOMPARE(s->appendDelta(987654, "x").error().code, ErrorCode::InvalidArgument);
        QCOMPARE(s->failReply(s->beginReply(id).value(), MessageState::Complete, {}).error().code,
                 ErrorCode::InvalidArgument);
        NewMessage badCalls = userMessage("x");
        badCalls.toolCallsJson = "{not json";
        QCOMPARE(s->addMessage(id, badCalls).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(s->beginAlternativeReply(u).error().code, ErrorCode::InvalidArgument);
    }

    void streamingWritesAreCoalescedByTime()
    {
        std::int64_t clockMs = 0;
        StoreOptions options;
        options.steadyClockMs = [&clockMs] { return clockMs; };
        auto s = openStore(dbPath("coalesce.sqlite3"), options);
        QVERIFY(s);
        const ConversationId id = s->createConversation({}).value();
        const MessageId r = s->beginReply(id).value();
        const std::string onDisk = "SELECT content FROM messages WHERE id = " + std::to_string(r);
        std::string expected;
        // 100 deltas of "ab", 10 ms apart: writes are due at 200, 400, ..., 1000 ms.
        for (int i = 1; i <= 100; ++i) {
            clockMs = i * 10;
            CHECK_OK(s->appendDelta(r, "ab"));
            expected += "ab";
            if (i == 19)
                QCOMPARE(rawText(s->path(), onDisk), std::string());
            if (i == 20 || i == 60)
                QCOMPARE(rawText(s->path(), onDisk), expected);
            if (i == 79)
                QCOMPARE(rawText(s->path(), onDisk), expected.substr(0, 120));
        }
        QCOMPARE(s->streamWriteCount(), std::int64_t{5});
        clockMs += 50;
        CHECK_OK(s->appendDelta(r, "tail"));
        expected += "tail";
        QCOMPARE(s->message(r).value().content, expected);  // reads include pending text
        QCOMPARE(s->streamWriteCount(), std::int64_t{5});
        CHECK_OK(s->flush());
        QCOMPARE(s->streamWriteCount(), std::int64_t{6});
        QCOMPARE(rawText(s->path(), onDisk), expected);
        CHECK_OK(s->appendDelta(r, "!"));
        CHECK_OK(s->finishReply(r, {}));
        QCOMPARE(rawText(s->path(), onDisk), expected + "!");
        QCOMPARE(rawText(s->path(), "SELECT state FROM messages WHERE id = " + std::to_string(r)), std::string("complete"));
    }

    void streamingWritesAreCoalescedBySize()
    {
        StoreOptions options;
        options.flushChars = 10;
        options.steadyClockMs = [] { return std::int64_t{0}; };
        auto s = openStore(dbPath("coalesce_size.sqlite3"), options);
        QVERIFY(s);
        const MessageId r = s->beginReply(s->createConversation({}).value()).value();
        for (int i = 0; i < 5; ++i)
            CHECK_OK(s->appendDelta(r, "12345"));
        QCOMPARE(s->streamWriteCount(), std::int64_t{2});
        QCOMPARE(rawText(s->path(), "SELECT content FROM messages WHERE id = " + std::to_string(r)),
                 std::string("12345123451234512345"));
    }

    void manyAppendsBoundedWrites()
    {
        auto s = openStore(dbPath("many.sqlite3"));
        QVERIFY(s);
        const MessageId r = s->beginReply(s->createConversation({}).value()).value();
        const auto start = std::chrono::steady_clock::now();
        std::string expected;
        for (int i = 0; i < 50000; ++i) {
            const std::string piece = std::to_string(i) + (i % 7 == 0 ? "\n" : " ");
            CHECK_OK(s->appendDelta(r, piece));
            expected += piece;
        }
        const auto elapsedMs =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        // At most one write per 200 ms interval plus one per 32 KiB of text.
        const std::int64_t bound = elapsedMs / 200 + 1 + static_cast<std::int64_t>(expected.size() / (32 * 1024)) + 1;
        QVERIFY2(s->streamWriteCount() <= bound,
                 qPrintable(QStringLiteral("%1 writes in %2 ms").arg(s->streamWriteCount()).arg(elapsedMs)));
        CHECK_OK(s->finishReply(r, {}));
        QCOMPARE(rawText(s->path(), "SELECT content FROM messages WHERE id = " + std::to_string(r)), expected);
    }

    void sqliteFailuresBecomeActionableErrors_data()
    {
        QTest::addColumn<int>("sqliteCode");
        QTest::addColumn<int>("code");
        QTest::addColumn<QByteArray>("messagePart");
        QTest::newRow("busy") << SQLITE_BUSY << int(ErrorCode::Busy) << QByteArray("locked by another");
        QTest::newRow("locked") << SQLITE_LOCKED << int(ErrorCode::Busy) << QByteArray("locked by another");
        QTest::newRow("disk full") << SQLITE_FULL << int(ErrorCode::Io) << QByteArray("disk is full");
        QTest::newRow("write error") << SQLITE_IOERR_WRITE << int(ErrorCode::Io) << QByteArray("saving");
        QTest::newRow("corrupt") << SQLITE_CORRUPT << int(ErrorCode::Corrupt) << QByteArray("damaged");
        QTest::newRow("not a database") << SQLITE_NOTADB << int(ErrorCode::Corrupt) << QByteArray("not a database");
        QTest::newRow("read-only") << SQLITE_READONLY << int(ErrorCode::Io) << QByteArray("saving");
    }

    void sqliteFailuresBecomeActionableErrors()
    {
        QFETCH(int, sqliteCode);
        QFETCH(int, code);
        QFETCH(QByteArray, messagePart);
        const Error e = store_detail::sqliteError(sqliteCode, "detail", "/data/c.sqlite3", "saving");
        QCOMPARE(int(e.code), code);
        QVERIFY2(e.message.rfind("/data/c.sqlite3: saving: ", 0) == 0, e.message.c_str());
        QVERIFY2(e.message.find(messagePart.toStdString()) != std::string::npos, e.message.c_str());
    }
};

QTEST_APPLESS_MAIN(TestConversationStore)
#include "tst_conversation_store.moc"
