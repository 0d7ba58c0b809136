// SHA-256 against the NIST FIPS 180-2 example vectors, and the streamed file digest against
// digests computed independently (Python hashlib) for files that span several read chunks.
#include <QTemporaryDir>
#include <QtTest>

#include <cstdio>
#include <string>

#include "util/sha256.h"

using namespace hearth;

namespace {

std::string writeFile(const QTemporaryDir& dir, const char* name, const std::string& contents)
{
    const std::string path = dir.filePath(QString::fromUtf8(name)).toStdString();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        return {};
    const bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
    return std::fclose(f) == 0 && ok ? path : std::string();
}

}  // namespace

class TestSha256 : public QObject {
    Q_OBJECT

private slots:
    void nistVectors_data()
    {
        QTest::addColumn<QByteArray>("message");
        QTest::addColumn<QString>("digest");
        QTest::newRow("empty") << QByteArray() << QStringLiteral("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        QTest::newRow("abc") << QByteArray("abc") << QStringLiteral("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        QTest::newRow("448-bit") << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                                 << QStringLiteral("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        QTest::newRow("million-a") << QByteArray(1000000, 'a')
                                   << QStringLiteral("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    void nistVectors()
    {
        QFETCH(QByteArray, message);
        QFETCH(QString, digest);
        const std::string text(message.constData(), static_cast<std::size_t>(message.size()));
        QCOMPARE(QString::fromStdString(sha256Hex(text)), digest);

        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = writeFile(dir, "message.bin", text);
        QVERIFY(!path.empty());
        auto fileDigest = sha256File(path);
        QVERIFY2(fileDigest.isOk(), fileDigest.isOk() ? "" : fileDigest.error().toString().c_str());
        QCOMPARE(QString::fromStdString(*fileDigest), digest);
    }

    void fileLargerThanOneChunk()
    {
        // 9 MiB + 1 byte: several 4 MiB reads and a 1-byte tail. Digest from Python hashlib.
        std::string contents(9 * 1024 * 1024 + 1, '\0');
        for (std::size_t i = 0; i < contents.size(); ++i)
            contents[i] = static_cast<char>((i * 31) % 251);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = writeFile(dir, "big.bin", contents);
        QVERIFY(!path.empty());
        auto digest = sha256File(path);
        QVERIFY(digest.isOk());
        QCOMPARE(QString::fromStdString(*digest),
                 QStringLiteral("844aaed75f6a35ed82f371d36b4b6cf3c953cf44683335476d212c8cca807b04"));
    }

    void missingFileIsNotFound()
    {
        QTemporaryDir dir;
        auto digest = sha256File(dir.filePath(QStringLiteral("absent.bin")).toStdString());
        QVERIFY(!digest.isOk());
        QCOMPARE(digest.error().code, ErrorCode::NotFound);
        QVERIFY(digest.error().message.find("absent.bin") != std::string::npos);
    }
};

QTEST_APPLESS_MAIN(TestSha256)
#include "tst_sha256.moc"
