// Errors as values: Status for operations without a result, Result<T> for those with one.
// Every error carries a code a caller can branch on and a message a user can act on.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace hearth {

enum class ErrorCode {
    InvalidArgument,  // the caller passed something unusable (bad parameter, malformed request)
    NotFound,         // a file, tensor, model or key does not exist
    Io,               // the operating system refused a read, write, open or map
    Corrupt,          // a file exists but its contents are malformed or truncated
    Unsupported,      // well-formed but not something Hearth handles (yet)
    OutOfMemory,      // host or device memory could not be had
    Cancelled,        // the user or the caller stopped the operation
    Busy,             // a bounded queue is full; try again later
    Unavailable,      // the resource exists but is not ready (model loading, no GPU)
    Internal,         // a bug in Hearth; the message says where
};

const char* errorCodeName(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;

    // "corrupt: model.safetensors: tensor 'x' ends past the end of the file"
    std::string toString() const;
};

inline Error makeError(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error error) : m_error(std::move(error)), m_ok(false) {}  // NOLINT: implicit by design

    static Status ok() { return Status(); }
    bool isOk() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error& error() const { assert(!m_ok); return m_error; }
    const std::string& message() const { return m_error.message; }

private:
    Error m_error;
    bool m_ok = true;
};

template <typename T>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<T, Error>, "Result<Error> is ambiguous");

public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(Error error) : m_v(std::in_place_index<1>, std::move(error)) {}  // NOLINT
    template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                      !std::is_same_v<std::decay_t<U>, T> &&
                                                      !std::is_same_v<std::decay_t<U>, Error> &&
                                                      !std::is_same_v<std::decay_t<U>, Status>>>
    Result(U&& value) : m_v(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

    bool isOk() const { return m_v.index() == 0; }
    explicit operator bool() const { return isOk(); }

    T& value() & { assert(isOk()); return std::get<0>(m_v); }
    const T& value() const& { assert(isOk()); return std::get<0>(m_v); }
    T&& value() && { assert(isOk()); return std::get<0>(std::move(m_v)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { assert(!isOk()); return std::get<1>(m_v); }
    Status status() const { return isOk() ? Status() : Status(error()); }

private:
    std::variant<T, Error> m_v;
};

}  // namespace hearth

// Propagate an error from a Status- or Result-returning expression.
#define HEARTH_TRY_STATUS(expr)                                  \
    do {                                                         \
        auto hearthTryStatus_ = (expr);                          \
        if (!hearthTryStatus_) return hearthTryStatus_.error();  \
    } while (0)

#define HEARTH_CONCAT_INNER_(a, b) a##b
#define HEARTH_CONCAT_(a, b) HEARTH_CONCAT_INNER_(a, b)
// Assign the value of a Result-returning expression to `lhs`, or return its error.
#define HEARTH_TRY_ASSIGN(lhs, expr) HEARTH_TRY_ASSIGN_IMPL_(HEARTH_CONCAT_(hearthTry_, __LINE__), lhs, expr)
#define HEARTH_TRY_ASSIGN_IMPL_(tmp, lhs, expr) \
    auto tmp = (expr);                          \
    if (!tmp) return tmp.error();               \
    lhs = std::move(tmp).value()
