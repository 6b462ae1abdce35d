"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions API with scripted replies.

Replies are a pure function of the request (so runs are reproducible) except for the
scripted faults, which fire on the N-th request matching a rule: a malformed reply, an HTTP
status (500, 429), or a stall longer than the client's timeout.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# Entities the fake model "finds" per document title (others: the first 4 capitalised words).
ENTITIES = {
    "The Glass Tower": ["Alice", "Bob", "Glass Tower", "Dragon"],
    "River Song": ["Eve", "Forest", "Sword"],
    "Third Tale": ["Moon", "Sun", "Star"],
}


@dataclass
class Fault:
    match: str  # substring of the request's last user message or system message
    kind: str  # "malformed" | "status" | "stall"
    times: int = 1  # how many matching requests get the fault (then it heals)
    status: int = 500
    stall_s: float = 2.0
    seen: int = 0


@dataclass
class FakeOpenAI:
    url: str = ""
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # every request body received
    lock: threading.Lock = field(default_factory=threading.Lock)
    content: Callable[[dict], str] | None = None  # the reply text for a request body (default: EntiGraph's)

    def reply(self, body: dict) -> tuple[int, dict | None, float]:
        """(status, JSON body, stall seconds) for one request."""
        system = body["messages"][0]["content"]
        user = body["messages"][-1]["content"]
        with self.lock:
            self.requests.append(body)
            fault = next((f for f in self.faults if f.match in user + system and f.seen < f.times), None)
            if fault:
                fault.seen += 1
        title = next((t for t in ENTITIES if t in user), "Unknown")
        if self.content is not None:
            content = self.content(body)
        elif "### Entities:" not in user:  # entity extraction
            entities = ENTITIES.get(title) or list(dict.fromkeys(re.findall(r"\b[A-Z][a-z]{3,}\b", user[:3000])))[:4]
            content = json.dumps({"summary": f"A summary of {title}.", "entities": entities})
        else:
            ents = [line[2:] for line in user.split("### Entities:\n")[1].splitlines()]
            content = f"### Discussion of {title} relating {' & '.join(ents)} (seed {body.get('seed')})"
        stall = 0.0
        if fault and fault.kind == "malformed":
            content = 'Sure! Here is the JSON: {summary: "oops", entities: [broken'
        elif fault and fault.kind == "status":
            return fault.status, {"error": {"message": "scripted failure", "type": "server_error"}}, 0.0
        elif fault and fault.kind == "stall":
            stall = fault.stall_s
        prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content.split()),
                      "total_tokens": prompt_tokens + len(content.split())},
        }, stall

    def count(self, predicate=lambda body: True) -> int:
        with self.lock:
            return sum(1 for b in self.requests if predicate(b))


@pytest.fixture
def fake_openai():
    server_state = FakeOpenAI()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            if not self.path.endswith("/chat/completions"):
                self.send_error(404)
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, payload, stall = server_state.reply(body)
            time.sleep(stall)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield server_state
    server.shutdown()
    server.server_close()
