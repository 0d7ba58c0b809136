// Running one submitted generation to its HTTP answer: a whole JSON reply, or an SSE stream
// with keep-alive comments while nothing else is sent. Either way a client that goes away
// cancels its generation within about a second.
#pragma once

#include <string>

#include "engine/engine.h"
#include "server/reply_builder.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::server {

class ServerContext;

// A random id with `prefix` ("chatcmpl-", "cmpl-", "call_") and 24 alphanumerics.
std::string randomId(const std::string& prefix);

// Submits `request` and answers. Errors before the first byte (queue full, engine refusal) are
// ordinary JSON errors; a failure after streaming began is an SSE error event.
void runGeneration(ServerContext& ctx, ReplySpec spec, GenerateRequest request, const httplib::Request& httpRequest,
                   httplib::Response& response);

}  // namespace hearth::server
