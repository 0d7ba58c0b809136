// Result/Status carry values and errors without exceptions; the TRY macros propagate errors.
#include <QtTest>

#include "util/result.h"

using namespace hearth;

namespace {

Result<int> parsePositive(int v)
{
    if (v <= 0)
        return makeError(ErrorCode::InvalidArgument, "value must be positive, got " + std::to_string(v));
    return v;
}

Result<int> doubled(int v)
{
    HEARTH_TRY_ASSIGN(int x, parsePositive(v));
    return 2 * x;
}

Status check(int v)
{
    HEARTH_TRY_STATUS(parsePositive(v));
    return Status::ok();
}

}  // namespace

class TestResult : public QObject {
    Q_OBJECT

private slots:
    void valueAndError()
    {
        Result<int> ok = doubled(21);
        QVERIFY(ok.isOk());
        QCOMPARE(*ok, 42);

        Result<int> bad = doubled(-3);
        QVERIFY(!bad.isOk());
        QCOMPARE(bad.error().code, ErrorCode::InvalidArgument);
        QCOMPARE(QString::fromStdString(bad.error().toString()),
                 QStringLiteral("invalid argument: value must be positive, got -3"));
    }

    void statusPropagates()
    {
        QVERIFY(check(1).isOk());
        const Status s = check(0);
        QVERIFY(!s.isOk());
        QCOMPARE(s.error().code, ErrorCode::InvalidArgument);
    }

    void moveOnlyValues()
    {
        Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
        QVERIFY(r.isOk());
        std::unique_ptr<int> p = std::move(r).value();
        QCOMPARE(*p, 7);
    }
};

QTEST_APPLESS_MAIN(TestResult)
#include "tst_result.moc"
