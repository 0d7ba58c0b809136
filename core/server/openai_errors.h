// The OpenAI error envelope {"error": {"message", "type", "param", "code"}} and the HTTP status,
// retry hints and JSON framing that go with it. Every error the server sends goes through here,
// so clients (the SDKs, Open WebUI) always find error.message and never an HTML page.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace httplib {
struct Response;
}

namespace hearth::server {

struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::optional<std::string> param;
    std::optional<std::string> code;
    int retryAfterS = 0;      // > 0: send Retry-After
    bool noRetry = false;     // send x-should-retry: false (the SDKs retry 5xx otherwise)
};

ApiError invalidRequest(std::string message, std::optional<std::string> param = std::nullopt);
ApiError modelNotFound(const std::string& model);
ApiError routeNotFound(const std::string& method, const std::string& path);
ApiError methodNotAllowed(const std::string& method, const std::string& path);
ApiError unauthorized(std::string message);
ApiError payloadTooLarge(std::size_t limitBytes);
ApiError contextLengthExceeded(std::size_t promptTokens, std::int64_t contextLength);
ApiError modelLoading(int retryAfterS);
ApiError modelNotLoaded(std::string message);
ApiError internalError(std::string message);
// An engine error (submit failed, generation failed) as the status a client should see:
// Busy -> 429, Unavailable -> 503, InvalidArgument -> 400, NotFound -> 404, else 500.
ApiError fromEngineError(const Error& error, int retryAfterS);

nlohmann::json errorBody(const ApiError& error);
// Compact single-line UTF-8 JSON; invalid UTF-8 from a model becomes U+FFFD instead of throwing.
std::string dumpJson(const nlohmann::json& value);
std::string dumpJson(const nlohmann::ordered_json& value);
// Sets status, Content-Type application/json; charset=utf-8 and the body.
void writeJson(httplib::Response& response, int status, const nlohmann::json& body);
void writeError(httplib::Response& response, const ApiError& error);

}  // namespace hearth::server
