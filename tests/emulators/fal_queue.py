"""A local stand-in for fal.ai's queue API (specs/upstream-apis.md §1), for tests only.

Follows the documented contract: `Authorization: Key <key>`; POST /{endpoint_id} answers the IN_QUEUE
object with request_id and the status/response/cancel URLs built from the endpoint's first two path
segments (owner/app); GET …/requests/{id}/status answers 202 while IN_QUEUE / IN_PROGRESS and 200 when
COMPLETED; GET …/requests/{id} answers the model output ({"video": {...}}) or the model's own error
(422 with a `detail` list); PUT …/requests/{id}/cancel answers CANCELLATION_REQUESTED (202),
ALREADY_COMPLETED (400) or NOT_FOUND (404). With `?fal_webhook=URL` the result is POSTed there, signed
with Ed25519 over request_id\\nuser_id\\ntimestamp\\nhex(sha256(body)); the public key is served as a
JWKS at /.well-known/jwks.json. Result media are served at /media/<id>.mp4.

Faults (each a count of upcoming requests it affects; see FalQueue.configure):
  submit_429 (Retry-After: retry_after), submit_500, submit_hang (the job is created, the answer comes
  only after hang_seconds: an ambiguous submit), submit_malformed (job created, body not JSON),
  poll_500, poll_malformed; and settings: outcome "succeed"/"fail"/"content_policy", queue_seconds,
  run_seconds, result_link_ttl (media links die this long after completion), duplicate_webhooks,
  webhook_bad_signature, webhook_delay.
"""
import hashlib
import http.server
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

import base64

DEFAULTS = {
    "key": "fal_test_key",
    "queue_seconds": 0.2,
    "run_seconds": 0.4,
    "outcome": "succeed",
    "fail_message": "The model could not process the input.",
    "retry_after": 1,
    "hang_seconds": 20,
    "result_link_ttl": None,
    "duplicate_webhooks": 1,
    "webhook_bad_signature": False,
    "webhook_delay": 0.0,
    "user_id": "user_emulator",
    "submit_429": 0,
    "submit_500": 0,
    "submit_hang": 0,
    "submit_malformed": 0,
    "poll_500": 0,
    "poll_malformed": 0,
}

