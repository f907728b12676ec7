"""A fake Twilio REST API on loopback: the network edge of the real Twilio SDK.

It answers the Messages endpoint like Twilio does, including Twilio's documented magic test numbers
(+15005550001 invalid, +15005550009 cannot receive SMS), and records every request.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs

INVALID_NUMBER = "+15005550001"
NOT_SMS_CAPABLE = "+15005550009"


@dataclass
class FakeTwilio:
    server: ThreadingHTTPServer
    messages: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with 503, as during an outage
    throttle_next: int = 0  # answer this many requests with 429 and a Retry-After of ``retry_after`` seconds
    retry_after: str = "30"
    requests: int = 0  # every message request, answered or refused

    @property
    def url(self) -> str:
        host, port = cast(tuple[str, int], self.server.server_address[:2])  # bound to ("127.0.0.1", 0)
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_fake_twilio() -> FakeTwilio:
    fake: FakeTwilio

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _reply(self, status: int, payload: dict[str, object]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path.endswith("/Calls.json") and self.headers.get("Authorization"):
                sid = "CA" + uuid.uuid4().hex
                fake.calls.append({**form, "Sid": sid})
                self._reply(201, {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From")})
                return
            if not self.path.endswith("/Messages.json") or not self.headers.get("Authorization"):
                self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                return
            fake.requests += 1
            if fake.throttle_next > 0:
                fake.throttle_next -= 1
                self.send_response(429)
                self.send_header("Retry-After", fake.retry_after)
                body = json.dumps({"code": 20429, "message": "Too Many Requests", "status": 429}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if fake.fail_next > 0:
                fake.fail_next -= 1
                self._reply(503, {"code": 20503, "message": "Service unavailable", "status": 503})
                return
            to = form.get("To", "")
            if to == INVALID_NUMBER:
                self._reply(400, {"code": 21211, "message": f"The 'To' number {to} is not valid.", "status": 400})
                return
            if to == NOT_SMS_CAPABLE:
                self._reply(400, {"code": 21614, "message": "not a mobile number", "status": 400})
                return
            sid = "SM" + uuid.uuid4().hex
            fake.messages.append({**form, "Sid": sid})
            self._reply(201, {"sid": sid, "status": "queued", "to": to, "from": form.get("From"),
                              "body": form.get("Body"), "num_segments": "1"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeTwilio(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
