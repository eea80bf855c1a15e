"""A fake OpenAI-compatible completions endpoint that misbehaves on purpose, for `teacher --endpoint` tests.

Standard library only (CI has no torch). Every POST gets the answer of MODE:

    ok              choices[0].logprobs.top_logprobs[0] = {" A": -0.3, " B": -1.2, ...}
    ok-chunked      the same in chunked transfer coding, a few bytes a chunk
    missing-first N the first N requests hold neither A nor B (a chat model's tokens), the rest as ok
    busy-first N    the first N requests get 503, the rest as ok
    chat            neither A nor B among the top tokens ("Sure", " I", ...)
    strings         A and B present, their log-probabilities JSON strings
    nan             " A": NaN (Python's json.dumps writes it; it is not JSON)
    infinity        " A": Infinity
    trickle         headers, then one byte every 0.5 s of a 4096-byte body (for 30 s at most)
    huge            200 without a length, 1 MiB chunks until 256 MiB or the client hangs up
    huge-declared   the same with Content-Length: 3000000000
    huge-chunked    the same in 1 MiB chunks of chunked transfer coding

A path other than /v1/completions gets 404. GET answers {"requests": N, "sent": the most bytes one answer got out before the client hung up}.

    python fake_completions.py MODE [N]     prints "listening PORT" once ready
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer(top):
    return {"id": "cmpl-fake", "object": "text_completion", "model": "fake",
            "choices": [{"index": 0, "text": "A", "finish_reason": "length",
                         "logprobs": {"tokens": ["A"], "token_logprobs": [-0.3], "top_logprobs": [top],
                                      "text_offset": [0]}}]}


OK = {" A": -0.3, " B": -1.2, " The": -4.0}
CHAT = {"Sure": -0.1, " I": -2.3, "The": -3.1}


def main():
    mode = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    state = {"requests": 0, "sent": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, body, content_type="application/json", status=200):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def stream(self, declared=None, chunked=False):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if declared:
                self.send_header("Content-Length", str(declared))
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b" " * (1 << 20)
            if chunked:
                chunk = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            sent = 0
            try:
                for _ in range(256):
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    with lock:
                        state["sent"] = max(state["sent"], sent)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state["requests"] += 1
                number = state["requests"]
            if self.path != "/v1/completions":
                return self.send(b'{"error": "no such route"}', status=404)
            if mode == "busy-first" and number <= limit:
                return self.send(b'{"error": "warming up"}', status=503)
            if mode in ("ok", "busy-first") or (mode == "missing-first" and number > limit):
                return self.send(answer(OK))
            if mode == "ok-chunked":
                data = json.dumps(answer(OK)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(data), 7):
                    piece = data[start:start + 7]
                    self.wfile.write(b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            if mode in ("chat", "missing-first"):
                return self.send(answer(CHAT))
            if mode == "strings":
                return self.send(answer({" A": "-0.3", " B": "-1.2"}))
            if mode == "nan":
                return self.send(json.dumps(answer({" A": float("nan"), " B": -1.2})).encode())
            if mode == "infinity":
                return self.send(json.dumps(answer({" A": float("inf"), " B": -1.2})).encode())
            if mode == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4096")
                self.end_headers()
                self.wfile.flush()
                try:
                    for _ in range(60):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.5)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True
                return
            if mode == "huge":
                return self.stream()
            if mode == "huge-declared":
                return self.stream(declared=3000000000)
            if mode == "huge-chunked":
                return self.stream(chunked=True)
            self.send_response(500)
            self.end_headers()

        def do_GET(self):
            with lock:
                self.send(dict(state))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
