// Error envelope construction; statuses and codes follow ../shared/API-COMPAT.md's table.
#include "server/openai_errors.h"

#include <httplib.h>

namespace hearth::server {

ApiError invalidRequest(std::string message, std::optional<std::string> param)
{
    ApiError e;
    e.status = 400;
    e.message = std::move(message);
    e.param = std::move(param);
    e.noRetry = true;
    return e;
}

ApiError modelNotFound(const std::string& model)
{
    ApiError e;
    e.status = 404;
    e.message = "The model '" + model + "' does not exist; GET /v1/models lists the models this server serves";
    e.type = "not_found_error";
    e.param = "model";
    e.code = "model_not_found";
    return e;
}

ApiError routeNotFound(const std::string& method, const std::string& path)
{
    ApiError e;
    e.status = 404;
    e.message = "Unknown route: " + method + " " + path;
    e.type = "not_found_error";
    e.code = "unknown_url";
    return e;
}

ApiError methodNotAllowed(const std::string& method, const std::string& path)
{
    ApiError e;
    e.status = 405;
    e.message = "Method " + method + " is not allowed on " + path;
    e.code = "method_not_allowed";
    return e;
}

ApiError unauthorized(std::string message)
{
    ApiError e;
    e.status = 401;
    e.message = std::move(message);
    e.type = "authentication_error";
    e.code = "invalid_api_key";
    return e;
}

ApiError payloadTooLarge(std::size_t limitBytes)
{
    ApiError e;
    e.status = 413;
    e.message = "The request body is larger than this server accepts (" + std::to_string(limitBytes) + " bytes)";
    e.code = "request_too_large";
    e.noRetry = true;
    return e;
}

ApiError contextLengthExceeded(std::size_t promptTokens, std::int64_t contextLength)
{
    ApiError e = invalidRequest("This model's maximum context length is " + std::to_string(contextLength) +
                                    " tokens, but the prompt has " + std::to_string(promptTokens) +
                                    " tokens; shorten the messages",
                                "messages");
    e.code = "context_length_exceeded";
    return e;
}

ApiError modelLoading(int retryAfterS)
{
    ApiError e;
    e.status = 503;
    e.message = "The model is still loading; retry shortly (GET /health shows the progress)";
    e.type = "unavailable_error";
    e.code = "model_loading";
    e.retryAfterS = retryAfterS;
    return e;
}

ApiError modelNotLoaded(std::string message)
{
    ApiError e;
    e.status = 503;
    e.message = std::move(message);
    e.type = "unavailable_error";
    e.code = "model_not_loaded";
    e.noRetry = true;
    return e;
}

ApiError internalError(std::string message)
{
    ApiError e;
    e.status = 500;
    e.message = std::move(message);
    e.type = "server_error";
    e.code = "internal_error";
    e.noRetry = true;
    return e;
}

ApiError fromEngineError(const Error& error, int retryAfterS)
{
    switch (error.code) {
    case ErrorCode::Busy: {
        ApiError e;
        e.status = 429;
        e.message = "The server is busy (its request queue is full); retry after a few seconds: " + error.message;
        e.type = "rate_limit_error";
        e.code = "queue_full";
        e.retryAfterS = retryAfterS;
        return e;
    }
    case ErrorCode::Unavailable: {
        ApiError e = modelLoading(retryAfterS);
        e.message = error.message;
        return e;
    }
    case ErrorCode::InvalidArgument:
    case ErrorCode::Unsupported: return invalidRequest(error.message);
    case ErrorCode::NotFound: {
        ApiError e = invalidRequest(error.message);
        e.status = 404;
        e.type = "not_found_error";
        return e;
    }
    default: return internalError(error.toString());
    }
}

nlohmann::json errorBody(const ApiError& error)
{
    nlohmann::json inner = {{"message", error.message}, {"type", error.type}, {"param", nullptr}, {"code", nullptr}};
    if (error.param) inner["param"] = *error.param;
    if (error.code) inner["code"] = *error.code;
    return nlohmann::json{{"error", inner}};
}

std::string dumpJson(const nlohmann::json& value)
{
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dumpJson(const nlohmann::ordered_json& value)
{
    return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void writeJson(httplib::Response& response, int status, const nlohmann::json& body)
{
    response.status = status;
    response.set_content(dumpJson(body), "application/json; charset=utf-8");
}

void writeError(httplib::Response& response, const ApiError& error)
{
    if (error.retryAfterS > 0) response.set_header("Retry-After", std::to_string(error.retryAfterS));
    if (error.noRetry) response.set_header("x-should-retry", "false");
    writeJson(response, error.status, errorBody(error));
}

}  // namespace hearth::server
