#include "util/result.h"

namespace hearth {

const char* errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::Io: return "i/o error";
    case ErrorCode::Corrupt: return "corrupt";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::OutOfMemory: return "out of memory";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Busy: return "busy";
    case ErrorCode::Unavailable: return "unavailable";
    case ErrorCode::Internal: return "internal error";
    }
    return "error";
}

std::string Error::toString() const
{
    return std::string(errorCodeName(code)) + ": " + message;
}

}  // namespace hearth
