#!/usr/bin/python3
"""Receives fal webhooks for bench/standin/smoke.sh and checks each one as reelay would.

Listens on 127.0.0.1 (a free port, printed as "receiving on PORT"), and for every POST checks the four
X-Fal-Webhook-* headers, the Ed25519 signature over request_id\\nuser_id\\ntimestamp\\nhex(sha256(body))
with the public key of the stand-in's JWKS (argument 1: its URL), that the timestamp is within 300 s and
that the body is {request_id, gateway_request_id, status: "OK", payload: {video: {url}}, error: null} for the
signed request id. Writes one line per webhook to stdout: "ok REQUEST_ID USER_ID" or "bad REASON", and
answers 200 (or 400 when bad). Stops after argument 2 webhooks (default 1)."""
import base64
import hashlib
import http.server
import json
import sys
import time
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEADERS = ("X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id", "X-Fal-Webhook-Timestamp",
           "X-Fal-Webhook-Signature")


def load_key(jwks_url):
    with urllib.request.urlopen(jwks_url, timeout=5) as answer:
        x = json.load(answer)["keys"][0]["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


def check(key, headers, body):
    """None when the webhook is right, else what is wrong."""
    values = [headers.get(name) for name in HEADERS]
    if None in values:
        return "missing " + HEADERS[values.index(None)]
    request_id, user_id, timestamp, signature = values
    if abs(time.time() - int(timestamp)) > 300:
        return "timestamp too far from now"
    message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()
    try:
        key.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return "signature does not verify"
    payload = json.loads(body)
    if payload.get("request_id") != request_id or payload.get("gateway_request_id") != request_id:
        return "body request_id differs from the signed one"
    if payload.get("status") != "OK" or payload.get("error", "absent") is not None:
        return "body status/error not OK/null"
    if not payload.get("payload", {}).get("video", {}).get("url", "").endswith(request_id + ".mp4"):
        return "payload has no video url of the request"
    return None


def main():
    key = load_key(sys.argv[1])
    expected = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            problem = check(key, self.headers, body)
            print(f"bad {problem}" if problem else
                  f"ok {self.headers['X-Fal-Webhook-Request-Id']} {self.headers['X-Fal-Webhook-User-Id']}",
                  flush=True)
            self.send_response(400 if problem else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            received.append(problem)

        def log_message(self, *args):
            pass

    http.server.HTTPServer.request_queue_size = 1024  # a burst of webhooks connects at once
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(f"receiving on {server.server_address[1]}", flush=True)
    while len(received) < expected:
        server.handle_request()


if __name__ == "__main__":
    main()
