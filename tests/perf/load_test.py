#!/usr/bin/env python3
"""Bounded load test of `hearth-cli serve` on loopback (standard library only; issue #7).

N concurrent clients send streaming chat requests with a fixed max_tokens until either the fixed
request count is done or the duration has passed; reports requests/s, generated tokens/s and
latency percentiles (p50/p90/p99) for time to first token and total time. Starts serve itself on
the reference model unless --url points at a running server. Usage:
  load_test.py --cli build/default/bin/hearth-cli --workdir build/default \\
      --tokenizer tests/fixtures/tokenizers/qwen3 --clients 8 --requests 200 --duration 60
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import serve_harness  # noqa: E402


def one_request(host, port, body, key):
    """(ttft_s, total_s, completion_tokens) of one streamed chat request, or None on failure."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=300)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        resp.read()
        conn.close()
        return None
    ttft, tokens = None, None
    for line in resp:
        if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        if ttft is None and chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
            ttft = time.perf_counter() - start
    conn.close()
    total = time.perf_counter() - start
    return (ttft if ttft is not None else total), total, tokens or 0


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, int(round(p / 100.0 * len(ordered) + 0.5 - 1e-9)))
    return ordered[min(rank, len(ordered)) - 1]


def run_load(host, port, model, clients, requests, duration_s, max_tokens, key):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Tell me a story"}],
                       "max_tokens": max_tokens, "temperature": 0.8, "ignore_eos": True, "stream": True,
                       "stream_options": {"include_usage": True}}).encode()
    lock = threading.Lock()
    results, errors = [], [0]
    issued = [0]
    deadline = time.perf_counter() + duration_s

    def client():
        while True:
            with lock:
                if issued[0] >= requests or time.perf_counter() > deadline:
                    return
                issued[0] += 1
            try:
                r = one_request(host, port, body, key)
            except OSError:
                r = None
            with lock:
                if r is None:
                    errors[0] += 1
                else:
                    results.append(r)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ttfts = [r[0] * 1000 for r in results]
    totals = [r[1] * 1000 for r in results]
    tokens = sum(r[2] for r in results)
    print("clients %d, requests %d ok / %d failed, max_tokens %d, wall %.1f s" % (clients, len(results), errors[0], max_tokens, wall))
    print("throughput: %.2f requests/s, %.1f generated tokens/s" % (len(results) / wall, tokens / wall))
    for name, values in (("TTFT", ttfts), ("total", totals)):
        print("%-5s ms: p50 %.1f  p90 %.1f  p99 %.1f" % (name, percentile(values, 50), percentile(values, 90), percentile(values, 99)))
    return 0 if results and errors[0] == 0 else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8080 (else serve is started)")
    parser.add_argument("--api-key")
    parser.add_argument("--model", default=serve_harness.MODEL, help="model id (or folder when starting serve)")
    parser.add_argument("--cli")
    parser.add_argument("--workdir")
    parser.add_argument("--tokenizer")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="stop issuing requests after this many seconds")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    server = None
    if args.url:
        parsed = urllib.parse.urlparse(args.url)
        host, port, model = parsed.hostname, parsed.port, args.model
    else:
        if not (args.cli and args.workdir and args.tokenizer):
            parser.error("either --url or --cli, --workdir and --tokenizer")
        models = serve_harness.ensure_models(args.cli, args.workdir, args.tokenizer)
        server = serve_harness.start_server(args.cli, os.path.join(models, serve_harness.MODEL))
        host, port, model = server.host, server.port, serve_harness.MODEL
    try:
        return run_load(host, port, model, args.clients, args.requests, args.duration, args.max_tokens, args.api_key)
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
