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
import base64
import hashlib
import json
import time
import urllib.parse
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from base import Emulator

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


class FalQueue(Emulator):
    """One emulator on 127.0.0.1 in a thread of this process."""

    DEFAULTS = {"key": "fal_test_key", "user_id": "user_emulator"}

    def __init__(self, media_path, **config):
        self.private_key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
        public = self.private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)
        self.jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "kid": "emulator"}]}
        super().__init__(media_path, **config)

    def route(self, handler, method, path, query, body):
        path = path.strip("/")
        if method == "GET" and path == ".well-known/jwks.json":
            self.count("jwks")
            return self.reply(handler, 200, self.jwks)
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
            return self.submit(handler, path, urllib.parse.parse_qs(query), body)
        return self.reply(handler, 404, {"detail": "Not found"})

    def fal_phase(self, job):
        if job["cancelled"]:
            return "CANCELLED"
        return {"queued": "IN_QUEUE", "running": "IN_PROGRESS", "done": "COMPLETED"}[self.phase(job)]

    def urls(self, owner_app, request_id):
        base = f"{self.origin}/{owner_app}/requests/{request_id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def submit(self, handler, endpoint, query, body):
        self.count("submits")
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
        job = self.new_job(request_id, endpoint=endpoint, owner_app=owner_app, input=payload, webhook=webhook)
        answer = {"status": "IN_QUEUE", "request_id": request_id, "gateway_request_id": request_id,
                  "queue_position": 0, **self.urls(owner_app, request_id)}
        if webhook:
            self.when_done(job, lambda: self.deliver_webhook(request_id, job))
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
        self.count("polls")
        if self.take_fault("poll_500"):
            return self.reply(handler, 500, {"detail": "Internal error"})
        if self.take_fault("poll_malformed"):
            return self.reply(handler, 200, None, raw=b"<html>gateway error</html>")
        job = self.job_or_404(handler, request_id)
        if job is None:
            return
        phase = self.fal_phase(job)
        shown = "COMPLETED" if phase == "CANCELLED" else phase  # fal has no CANCELLED status value
        body = {"status": shown, "request_id": request_id, **self.urls(job["owner_app"], request_id)}
        if shown == "IN_QUEUE":
            body["queue_position"] = 0
        if shown == "COMPLETED":
            body["metrics"] = {"inference_time": self.config["run_seconds"]}
            job.setdefault("completed_seen_at", time.time())
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
        video = {"url": self.media_url(request_id), "content_type": "video/mp4",
                 "file_name": "output.mp4", "file_size": 1}
        out = {"video": video}
        if job["endpoint"].startswith("fal-ai/sora-2/"):
            out["video_id"] = "video_" + request_id.replace("-", "")
        return 200, out

    def result(self, handler, request_id):
        self.count("results")
        job = self.job_or_404(handler, request_id)
        if job is None:
            return
        if self.fal_phase(job) in ("IN_QUEUE", "IN_PROGRESS"):
            return self.reply(handler, 400, {"detail": "Request is still in progress"})
        job["completed_at"] = job["completed_at"] or time.time()
        status, body = self.output(request_id, job)
        self.reply(handler, status, body, {"x-fal-request-id": request_id})

    def cancel(self, handler, request_id):
        self.count("cancels")
        job = self.job_or_404(handler, request_id)
        if job is None:
            return
        if self.fal_phase(job) == "COMPLETED" or job["cancelled"]:
            return self.reply(handler, 400, {"status": "ALREADY_COMPLETED"})
        job["cancelled"] = True
        self.reply(handler, 202, {"status": "CANCELLATION_REQUESTED"})

    # ---- webhooks ----

    def sign(self, request_id, timestamp, body):
        message = "\n".join([request_id, self.config["user_id"], timestamp, hashlib.sha256(body).hexdigest()])
        signature = self.private_key.sign(message.encode()).hex()
        if self.config["webhook_bad_signature"]:
            signature = ("0" if signature[0] != "0" else "1") + signature[1:]
        return signature

    def deliver_webhook(self, request_id, job):
        status, output = self.output(request_id, job)
        payload = {"request_id": request_id, "gateway_request_id": request_id,
                   "status": "OK" if status == 200 else "ERROR", "payload": output,
                   "error": None if status == 200 else f"Invalid status code: {status}"}

        def headers(body):
            timestamp = str(int(time.time()))
            return {"X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": self.config["user_id"],
                    "X-Fal-Webhook-Timestamp": timestamp,
                    "X-Fal-Webhook-Signature": self.sign(request_id, timestamp, body)}
        self.post_webhook(job, job["webhook"], json.dumps(payload).encode(), headers)
