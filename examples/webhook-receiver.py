#!/usr/bin/env python3
"""A Parley (TalkJS) webhook receiver using only the Python 3 standard library; see docs/webhooks.md.

    PORT=3000 SECRET=sk_live_... OUT=events.txt python3 examples/webhook-receiver.py

Listens on 127.0.0.1:PORT (0 picks a free port) and prints "listening <port>". For every POST it
verifies X-TalkJS-Signature over the raw body; a good one appends "ok <eventId> <type>" to OUT and
answers 200, a bad one appends "bad" and answers 401. A real receiver would also de-duplicate by
event id (deliveries are at least once) before acting on an event.
"""

import hashlib
import hmac
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: str, timestamp: str, raw_body: bytes, signature: str) -> bool:
    if not timestamp or not signature:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body,
                        hashlib.sha256).hexdigest().upper()
    return hmac.compare_digest(expected.encode(), signature.encode())


SECRET = os.environ.get("SECRET", "")
OUT = os.environ.get("OUT", "")
_out_lock = threading.Lock()


def append(line: str) -> None:
    with _out_lock, open(OUT, "a", encoding="utf-8") as f:
        f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = verify(SECRET, self.headers.get("X-TalkJS-Timestamp", ""), raw_body,
                    self.headers.get("X-TalkJS-Signature", ""))
        event = None
        if ok:
            try:
                event = json.loads(raw_body)
            except ValueError:
                event = None
        if not ok or not isinstance(event, dict):
            append("bad")
            self.answer(401 if not ok else 400)
            return
        append(f"ok {event.get('id')} {event.get('type')}")
        self.answer(200)

    def answer(self, status: int) -> None:
        body = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # keep stdout/stderr quiet
        pass


def main() -> None:
    if not SECRET or not OUT:
        sys.exit("set SECRET (the app's secret key) and OUT (a file to append to)")
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT") or 0)), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
