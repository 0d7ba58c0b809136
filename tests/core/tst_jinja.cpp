// The Jinja engine renders language features exactly as jinja2 does in transformers' sandbox
// (outputs recorded from jinja2 by tests/reference/make_chat_goldens.py), reports syntax errors
// with their line, and stops hostile templates with its limits instead of hanging or crashing.
#include <QtTest>

#include <fstream>
#include <sstream>

#include "chat/chat_template.h"

using namespace hearth;
using Json = nlohmann::ordered_json;

namespace {

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

const Json& features()
{
    static const Json j = Json::parse(readFile(std::string(HEARTH_FIXTURES_DIR) + "/chat-goldens/jinja_features.json"));
    return j;
}

std::tm fixedTime()
{
    std::tm t{};
    t.tm_year = 125;
    t.tm_mon = 2;
    t.tm_mday = 14;
    t.tm_hour = 15;
    t.tm_min = 9;
    t.tm_sec = 26;
    t.tm_wday = 5;
    t.tm_yday = 72;
    return t;
}

Result<std::string> renderSource(const std::string& source, const Json& context = Json::object(),
                                  const jinja::RenderLimits& limits = {})
{
    auto t = ChatTemplate::parse(source, "test");
    if (!t)
        return t.error();
    t->setLimits(limits);
    t->setClock(fixedTime);
    return t->render(context);
}

}  // namespace

class TestJinja : public QObject {
    Q_OBJECT

private slots:
    void matchesJinja2_data()
    {
        QTest::addColumn<int>("index");
        const Json& all = features();
        QVERIFY(all.size() > 50);
        for (size_t i = 0; i < all.size(); ++i)
            QTest::newRow(all[i]["name"].get<std::string>().c_str()) << static_cast<int>(i);
    }

    void matchesJinja2()
    {
        QFETCH(int, index);
        const Json& f = features()[static_cast<size_t>(index)];
        const Result<std::string> out = renderSource(f["template"].get<std::string>(), f["context"]);
        if (f.contains("error")) {
            QVERIFY2(!out.isOk(), ("jinja2 failed with " + f["error"].get<std::string>() + " but we rendered: " +
                                   (out.isOk() ? *out : std::string()))
                                      .c_str());
            return;
        }
        QVERIFY2(out.isOk(), out.isOk() ? "" : out.error().toString().c_str());
        QCOMPARE(QString::fromStdString(*out), QString::fromStdString(f["output"].get<std::string>()));
    }

    void raiseExceptionMessage()
    {
        const auto out = renderSource("line one\n{{ raise_exception('Only user and assistant roles') }}");
        QVERIFY(!out.isOk());
        QCOMPARE(out.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(out.error().message.find("Only user and assistant roles") != std::string::npos, out.error().message.c_str());
        QVERIFY2(out.error().message.find("line 2") != std::string::npos, out.error().message.c_str());
    }

    void syntaxErrorsNameTheLine_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<int>("line");
        QTest::newRow("unclosed if") << "a\nb\n{% if x %}\nc" << 4;
        QTest::newRow("unknown tag") << "a\n{% frobnicate %}" << 2;
        QTest::newRow("bad expression") << "x\ny\n{{ 1 + }}" << 3;
        QTest::newRow("unclosed var") << "{{ x\n\n" << 1;
        QTest::newRow("unclosed string") << "\n{{ 'abc }}" << 2;
        QTest::newRow("unclosed comment") << "a\n{# never ends" << 2;
        QTest::newRow("stray endfor") << "{% if a %}\n{% endfor %}" << 2;
        QTest::newRow("include unsupported") << "\n\n{% include 'x.html' %}" << 3;
        QTest::newRow("bad char") << "{{ a ? b }}" << 1;
        QTest::newRow("missing in") << "{% for x of y %}{% endfor %}" << 1;
    }

    void syntaxErrorsNameTheLine()
    {
        QFETCH(QString, source);
        QFETCH(int, line);
        const auto t = ChatTemplate::parse(source.toStdString(), "broken");
        QVERIFY(!t.isOk());
        QCOMPARE(t.error().code, ErrorCode::Corrupt);
        const std::string expected = "chat template 'broken', line " + std::to_string(line);
        QVERIFY2(t.error().message.find(expected) != std::string::npos, t.error().message.c_str());
    }

    void runtimeErrorsNameTheLine()
    {
        const auto out = renderSource("ok\n\n{{ 1 + 'a' }}");
        QVERIFY(!out.isOk());
        QVERIFY2(out.error().message.find("line 3") != std::string::npos, out.error().message.c_str());
    }

    void limitsStopBombs_data()
    {
        QTest::addColumn<QString>("source");
        QTest::newRow("loop bomb") << "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}";
        QTest::newRow("macro recursion") << "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
        QTest::newRow("mutual recursion") << "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}";
        QTest::newRow("output bomb") << "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}";
        QTest::newRow("string doubling") << "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}";
        QTest::newRow("list doubling") << "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}";
        QTest::newRow("huge repeat") << "{{ 'x' * 1000000000000 }}";
        QTest::newRow("int overflow") << "{{ 2 ** 200 }}";
        QTest::newRow("deep nesting") << QStringLiteral("{{ ") + QStringLiteral("(").repeated(5000) + QStringLiteral("1") +
                                             QStringLiteral(")").repeated(5000) + QStringLiteral(" }}");
        QTest::newRow("deep blocks") << QStringLiteral("{% if true %}").repeated(3000) + QStringLiteral("{% endif %}").repeated(3000);
    }

    void limitsStopBombs()
    {
        QFETCH(QString, source);
        jinja::RenderLimits limits;
        limits.maxOutputBytes = 1 << 20;
        QElapsedTimer timer;
        timer.start();
        const auto out = renderSource(source.toStdString(), Json::object(), limits);
        QVERIFY2(!out.isOk(), "a bomb rendered without hitting a limit");
        QVERIFY2(timer.elapsed() < 20000, "a limit took too long to trigger");
    }

    void workLimitStopsLongRenders()
    {
        jinja::RenderLimits limits;
        limits.maxSteps = 100000;
        const auto out = renderSource("{% for i in range(100000) %}{{ i }}{% endfor %}", Json::object(), limits);
        QVERIFY(!out.isOk());
        QVERIFY2(out.error().message.find("work limit") != std::string::npos, out.error().message.c_str());
    }

    void templateSizeLimit()
    {
        const auto t = ChatTemplate::parse(std::string(ChatTemplate::kMaxSourceBytes + 1, 'x'), "huge");
        QVERIFY(!t.isOk());
    }

    void contextMustBeObject()
    {
        auto t = ChatTemplate::parse("x", "t");
        QVERIFY(t.isOk());
        QVERIFY(!t->render(Json::array()).isOk());
    }
};

QTEST_APPLESS_MAIN(TestJinja)
#include "tst_jinja.moc"