# Endpoints of the eight gateway models (§1.9): anything under these prefixes is accepted.
KNOWN_PREFIXES = ("fal-ai/sync-lipsync/", "fal-ai/creatify/aurora", "fal-ai/kling-video/", "fal-ai/sora-2/")
REQUIRED = {
    "fal-ai/sync-lipsync": ("video_url", "audio_url"),
    "fal-ai/creatify": ("image_url", "audio_url"),
    "fal-ai/kling-video": ("image_url", "video_url", "character_orientation"),
    "fal-ai/sora-2": ("prompt",),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FalQueue:
    """One emulator on 127.0.0.1 in a thread of this process."""

    def __init__(self, media_path, **config):
        self.media_path = media_path
        self.config = dict(DEFAULTS)
        self.config.update(config)
        self.lock = threading.Lock()
        self.jobs = {}
        self.counts = {"submits": 0, "jobs_created": 0, "polls": 0, "results": 0, "media": 0, "cancels": 0,
                       "webhooks_sent": 0, "jwks": 0}
        self.private_key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
        public = self.private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)
        self.jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "kid": "emulator"}]}
        emulator = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                emulator.handle(self, "GET")

            def do_POST(self):
                emulator.handle(self, "POST")

            def do_PUT(self):
                emulator.handle(self, "PUT")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # ---- control ----

    def configure(self, **config):
        with self.lock:
            self.config.update(config)

    def stats(self):
        with self.lock:
            return {**self.counts, "jobs": {k: dict(v) for k, v in self.jobs.items()}}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def take_fault(self, name):
        """Consumes one unit of a counted fault; True when it applies to this request."""
        with self.lock:
            if self.config.get(name, 0) > 0:
                self.config[name] -= 1
                return True
        return False

    # ---- HTTP ----

    def reply(self, handler, status, body, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def handle(self, handler, method):
        try:
            url = urllib.parse.urlsplit(handler.path)
            path = url.path.strip("/")
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
            if method == "GET" and path == ".well-known/jwks.json":
                with self.lock:
                    self.counts["jwks"] += 1
                return self.reply(handler, 200, self.jwks)
            if method == "GET" and path.startswith("media/"):
                return self.serve_media(handler, path[len("media/"):])
            if handler.headers.get("Authorization") != f"Key {self.config['key']}":
                return self.reply(handler, 401, {"detail": "Invalid or missing key"})
            parts = path.split("/")
            if len(parts) >= 4 and parts[2] == "requests":
                request_id = parts[3]
                rest = "/".join(parts[4:])
                if method == "GET" and rest == "status":
                    return self.status(handler, request_id)
                if method == "GET" and rest == "":
                    return self.result(handler, request_id)
                if method == "PUT" and rest == "cancel":
                    return self.cancel(handler, request_id)
                return self.reply(handler, 405, {"detail": "Method not allowed"})
            if method == "POST":
                return self.submit(handler, path, urllib.parse.parse_qs(url.query), body)
            return self.reply(handler, 404, {"detail": "Not found"})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def phase(self, job, now=None):
        now = now or time.time()
        if job["cancelled"]:
            return "CANCELLED"
        age = now - job["created"]
        if age < self.config["queue_seconds"]:
            return "IN_QUEUE"
        if age < self.config["queue_seconds"] + self.config["run_seconds"]:
            return "IN_PROGRESS"
        return "COMPLETED"

    def urls(self, owner_app, request_id):
        base = f"{self.base_url}/{owner_app}/requests/{request_id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def submit(self, handler, endpoint, query, body):
        with self.lock:
            self.counts["submits"] += 1
        if not endpoint.startswith(KNOWN_PREFIXES):
            return self.reply(handler, 404, {"detail": f"Application '{endpoint}' not found"})
        if self.take_fault("submit_429"):
            return self.reply(handler, 429, {"detail": "Rate limited"},
                              {"Retry-After": str(self.config["retry_after"])})
        if self.take_fault("submit_500"):
            return self.reply(handler, 503, {"detail": "Runner unavailable", "error_type": "runner_scheduling_failure"},
                              {"X-Fal-Error-Type": "runner_scheduling_failure"})
        try:
            payload = json.loads(body)
            assert isinstance(payload, dict)
        except (ValueError, AssertionError):
            return self.reply(handler, 422, {"detail": [{"loc": ["body"], "msg": "invalid JSON", "type": "value_error"}]})
        owner_app = "/".join(endpoint.split("/")[:2])
        for field in REQUIRED.get(owner_app, ()):
            if field not in payload:
                return self.reply(handler, 422, {"detail": [{"loc": ["body", field], "msg": "field required",
                                                             "type": "value_error.missing"}]})
        request_id = str(uuid.uuid4())
        webhook = query.get("fal_webhook", [None])[0]
        job = {"endpoint": endpoint, "owner_app": owner_app, "input": payload, "created": time.time(),
               "cancelled": False, "completed_at": None, "webhook": webhook, "webhook_sent": False,
               "outcome": self.config["outcome"]}
        with self.lock:
            self.jobs[request_id] = job
            self.counts["jobs_created"] += 1
        answer = {"status": "IN_QUEUE", "request_id": request_id, "gateway_request_id": request_id,
                  "queue_position": 0, **self.urls(owner_app, request_id)}
        if webhook:
            threading.Thread(target=self.deliver_webhook_when_done, args=(request_id,), daemon=True).start()
        if self.take_fault("submit_hang"):
            time.sleep(self.config["hang_seconds"])
        if self.take_fault("submit_malformed"):
            return self.reply(handler, 200, None, raw=b'{"status": "IN_QUEUE", "request_id": "' + request_id[:8].encode())
        return self.reply(handler, 200, answer)

    def job_or_404(self, handler, request_id):
        with self.lock:
            job = self.jobs.get(request_id)
        if job is None:
            self.reply(handler, 404, {"detail": "Request not found"})
        return job

    def status(self, handler, request_id):
        with self.lock:
            self.counts["polls"] += 1
        if self.take_fault("poll_500"):
            return self.reply(handler, 500, {"detail": "Internal error"})
        if self.take_fault("poll_malformed"):
            return self.reply(handler, 200, None, raw=b"<html>gateway error</html>")
        job = self.job_or_404(handler, request_id)
        if job is None:
            return
        phase = self.phase(job)
        shown = "COMPLETED" if phase == "CANCELLED" else phase  # fal has no CANCELLED status value
        body = {"status": shown, "request_id": request_id, **self.urls(job["owner_app"], request_id)}
        if shown == "IN_QUEUE":
            body["queue_position"] = 0
        if shown == "COMPLETED":
            body["metrics"] = {"inference_time": self.config["run_seconds"]}
            job["completed_at"] = job["completed_at"] or time.time()
        self.reply(handler, 200 if shown == "COMPLETED" else 202, body)

    def output(self, request_id, job):
        """(status, body) of the model's result."""
        if job["cancelled"]:
            return 400, {"detail": "Request was cancelled"}
        if job["outcome"] == "fail":
            return 422, {"detail": [{"loc": ["body", "video_url"], "msg": self.config["fail_message"],
                                     "type": "value_error"}]}
        if job["outcome"] == "content_policy":
            return 422, {"detail": "Output blocked by the content policy checker", "error_type": "content_policy_violation"}
        video = {"url": f"{self.base_url}/media/{request_id}.mp4", "content_type": "video/mp4",
                 "file_name": "output.mp4", "file_size": 1}
        out = {"video": video}
        if job["endpoint"].startswith("fal-ai/sora-2/"):
            out["video_id"] = "video_" + request_id.replace("-", "")
        return 200, out

    def result(self, handler, request_id):
        with self.lock:
            self.counts["results"] += 1
        job = self.job_or_404(handler, request_id)
        if job is None:
            return
        if self.phase(job) in ("IN_QUEUE", "IN_PROGRESS"):
            return self.reply(handler, 400, {"detail": "Request is still in progress"})
        job["completed_at"] = job["completed_at"] or time.time()
        status, body = self.output(request_id, job)
        self.reply(handler, status, body, {"x-fal-request-id": request_id})

    def cancel(self, handler, request_id):
        with self.lock:
            self.counts["cancels"] += 1
        job = self.job_or_404(handler, request_id)
        if job is None:
            return
        if self.phase(job) == "COMPLETED" or job["cancelled"]:
            return self.reply(handler, 400, {"status": "ALREADY_COMPLETED"})
        job["cancelled"] = True
        self.reply(handler, 202, {"status": "CANCELLATION_REQUESTED"})

    def serve_media(self, handler, name):
        request_id = name[:-4] if name.endswith(".mp4") else name
        with self.lock:
            self.counts["media"] += 1
            job = self.jobs.get(request_id)
        ttl = self.config["result_link_ttl"]
        if job is None or (ttl is not None and time.time() - (job["completed_at"] or job["created"]) > ttl):
            data = b"AccessDenied: the link expired"
            handler.send_response(403)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        with open(self.media_path, "rb") as f:
            data = f.read()
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # ---- webhooks ----

    def sign(self, request_id, timestamp, body):
        message = "\n".join([request_id, self.config["user_id"], timestamp, hashlib.sha256(body).hexdigest()])
        signature = self.private_key.sign(message.encode()).hex()
        if self.config["webhook_bad_signature"]:
            signature = ("0" if signature[0] != "0" else "1") + signature[1:]
        return signature

    def deliver_webhook_when_done(self, request_id):
        job = self.jobs[request_id]
        done_at = job["created"] + self.config["queue_seconds"] + self.config["run_seconds"]
        time.sleep(max(0.0, done_at - time.time()) + self.config["webhook_delay"])
        if job["cancelled"]:
            return
        job["completed_at"] = job["completed_at"] or time.time()
        status, output = self.output(request_id, job)
        payload = {"request_id": request_id, "gateway_request_id": request_id,
                   "status": "OK" if status == 200 else "ERROR", "payload": output,
                   "error": None if status == 200 else f"Invalid status code: {status}"}
        body = json.dumps(payload).encode()
        for _ in range(self.config["duplicate_webhooks"]):
            timestamp = str(int(time.time()))
            request = urllib.request.Request(job["webhook"], data=body, method="POST", headers={
                "Content-Type": "application/json",
                "X-Fal-Webhook-Request-Id": request_id,
                "X-Fal-Webhook-User-Id": self.config["user_id"],
                "X-Fal-Webhook-Timestamp": timestamp,
                "X-Fal-Webhook-Signature": self.sign(request_id, timestamp, body)})
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    job.setdefault("webhook_answers", []).append(answer.status)
            except urllib.error.HTTPError as error:
                job.setdefault("webhook_answers", []).append(error.code)
            except OSError:
                job.setdefault("webhook_answers", []).append(0)
            with self.lock:
                self.counts["webhooks_sent"] += 1
