"""An OpenAI-compatible chat endpoint on 127.0.0.1 for the tests, with faults on purpose.

It "translates" by answering, for every paragraph of the text after the instruction, a line that
names the paragraph's length, so that tests can check where each translated paragraph went. It
speaks HTTP for real (http.server in a thread), so the client's timeouts, retries and concurrency
run on their real code paths.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INSTRUCTION_END = "\n\n"


def fake_translation(user: str) -> str:
    text = user.split(INSTRUCTION_END, 1)[1] if INSTRUCTION_END in user else user
    paras = [p for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(f"Paragraph of {len(p)} characters, rendered in full." for p in paras)


class ChatServer:
    """``faults`` maps the number of a request (1 = the first) to what goes wrong with it: 429, 500,
    "slow" (answers after ``slow_s``), "cut" (finish_reason length), "refuse" (401). ``cut_when``: the
    answer to any request whose text holds this string is cut (the same chunk whatever the order the
    requests come in). ``fail_after``: every request after that many answers gets a 401 (a key
    revoked mid-book)."""

    def __init__(
        self,
        key: str = "sk-test-0123456789abcdef",
        faults: dict[int, object] | None = None,
        slow_s: float = 1.0,
        delay_s: float = 0.05,
        fail_after: int = 0,
        port: int = 0,
        cut_when: str = "",
    ) -> None:
        self.key, self.faults, self.slow_s, self.delay_s, self.fail_after = (
            key,
            dict(faults or {}),
            slow_s,
            delay_s,
            fail_after,
        )
        self.cut_when = cut_when
        self.requests = 0
        self.answered = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.seen: list[dict] = []  # bodies of the requests answered 200
        self.headers: list[dict] = []  # headers of every request
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with server.lock:
                    server.requests += 1
                    n = server.requests
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(n, body)
                finally:
                    if server.faults.get(n) != "slow":
                        with server.lock:
                            server.in_flight -= 1

            def _send(self, code: int, payload: dict, headers: dict | None = None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def _answer(self, n: int, body: dict):
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                fault = server.faults.get(n)
                if (
                    self.headers.get("authorization") != f"Bearer {server.key}"
                    or fault == "refuse"
                    or (server.fail_after and server.answered >= server.fail_after)
                ):
                    return self._send(401, {"error": {"message": "Incorrect API key provided: sk-te****cdef"}})
                if body.get("model") != "stub-chat":
                    return self._send(404, {"error": {"message": f"model {body.get('model')} does not exist"}})
                if fault == 429:
                    return self._send(429, {"error": {"message": "rate limited"}}, {"retry-after": "0"})
                if fault == 500:
                    return self._send(500, {"error": {"message": "internal error"}})
                if fault == "slow":  # the client stops waiting: this request no longer counts, and its answer is lost
                    with server.lock:
                        server.in_flight -= 1
                    time.sleep(server.slow_s)
                    return self._send(200, {"choices": []})
                time.sleep(server.delay_s)
                user = body["messages"][-1]["content"]
                text = fake_translation(user)
                cut = fault == "cut" or bool(server.cut_when and server.cut_when in user)
                if cut:
                    text = text[: max(1, len(text) // 3)]
                prompt = sum(len(m["content"]) for m in body["messages"]) // 2
                completion = max(1, len(text) // 4)
                with server.lock:
                    server.answered += 1
                    server.seen.append(body)
                    server.usage["prompt_tokens"] += prompt
                    server.usage["completion_tokens"] += completion
                self._send(
                    200,
                    {
                        "id": f"c{n}",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "length" if cut else "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        },
                    },
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ChatServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
