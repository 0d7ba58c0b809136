#!/usr/bin/env python3
"""Black-box check of the real `hearth-cli serve` over raw HTTP (issue #7), standard library only.

Runs in CI, where only Debian packages exist. Starts serve on loopback over the synthetic reference
model and its LoRA adapter and checks, byte for byte where the SDKs care: every route's shape and
its un-prefixed alias, exact SSE framing, the usage chunk, UTF-8 in deltas, logprobs, tools,
every error case with the OpenAI envelope and status, CORS preflight, readiness, 32 concurrent
greedy streams against the sequential reply, a client disconnecting mid-stream, and queue-full 429.
Usage:
  blackbox_check.py --cli build/bin/hearth-cli --workdir build --tokenizer tests/fixtures/tokenizers/qwen3
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_harness  # noqa: E402

MODEL = serve_harness.MODEL
API_KEY = "sk-hearth-blackbox"
ALLOWED_ORIGIN = "http://allowed.example:3000"
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


class Client:
    """Raw HTTP/1.1 against one server; every call is a fresh connection."""

    def __init__(self, server, key=None):
        self.server = server
        self.key = key

    def request(self, method, path, body=None, headers=None, timeout_s=120):
        """(status, lower-cased headers, body bytes)."""
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=timeout_s)
        hdrs = {} if self.key is None else {"Authorization": "Bearer " + self.key}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        result = resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        conn.close()
        return result

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        try:
            return status, hdrs, json.loads(data)
        except ValueError:
            return status, hdrs, {"_raw": data[:200]}


def is_envelope(body):
    err = body.get("error") if isinstance(body, dict) else None
    return (isinstance(err, dict) and set(err) >= {"message", "type", "param", "code"}
            and isinstance(err["message"], str) and err["message"] != "" and isinstance(err["type"], str))


def parse_sse(data):
    """The data payloads of an SSE body, or None (with a FAIL) when the framing is not exact:
    only `data: ` lines and `: ` comments, each event ended by one blank line, nothing after."""
    text = data.decode("utf-8")  # raises on invalid UTF-8: the check below reports it
    if "\r" in text or not text.endswith("\n\n"):
        return None
    payloads = []
    for event in text[:-2].split("\n\n"):
        if event.startswith(": "):
            continue
        if not event.startswith("data: ") or "\n" in event:
            return None
        payloads.append(event[len("data: "):])
    return payloads


def stream(client, path, body):
    """(status, headers, chunks or None, raw payloads) for a streaming request."""
    status, hdrs, data = client.request("POST", path, dict(body, stream=True))
    try:
        payloads = parse_sse(data)
    except UnicodeDecodeError:
        payloads = None
    if payloads is None or not payloads or payloads[-1] != "[DONE]":
        return status, hdrs, None, data
    return status, hdrs, [json.loads(p) for p in payloads[:-1]], payloads


def chat_body(content, max_tokens=24, **extra):
    return dict({"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens,
                 "temperature": 0}, **extra)


def check_routes(client):
    status, hdrs, body = client.json("GET", "/health")
    check(status == 200 and body.get("status") == "ok" and body.get("state") == "ready" and body.get("model") == MODEL
          and isinstance(body.get("running"), int) and isinstance(body.get("queue_depth"), int), "GET /health: %s" % body)
    check(hdrs.get("content-type", "").startswith("application/json"), "health is JSON")
    for path in ("/v1/models", "/models", "//v1//models/"):
        status, _, body = client.json("GET", path)
        ids = [m.get("id") for m in body.get("data", [])]
        check(status == 200 and body.get("object") == "list" and ids == [MODEL, "sql"] and all(
            m.get("object") == "model" and isinstance(m.get("created"), int) and m.get("owned_by") == "hearth"
            for m in body["data"]), "GET %s lists the model and the adapter: %s" % (path, ids))
    for path in ("/v1/models/" + MODEL, "/models/" + MODEL, "/v1/models/sql"):
        status, _, body = client.json("GET", path)
        check(status == 200 and body.get("object") == "model" and body.get("id") == path.rsplit("/", 1)[1]
              and body.get("meta", {}).get("loaded") is True, "GET %s" % path)
    status, _, body = client.json("GET", "/v1/models/sql")
    check(body.get("parent") == MODEL, "the adapter's parent is the base model")
    status, hdrs, data = client.request("GET", "/metrics")
    text = data.decode()
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEinfINFNa]+$')
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    check(status == 200 and hdrs.get("content-type", "").startswith("text/plain") and lines and all(
        sample.match(l) for l in lines), "GET /metrics is Prometheus text (%d samples)" % len(lines))
    for name in ("hearth_requests_running", "hearth_queue_depth", "hearth_time_to_first_token_seconds",
                 "hearth_request_duration_seconds", "hearth_kv_usage_ratio", "hearth_model_state"):
        check("# TYPE " + name + " " in text, "/metrics has %s" % name)


def check_chat(client):
    body = chat_body("Say hello")
    status, hdrs, whole = client.json("POST", "/v1/chat/completions", body)
    choice = (whole.get("choices") or [{}])[0]
    usage = whole.get("usage", {})
    check(status == 200 and whole.get("object") == "chat.completion" and whole.get("id", "").startswith("chatcmpl")
          and whole.get("model") == MODEL and isinstance(whole.get("created"), int) and len(whole["choices"]) == 1
          and choice.get("index") == 0 and choice.get("message", {}).get("role") == "assistant"
          and isinstance(choice["message"].get("content"), str) and choice.get("finish_reason") in ("stop", "length"),
          "chat non-streaming shape")
    check(usage.get("completion_tokens", 0) >= 1 and usage.get("total_tokens") ==
          usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0), "chat usage adds up: %s" % usage)
    status2, _, alias = client.json("POST", "/chat/completions", body)
    check(status2 == 200 and alias["choices"][0]["message"]["content"] == choice["message"]["content"],
          "POST /chat/completions (alias) gives the same greedy reply")

    status, hdrs, chunks, raw = stream(client, "/v1/chat/completions", body)
    check(status == 200 and hdrs.get("content-type", "").startswith("text/event-stream"), "chat stream content type")
    if not check(chunks is not None, "chat stream framing is exact SSE ending in data: [DONE]: %r" % (raw[-80:] if chunks is None else "")):
        return choice["message"]["content"]
    check(all(c.get("object") == "chat.completion.chunk" and c.get("id") == chunks[0]["id"] for c in chunks),
          "every chunk is a chat.completion.chunk with one id")
    check(chunks[0]["choices"][0]["delta"].get("role") == "assistant" and not chunks[0]["choices"][0]["delta"].get("content"),
          "the role chunk comes first")
    finishes = [c["choices"][0].get("finish_reason") for c in chunks]
    check(finishes[-1] == choice["finish_reason"] and all(f is None for f in finishes[:-1]),
          "only the last chunk has finish_reason (%s)" % finishes[-1])
    check(all("usage" not in c or c["usage"] is None for c in chunks), "no usage chunk without include_usage")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    check(text == choice["message"]["content"], "greedy stream reassembles to the non-streamed reply")

    status, _, chunks, _ = stream(client, "/v1/chat/completions", dict(body, stream_options={"include_usage": True}))
    if check(chunks is not None, "include_usage stream framing"):
        last = chunks[-1]
        check(last.get("choices") == [] and last.get("usage") == usage, "include_usage: last chunk has empty choices and the usage")
        check(all(c.get("usage") is None for c in chunks[:-1]), "include_usage: other chunks have usage null")
    return choice["message"]["content"]


def check_completions(client):
    body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}
    for path in ("/v1/completions", "/completions"):
        status, _, whole = client.json("POST", path, body)
        check(status == 200 and whole.get("object") == "text_completion" and isinstance(whole["choices"][0].get("text"), str)
              and whole["choices"][0].get("finish_reason") in ("stop", "length") and whole["usage"]["completion_tokens"] >= 1,
              "POST %s shape" % path)
    status, hdrs, chunks, _ = stream(client, "/v1/completions", body)
    if check(chunks is not None, "completions stream framing"):
        check("".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == whole["choices"][0]["text"],
              "completions stream reassembles to the non-streamed text")
        check(chunks[-1]["choices"][0].get("finish_reason") == whole["choices"][0]["finish_reason"], "completions stream finish_reason")
    status, _, lp = client.json("POST", "/v1/completions", dict(body, logprobs=2))
    lpc = lp["choices"][0].get("logprobs") or {}
    n = lp["usage"]["completion_tokens"]
    check(all(len(lpc.get(k, [])) == n for k in ("tokens", "token_logprobs", "top_logprobs", "text_offset"))
          and all(len(t) <= 2 for t in lpc["top_logprobs"]), "completions logprobs shape")


def check_utf8(client):
    """The random model writes CJK and emoji tokens, often byte pieces of one character: the stream
    must hold whole characters only and reassemble to the non-streamed text."""
    non_ascii = 0
    for i, prompt in enumerate(["你好", "Tell me a story", "🙂🙂"]):
        body = chat_body(prompt, max_tokens=32)
        _, _, whole = client.json("POST", "/v1/chat/completions", body)
        expected = whole["choices"][0]["message"]["content"]
        status, _, chunks, raw = stream(client, "/v1/chat/completions", body)
        if not check(chunks is not None, "UTF-8 stream %d: valid UTF-8 and framing" % i):
            continue
        deltas = [c["choices"][0]["delta"].get("content") or "" for c in chunks]
        valid = True
        for d in deltas:
            try:
                d.encode("utf-8")  # a lone surrogate (\\ud83d) decodes but does not encode
            except UnicodeEncodeError:
                valid = False
        check(valid, "UTF-8 stream %d: every delta is whole characters" % i)
        check("".join(deltas) == expected, "UTF-8 stream %d reassembles to the non-streamed text" % i)
        non_ascii += sum(1 for d in deltas if any(ord(ch) > 127 for ch in d))
    check(non_ascii > 0, "at least one delta holds non-ASCII text (%d did)" % non_ascii)


def check_logprobs_tools(client):
    _, _, lp = client.json("POST", "/v1/chat/completions", chat_body("Say hello", max_tokens=5, logprobs=True, top_logprobs=3))
    content = (lp["choices"][0].get("logprobs") or {}).get("content") or []
    ok = len(content) == lp["usage"]["completion_tokens"]
    for c in content:
        tops = c.get("top_logprobs", [])
        ok = ok and isinstance(c.get("token"), str) and c.get("logprob", 1) <= 0 and isinstance(c.get("bytes"), list)
        ok = ok and len(tops) == 3 and all(set(t) >= {"token", "logprob", "bytes"} for t in tops)
        # Greedy: the chosen token is the most likely one.
        ok = ok and tops and abs(c["logprob"] - max(t["logprob"] for t in tops)) < 1e-4
    check(ok, "chat logprobs: one entry per token, 3 top_logprobs, greedy picks the top")
    status, _, chunks, _ = stream(client, "/v1/chat/completions", chat_body("Say hello", max_tokens=5, logprobs=True, top_logprobs=1))
    streamed = [e for c in (chunks or []) if c["choices"] for e in ((c["choices"][0].get("logprobs") or {}).get("content") or [])]
    check([e["token"] for e in streamed] == [c["token"] for c in content], "streamed logprobs carry the same tokens")

    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    _, _, plain = client.json("POST", "/v1/chat/completions", chat_body("Paris?", max_tokens=4))
    status, _, with_tools = client.json("POST", "/v1/chat/completions", chat_body("Paris?", max_tokens=4, tools=tools, tool_choice="auto"))
    check(status == 200 and with_tools["choices"][0]["finish_reason"] in ("stop", "length", "tool_calls"), "chat with tools accepted")
    check(with_tools["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"] + 10,
          "tools are rendered into the prompt (%d > %d prompt tokens)" % (with_tools["usage"]["prompt_tokens"], plain["usage"]["prompt_tokens"]))
    status, _, follow = client.json("POST", "/v1/chat/completions", dict(chat_body("Paris?", max_tokens=4, tools=tools), messages=[
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22C"}]))
    check(status == 200 and follow["choices"][0]["message"]["role"] == "assistant", "tool round trip accepted")
    status, _, lora = client.json("POST", "/v1/chat/completions", dict(chat_body("Say hello", max_tokens=4), model="sql"))
    check(status == 200 and lora.get("model") == "sql", "the adapter is served as a model id")


def check_errors(server, client):
    def expect(status_wanted, method, path, body=None, headers=None, what="", code=None, c=client):
        status, hdrs, data = c.request(method, path, body, headers)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        ok = status == status_wanted and is_envelope(parsed) and hdrs.get("content-type", "").startswith("application/json")
        if code is not None:
            ok = ok and parsed["error"]["code"] == code
        check(ok, "%s: %d with the error envelope (got %d %s)" % (what, status_wanted, status, data[:160]))
        return parsed

    json_hdr = {"Content-Type": "application/json"}
    expect(400, "POST", "/v1/chat/completions", b'{"model": "ref', json_hdr, "malformed JSON")
    expect(400, "POST", "/v1/chat/completions", b'', json_hdr, "empty body")
    expect(400, "POST", "/v1/chat/completions", {"model": MODEL, "messages": "hi"}, what="messages as a string")
    bad = expect(400, "POST", "/v1/chat/completions", chat_body("hi", temperature="hot"), what="a string temperature")
    check(bad is not None and bad["error"].get("param") == "temperature", "the wrong-type error names its param")
    expect(400, "POST", "/v1/chat/completions", chat_body("hi", max_tokens=-3), what="negative max_tokens")
    expect(400, "POST", "/v1/completions", {"model": MODEL, "prompt": 42}, what="a numeric prompt")
    expect(400, "POST", "/v1/chat/completions", chat_body("hi", n=2), what="n=2")
    expect(400, "POST", "/v1/chat/completions", chat_body("hi", response_format={"type": "json_object"}), what="json_object")
    expect(404, "POST", "/v1/chat/completions", dict(chat_body("hi"), model="no-such-model"), what="an unknown model",
           code="model_not_found")
    expect(404, "GET", "/v1/models/no-such-model", what="GET an unknown model")
    context = client.json("GET", "/v1/models/" + MODEL)[2]["meta"]["context_length"]
    expect(400, "POST", "/v1/chat/completions", chat_body("x " * (context + 10), max_tokens=2),
           what="a prompt over the %d-token context" % context, code="context_length_exceeded")
    expect(400, "POST", "/v1/completions", {"model": MODEL, "prompt": "y " * (context + 10)},
           what="a completions prompt over the context", code="context_length_exceeded")
    expect(401, "GET", "/v1/models", c=Client(server), what="no API key")
    expect(401, "POST", "/v1/chat/completions", chat_body("hi"), c=Client(server, "sk-wrong"), what="a wrong API key")
    check(Client(server).request("GET", "/health")[0] == 200, "/health stays public with --api-key")
    expect(405, "GET", "/v1/chat/completions", what="GET on a POST route")
    expect(405, "POST", "/v1/models", {}, what="POST on a GET route")
    expect(404, "GET", "/v1/nope", what="an unknown path")
    expect(404, "POST", "/v2/chat/completions", chat_body("hi"), what="an unknown POST path")
    # 64 MiB + 1 sent in full (httplib reads what was announced before answering; a client that
    # announces more than it sends waits for the 30 s read timeout).
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request("POST", "/v1/chat/completions", body=b"{" + b" " * (64 << 20),
                 headers={"Authorization": "Bearer " + API_KEY, "Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    check(resp.status == 413 and is_envelope(parsed), "an oversized body: 413 with the error envelope (got %d %s)" % (resp.status, data[:120]))


def check_cors(client):
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
    status, hdrs, _ = Client(client.server).request("OPTIONS", "/v1/chat/completions", headers=dict(pre, Origin=ALLOWED_ORIGIN))
    check(status in (200, 204) and hdrs.get("access-control-allow-origin") == ALLOWED_ORIGIN
          and "POST" in hdrs.get("access-control-allow-methods", "")
          and "authorization" in hdrs.get("access-control-allow-headers", "").lower(), "CORS preflight from an allowed origin")
    status, hdrs, _ = Client(client.server).request("OPTIONS", "/v1/chat/completions", headers=dict(pre, Origin="http://evil.example"))
    check("access-control-allow-origin" not in hdrs, "CORS preflight from another origin gets no Allow-Origin")
    status, hdrs, _ = client.request("GET", "/v1/models", headers={"Origin": ALLOWED_ORIGIN})
    check(status == 200 and hdrs.get("access-control-allow-origin") == ALLOWED_ORIGIN, "an allowed origin's GET carries Allow-Origin")


def check_concurrent(client, n=32):
    body = chat_body("Tell me a story", max_tokens=24)
    _, _, whole = client.json("POST", "/v1/chat/completions", body)
    sequential = whole["choices"][0]["message"]["content"]

    def one(_):
        status, _, chunks, _ = stream(client, "/v1/chat/completions", body)
        return None if chunks is None else "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        replies = list(pool.map(one, range(n)))
    same = sum(1 for r in replies if r == sequential)
    check(same == n, "%d concurrent greedy streams equal the sequential reply (%d did, %.1f s)" % (n, same, time.time() - start))


def check_connect_burst(server, n=48):
    """Many clients connecting at once (Open WebUI plus scripts) must all be accepted: the server is
    paused while they connect, so they pile up in the listen backlog (httplib's default is 5)."""
    os.kill(server.proc.pid, signal.SIGSTOP)
    socks = []
    try:
        for _ in range(n):
            try:
                sock = socket.create_connection((server.host, server.port), timeout=2)
            except OSError:
                break  # the backlog is full: connect() hangs
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            socks.append(sock)
        time.sleep(0.3)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    start = time.time()
    answered = 0
    for sock in socks:
        try:
            if sock.recv(64).startswith(b"HTTP/1.1 200"):
                answered += 1
        except OSError:
            pass
        sock.close()
    check(answered == n and time.time() - start < 3, "%d clients connecting at once are all answered (%d in %.2f s)"
          % (n, answered, time.time() - start))


def gauge(client, name):
    text = client.request("GET", "/metrics")[2].decode()
    m = re.search(r"^%s (\S+)$" % name, text, re.M)
    return float(m.group(1)) if m else None


def check_disconnect(server, client, context):
    """A client that goes away mid-stream must free its slot within about a second."""
    body = json.dumps(chat_body("Tell me a long story", max_tokens=context - 64, stream=True, ignore_eos=True)).encode()
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    got = b""
    while got.count(b"data: ") < 3:
        piece = sock.recv(4096)
        if not piece:
            break
        got += piece
    running_before = gauge(client, "hearth_requests_running")
    sock.close()
    closed_at = time.time()
    freed = serve_harness.wait_until(lambda: gauge(client, "hearth_requests_running") == 0, 3.0)
    check(got.count(b"data: ") >= 3 and running_before == 1 and freed,
          "a client disconnecting mid-stream frees its slot (running %s -> 0 in %.2f s)" % (running_before, time.time() - closed_at))
    start = time.time()
    status, _, _ = client.json("POST", "/v1/chat/completions", chat_body("hi", max_tokens=4))
    check(status == 200 and time.time() - start < 5, "the next request is served promptly (%.2f s)" % (time.time() - start))


def check_queue_full(server, client, context, n=40):
    """--max-queued 1: beyond 16 running + 1 waiting, requests get 429 with Retry-After. Long
    streams hold the slots; closing them afterwards cancels them."""
    body = json.dumps(chat_body("Tell me a long story", max_tokens=context - 64, stream=True, ignore_eos=True)).encode()
    socks = []
    for _ in range(n):
        sock = socket.create_connection((server.host, server.port), timeout=30)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        socks.append(sock)
    heads = []
    for sock in socks:
        head = b""
        while b"\r\n\r\n" not in head:
            piece = sock.recv(4096)
            if not piece:
                break
            head += piece
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        while length and len(head.split(b"\r\n\r\n", 1)[1]) < int(length.group(1)):
            piece = sock.recv(4096)
            if not piece:
                break
            head += piece
        heads.append(head)
    statuses = [int(h.split(b" ", 2)[1]) if h.startswith(b"HTTP/1.1 ") else 0 for h in heads]
    busy = [h for h, s in zip(heads, statuses) if s == 429]
    check(busy and all(re.search(rb"(?im)^retry-after: *[1-9]", h) and b'"error"' in h for h in busy),
          "queue full: 429 with Retry-After and the envelope (%d of %d)" % (len(busy), n))
    check(statuses.count(200) >= 1 and statuses.count(200) + statuses.count(429) == n,
          "queue full: the others are served (%d x 200)" % statuses.count(200))
    for sock in socks:
        sock.close()
    freed = serve_harness.wait_until(lambda: gauge(client, "hearth_requests_running") == 0
                                     and gauge(client, "hearth_queue_depth") == 0, 5.0)
    check(freed, "closing the held streams frees every slot and the queue")


def check_readiness(cli, model):
    """Polls /health from the moment the port opens: while loading it must be 503 with Retry-After,
    the envelope and progress; never a refused connection. The reference model loads in
    milliseconds and serve has no flag to slow a load; the port opens before the weights are read,
    so the first polls usually see the loading state, and it is checked whenever it is seen."""
    server = serve_harness.start_server(cli, model, wait=False)
    client = Client(server)
    seen, refused = [], 0
    while True:
        try:
            status, hdrs, data = client.request("GET", "/health", timeout_s=5)
        except OSError:
            refused += 1
            continue
        body = json.loads(data)
        seen.append(status)
        if status == 503 and seen.count(503) == 1:
            check(hdrs.get("retry-after") and is_envelope(body) and body.get("state") == "loading"
                  and set(body.get("progress", {})) >= {"stage", "bytes_done", "bytes_total", "fraction"},
                  "health while loading: 503, Retry-After, envelope, progress")
            status_m, _, models = client.json("GET", "/v1/models")
            check(status_m == 200 and models["data"][0]["meta"]["state"] in ("loading", "ready"), "/v1/models lists the model while loading")
            status_c, hdrs_c, _ = client.request("POST", "/v1/chat/completions", chat_body("hi", max_tokens=2))
            check(status_c in (200, 503) and (status_c == 200 or hdrs_c.get("retry-after")), "chat while loading: 503 + Retry-After")
        if status == 200 or len(seen) > 2000:
            break
        time.sleep(0.005)
    check(refused == 0 and seen and seen[-1] == 200, "health from the moment the port opened: %d x 503 then 200, %d refused"
          % (seen.count(503), refused))
    check(server.stop() == 0, "Ctrl-C stops the readiness server cleanly")


def timed(fn, *args):
    start = time.time()
    result = fn(*args)
    print("     (%s: %.1f s)" % (fn.__name__, time.time() - start), flush=True)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--models", help="folder with ref-qwen2-d64 and ref-qwen2-d64-lora (default: generate)")
    args = parser.parse_args()
    started = time.time()
    models = args.models or serve_harness.ensure_models(args.cli, args.workdir, args.tokenizer)
    model = os.path.join(models, MODEL)
    lora = os.path.join(models, serve_harness.LORA)

    timed(check_readiness, args.cli, model)
    server = serve_harness.start_server(args.cli, model, ["--api-key", API_KEY, "--cors-origin", ALLOWED_ORIGIN,
                                                          "--lora", "sql=" + lora])
    try:
        client = Client(server, API_KEY)
        timed(check_routes, client)
        timed(check_chat, client)
        timed(check_completions, client)
        timed(check_utf8, client)
        timed(check_logprobs_tools, client)
        timed(check_errors, server, client)
        timed(check_cors, client)
        timed(check_connect_burst, server)
        timed(check_concurrent, client)
    finally:
        check(server.stop() == 0, "Ctrl-C stops the server cleanly")

    small = serve_harness.start_server(args.cli, model, ["--max-queued", "1"])
    try:
        client = Client(small)
        context = client.json("GET", "/v1/models/" + MODEL)[2]["meta"]["context_length"]
        timed(check_disconnect, small, client, context)
        timed(check_queue_full, small, client, context)
    finally:
        check(small.stop() == 0, "Ctrl-C stops the --max-queued server cleanly")

    print("%.1f s" % (time.time() - started))
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
