// SHA-256 through OpenSSL's EVP interface (the low-level SHA256_* calls are deprecated in 3.0).
#include "util/sha256.h"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace hearth {

namespace {

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx newSha256()
{
    MdCtx ctx(EVP_MD_CTX_new());
    if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        ctx.reset();
    return ctx;
}

std::string finishHex(EVP_MD_CTX* ctx)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx, digest, &n) != 1)
        return {};
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (unsigned int i = 0; i < n; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xF]);
    }
    return out;
}

}  // namespace

std::string sha256Hex(std::span<const std::uint8_t> bytes)
{
    MdCtx ctx = newSha256();
    if (!ctx || EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1)
        return {};
    return finishHex(ctx.get());
}

std::string sha256Hex(std::string_view text)
{
    return sha256Hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

Result<std::string> sha256File(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        return makeError(err == ENOENT || err == ENOTDIR ? ErrorCode::NotFound : ErrorCode::Io,
                         "cannot open " + path + ": " + std::strerror(err));
    }
    MdCtx ctx = newSha256();
    if (!ctx) {
        ::close(fd);
        return makeError(ErrorCode::Internal, "sha256: OpenSSL could not set up a SHA-256 context");
    }
    std::vector<unsigned char> buffer(std::size_t(4) << 20);
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return makeError(ErrorCode::Io, "cannot read " + path + ": " + std::strerror(err));
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n)) != 1) {
            ::close(fd);
            return makeError(ErrorCode::Internal, "sha256: OpenSSL failed while hashing " + path);
        }
    }
    ::close(fd);
    std::string hex = finishHex(ctx.get());
    if (hex.empty())
        return makeError(ErrorCode::Internal, "sha256: OpenSSL failed to finish the digest of " + path);
    return hex;
}

}  // namespace hearth
