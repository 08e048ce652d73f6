"""Local stand-ins for Sync Labs, Kling, OpenAI Videos and Creatify (specs/upstream-apis.md §2–§5), for
tests only. Each checks the provider's auth, validates what the spec says is required, moves jobs through
the provider's own status names, answers with its own shapes (errors included), sends its webhooks signed
its way, and honours the faults of base.COMMON_DEFAULTS."""
import base64
import email.parser
import email.policy
import hashlib
import hmac
import json
import time
import uuid

from base import Emulator


def standard_webhook_headers(secret, body, bad=False):
    """Standard Webhooks: HMAC-SHA256 over "<id>.<timestamp>.<body>" keyed by base64(secret after whsec_)."""
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    webhook_id, timestamp = "msg_" + uuid.uuid4().hex, str(int(time.time()))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    if bad:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    return {"webhook-id": webhook_id, "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


class SyncLabs(Emulator):
    """POST /v2/generate (x-api-key, Idempotency-Key replays), GET /v2/generate/{id}; webhooks signed with
    Sync-Signature: t=…,v1=hex(HMAC(secret, "t." body)) (also sent as X-Signature-Primary)."""

    DEFAULTS = {"key": "sync_test_key", "webhook_secret": "whsec_sync_test"}

    def error(self, handler, status, code, message, name, headers=None):
        self.reply(handler, status, {"statusCode": status, "errorCode": code, "message": message, "error": name},
                   headers)

    def route(self, handler, method, path, query, body):
        if handler.headers.get("x-api-key") != self.config["key"]:
            return self.error(handler, 401, "unauthorized", "Invalid API key", "Unauthorized")
        if method == "POST" and path == "/v2/generate":
            return self.submit(handler, body)
        if method == "GET" and path.startswith("/v2/generate/"):
            return self.poll(handler, path[len("/v2/generate/"):])
        self.error(handler, 404, "not_found", "Not found", "Not Found")

    def generation(self, job_id, job):
        phase = self.phase(job)
        body = {"id": job_id, "createdAt": "2026-11-22T10:00:00.000Z", "model": job["input"].get("model"),
                "input": job["input"].get("input"), "options": job["input"].get("options"),
                "webhookUrl": job["input"].get("webhookUrl"), "outputUrl": None, "outputMediaUrl": None,
                "outputDuration": None, "segments": None, "segmentOutputUrl": None, "error": None,
                "error_code": None, "status": {"queued": "PENDING", "running": "PROCESSING"}.get(phase)}
        if phase == "done":
            if job["outcome"] == "succeed":
                url = self.media_url(job_id) + "?token=" + uuid.uuid4().hex
                body.update(status="COMPLETED", outputUrl=url, outputMediaUrl=url, outputDuration=2.0)
            elif job["outcome"] == "content_policy":
                body.update(status="REJECTED", error="Content moderation rejected the input",
                            error_code="generation_content_moderation")
            else:
                body.update(status="FAILED", error=self.config["fail_message"],
                            error_code="generation_input_validation_failed")
        return body

    def submit(self, handler, raw):
        self.count("submits")
        key = handler.headers.get("Idempotency-Key")
        if key is not None and not (1 <= len(key) <= 128 and all(c.isalnum() or c in "._~-" for c in key)):
            return self.error(handler, 400, "INVALID_IDEMPOTENCY_KEY", "Malformed Idempotency-Key", "Bad Request")
        with self.lock:
            replay = next((i for i, j in self.jobs.items() if key and j.get("idempotency_key") == key), None)
        if replay is not None:  # the original generation, no new job
            return self.reply(handler, 201, self.generation(replay, self.jobs[replay]))
        if self.take_fault("submit_429"):
            return self.error(handler, 429, "rate_limit_exceeded", "Rate limit exceeded. Please try again later.",
                              "Too Many Requests", {"Retry-After": str(self.config["retry_after"])})
        if self.take_fault("submit_500"):
            return self.error(handler, 500, "internal_error", "Internal server error", "Internal Server Error")
        try:
            payload = json.loads(raw)
            kinds = {item["type"] for item in payload["input"]}
            assert payload["model"] in ("lipsync-2", "lipsync-2-pro", "sync-3")
        except (ValueError, KeyError, TypeError, AssertionError):
            return self.error(handler, 400, "generation_input_validation_failed", ["input must hold a video and an audio"],
                              "Bad Request")
        if kinds != {"video", "audio"}:
            return self.error(handler, 400, "generation_video_missing", "A video and an audio input are required",
                              "Bad Request")
        job_id = str(uuid.uuid4())
        job = self.new_job(job_id, input=payload, idempotency_key=key, headers=dict(handler.headers))
        if payload.get("webhookUrl"):
            self.when_done(job, lambda: self.post_webhook(job, payload["webhookUrl"],
                                                          json.dumps(self.generation(job_id, job)).encode(),
                                                          self.signature_headers))
        if self.take_fault("submit_hang"):
            time.sleep(self.config["hang_seconds"])
        if self.take_fault("submit_malformed"):
            return self.reply(handler, 201, None, raw=b'{"id": "' + job_id[:6].encode())
        self.reply(handler, 201, self.generation(job_id, job))

    def signature_headers(self, body):
        t = str(int(time.time()))
        mac = hmac.new(self.config["webhook_secret"].encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        if self.config["webhook_bad_signature"]:
            mac = ("0" if mac[0] != "0" else "1") + mac[1:]
        value = f"t={t},v1={mac}"
        return {"Sync-Signature": value, "X-Signature-Primary": value}

    def poll(self, handler, job_id):
        self.count("polls")
        if self.take_fault("poll_500"):
            return self.error(handler, 500, "internal_error", "Internal server error", "Internal Server Error")
        if self.take_fault("poll_malformed"):
            return self.reply(handler, 200, None, raw=b"<html>bad gateway</html>")
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            return self.error(handler, 404, "not_found", "Generation not found", "Not Found")
        self.reply(handler, 200, self.generation(job_id, job))


def jwt_claims(token, access_key, secret_key, now):
    """The claims of a valid Kling JWT, or an error code 1002/1003/1004."""
    try:
        header, payload, signature = token.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        expected = hmac.new(secret_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.urlsafe_b64decode(pad(signature)), expected):
            return 1002
        if json.loads(base64.urlsafe_b64decode(pad(header))).get("alg") != "HS256":
            return 1002
        claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
    except (ValueError, TypeError):
        return 1002
    if claims.get("iss") != access_key:
        return 1002
    if claims.get("nbf", 0) > now:
        return 1003
    if claims.get("exp", 0) < now:
        return 1004
    return claims


class Kling(Emulator):
    """Legacy v1 motion control: POST/GET /v1/videos/motion-control[/{task_id or external_task_id}] with a
    HS256 JWT; {"code","message","request_id","data"} envelopes; callbacks signed Standard-Webhooks style."""

    DEFAULTS = {"access_key": "AK_TEST", "secret_key": "SK_TEST",
                "webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="}

    def envelope(self, handler, status, code, message, data=None, headers=None):
        body = {"code": code, "message": message, "request_id": str(uuid.uuid4())}
        if data is not None:
            body["data"] = data
        self.reply(handler, status, body, headers)

    def route(self, handler, method, path, query, body):
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.envelope(handler, 401, 1001, "Authorization is empty")
        claims = jwt_claims(auth[len("Bearer "):], self.config["access_key"], self.config["secret_key"], time.time())
        if isinstance(claims, int):
            return self.envelope(handler, 401, claims, {1002: "Authorization is invalid", 1003: "Authorization is not yet valid",
                                                        1004: "Authorization has expired"}[claims])
        prefix = "/v1/videos/motion-control"
        if method == "POST" and path == prefix:
            return self.submit(handler, body)
        if method == "GET" and path.startswith(prefix + "/"):
            return self.poll(handler, path[len(prefix) + 1:])
        self.envelope(handler, 404, 1202, "Invalid method")

    def task(self, task_id, job):
        phase = self.phase(job)
        data = {"task_id": task_id, "task_info": {"external_task_id": job["input"].get("external_task_id")},
                "task_status": {"queued": "submitted", "running": "processing"}.get(phase), "task_status_msg": "",
                "created_at": int(job["created"] * 1000), "updated_at": int(time.time() * 1000)}
        if phase == "done":
            if job["outcome"] == "succeed":
                data.update(task_status="succeed", task_result={"videos": [
                    {"id": "video-" + task_id, "url": self.media_url(task_id), "duration": "2.0"}]},
                    final_unit_deduction="4.5")
            else:
                data.update(task_status="failed", task_status_msg=(
                    "Failure to pass the risk control system" if job["outcome"] == "content_policy"
                    else self.config["fail_message"]))
        return data

    def submit(self, handler, raw):
        self.count("submits")
        if self.take_fault("submit_429"):
            return self.envelope(handler, 429, 1302, "request rate too high", None,
                                 {"Retry-After": str(self.config["retry_after"])})
        if self.take_fault("submit_500"):
            return self.envelope(handler, 500, 5000, "internal error")
        try:
            payload = json.loads(raw)
            missing = [f for f in ("image_url", "video_url", "character_orientation", "mode") if not payload.get(f)]
        except (ValueError, AttributeError):
            return self.envelope(handler, 400, 1200, "invalid request parameters")
        if missing:
            return self.envelope(handler, 400, 1201, f"{missing[0]} is required")
        if payload.get("keep_original_sound", "yes") not in ("yes", "no"):
            return self.envelope(handler, 400, 1201, "keep_original_sound must be yes or no")
        external = payload.get("external_task_id")
        with self.lock:
            taken = any(external and j["input"].get("external_task_id") == external for j in self.jobs.values())
        if taken:
            return self.envelope(handler, 400, 1201, "external_task_id already exists")
        task_id = str(8685823255620 + len(self.jobs)) + str(int(time.time() * 1000) % 100000)
        job = self.new_job(task_id, input=payload)
        if payload.get("callback_url"):
            self.when_done(job, lambda: self.post_webhook(
                job, payload["callback_url"], json.dumps(self.task(task_id, job)).encode(),
                lambda body: standard_webhook_headers(self.config["webhook_secret"], body,
                                                      self.config["webhook_bad_signature"])))
        if self.take_fault("submit_hang"):
            time.sleep(self.config["hang_seconds"])
        if self.take_fault("submit_malformed"):
            return self.reply(handler, 200, None, raw=b'{"code":0,"data":{"task_id":')
        self.envelope(handler, 200, 0, "SUCCEED", {"task_id": task_id, "task_info": {"external_task_id": external},
                                                    "task_status": "submitted", "created_at": int(time.time() * 1000),
                                                    "updated_at": int(time.time() * 1000)})

    def poll(self, handler, key):
        self.count("polls")
        if self.take_fault("poll_500"):
            return self.envelope(handler, 500, 5000, "internal error")
        if self.take_fault("poll_malformed"):
            return self.reply(handler, 200, None, raw=b"{{{")
        with self.lock:
            found = next(((i, j) for i, j in self.jobs.items()
                          if i == key or j["input"].get("external_task_id") == key), None)
        if found is None:
            return self.envelope(handler, 404, 1203, "task not found")
        self.envelope(handler, 200, 0, "SUCCEED", self.task(*found))


class OpenAIVideos(Emulator):
    """/v1/videos: create (JSON or multipart), retrieve (with openai-poll-after-ms), content, delete; the
    project webhook (webhook_url in the config) signed with Standard Webhooks."""

    DEFAULTS = {"key": "sk-test", "webhook_url": None, "poll_after_ms": 200,
                "webhook_secret": "whsec_" + base64.b64encode(bytes(range(32))).decode()}
    PREFIX = "/v1"

    def error(self, handler, status, message, kind, param=None, code=None, headers=None):
        self.reply(handler, status, {"error": {"message": message, "type": kind, "param": param, "code": code}},
                   headers)

    def route(self, handler, method, path, query, body):
        if handler.headers.get("Authorization") != f"Bearer {self.config['key']}":
            return self.error(handler, 401, "Incorrect API key provided", "invalid_request_error",
                              code="invalid_api_key")
        parts = path.strip("/").split("/")  # v1, videos, id, content
        if parts[:2] != ["v1", "videos"]:
            return self.error(handler, 404, "Not found", "invalid_request_error")
        if method == "POST" and len(parts) == 2:
            return self.create(handler, body)
        if len(parts) >= 3:
            with self.lock:
                job = self.jobs.get(parts[2])
            if job is None:
                return self.error(handler, 404, f"Video {parts[2]} not found", "invalid_request_error")
            if method == "GET" and len(parts) == 3:
                self.count("polls")
                if self.take_fault("poll_500"):
                    return self.error(handler, 500, "The server had an error", "server_error")
                if self.take_fault("poll_malformed"):
                    return self.reply(handler, 200, None, raw=b"{\"id\":")
                return self.reply(handler, 200, self.video(parts[2], job),
                                  {"openai-poll-after-ms": str(self.config["poll_after_ms"])})
            if method == "GET" and parts[3:] == ["content"]:
                self.count("media")
                video = self.video(parts[2], job)
                ttl = self.config["result_link_ttl"]
                expired = ttl is not None and job["completed_at"] and time.time() - job["completed_at"] > ttl
                if video["status"] != "completed" or expired:
                    return self.error(handler, 404, "Video content is not available", "invalid_request_error")
                with open(self.media_path, "rb") as f:
                    return self.reply(handler, 200, None, raw=f.read(), content_type="video/mp4")
            if method == "DELETE" and len(parts) == 3:
                with self.lock:
                    del self.jobs[parts[2]]
                return self.reply(handler, 200, {"id": parts[2], "object": "video.deleted", "deleted": True})
        self.error(handler, 405, "Method not allowed", "invalid_request_error")

    @staticmethod
    def parse_body(content_type, raw):
        """JSON, or multipart/form-data as the official SDK sends it (file parts become their size)."""
        if not content_type.startswith("multipart/form-data"):
            return json.loads(raw)
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        if not message.is_multipart():
            raise ValueError("not multipart")
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                fields[name] = {"file_name": part.get_filename(), "bytes": len(part.get_payload(decode=True))}
            else:
                fields[name] = part.get_content().strip() if isinstance(part.get_content(), str) else \
                    part.get_payload(decode=True).decode()
        return fields

    def video(self, video_id, job):
        phase = self.phase(job)
        run = self.config["run_seconds"] or 1
        progress = {"queued": 0, "done": 100}.get(phase, int(min(99, 100 * (time.time() - job["created"]
                                                                             - self.config["queue_seconds"]) / run)))
        body = {"id": video_id, "object": "video", "model": job["input"].get("model"), "created_at": int(job["created"]),
                "completed_at": None, "expires_at": None, "prompt": job["input"].get("prompt"),
                "seconds": job["input"].get("seconds"), "size": job["input"].get("size"),
                "remixed_from_video_id": None, "error": None, "progress": progress,
                "status": {"queued": "queued", "running": "in_progress"}.get(phase)}
        if phase == "done":
            if job["outcome"] == "succeed":
                body.update(status="completed", completed_at=int(job["completed_at"]),
                            expires_at=int(job["completed_at"]) + 3600)
            else:
                body.update(status="failed", error={
                    "code": "moderation_blocked" if job["outcome"] == "content_policy" else "invalid_input",
                    "message": self.config["fail_message"]})
        return body

    def create(self, handler, raw):
        self.count("submits")
        if self.take_fault("submit_429"):
            return self.error(handler, 429, "Rate limit reached for requests", "rate_limit_error",
                              headers={"retry-after": str(self.config["retry_after"]),
                                       "retry-after-ms": str(self.config["retry_after"] * 1000)})
        if self.take_fault("submit_500"):
            return self.error(handler, 500, "The server had an error while processing your request", "server_error")
        try:
            payload = self.parse_body(handler.headers.get("Content-Type", ""), raw)
            assert isinstance(payload, dict)
        except (ValueError, AssertionError):
            return self.error(handler, 400, "We could not parse the body of your request", "invalid_request_error")
        if not payload.get("prompt"):
            return self.error(handler, 400, "Missing required parameter: 'prompt'", "invalid_request_error", "prompt")
        if payload.get("seconds", "4") not in ("4", "8", "12", "16", "20"):
            return self.error(handler, 400, "Invalid value for 'seconds'", "invalid_request_error", "seconds")
        sizes = {"720x1280", "1280x720", "1024x1792", "1792x1024"} | (
            {"1080x1920", "1920x1080"} if payload.get("model") == "sora-2-pro" else set())
        if payload.get("size", "720x1280") not in sizes:
            return self.error(handler, 400, "Invalid value for 'size'", "invalid_request_error", "size")
        video_id = "video_" + uuid.uuid4().hex
        job = self.new_job(video_id, input=payload)
        if self.config["webhook_url"]:
            def deliver():
                kind = "video.completed" if job["outcome"] == "succeed" else "video.failed"
                event = {"id": "evt_" + uuid.uuid4().hex, "object": "event", "created_at": int(time.time()),
                         "type": kind, "data": {"id": video_id}}
                self.post_webhook(job, self.config["webhook_url"], json.dumps(event).encode(),
                                  lambda body: standard_webhook_headers(self.config["webhook_secret"], body,
                                                                        self.config["webhook_bad_signature"]))
            self.when_done(job, deliver)
        if self.take_fault("submit_hang"):
            time.sleep(self.config["hang_seconds"])
        if self.take_fault("submit_malformed"):
            return self.reply(handler, 200, None, raw=b"{\"id\": \"video_")
        self.reply(handler, 200, self.video(video_id, job))


class Creatify(Emulator):
    """POST /api/aurora/ → 201 AuroraFlow, GET /api/aurora/{id}/ (X-API-ID and X-API-KEY); unsigned webhooks."""

    DEFAULTS = {"api_id": "cr_id", "api_key": "cr_key"}

    def route(self, handler, method, path, query, body):
        if handler.headers.get("X-API-ID") != self.config["api_id"] or \
                handler.headers.get("X-API-KEY") != self.config["api_key"]:
            return self.reply(handler, 401, {"detail": "Invalid API credentials."})
        if method == "POST" and path == "/api/aurora/":
            return self.create(handler, body)
        if method == "GET" and path.startswith("/api/aurora/") and path.endswith("/"):
            return self.poll(handler, path[len("/api/aurora/"):-1])
        self.reply(handler, 404, {"detail": "Not found."})

    def flow(self, flow_id, job):
        phase = self.phase(job)
        run = self.config["run_seconds"] or 1
        progress = {"queued": 0.0, "done": 1.0}.get(phase, min(0.99, (time.time() - job["created"]
                                                                      - self.config["queue_seconds"]) / run))
        body = {"id": flow_id, "created_at": "2026-11-22T10:00:00Z", "name": job["input"].get("name"),
                "image": job["input"].get("image"), "audio": job["input"].get("audio"), "video_output": None,
                "credits_used": 0, "duration": 0, "progress": round(progress, 3), "failed_reason": "",
                "status": {"queued": "in_queue", "running": "running"}.get(phase),
                "webhook_url": job["input"].get("webhook_url"), "model_version": job["input"].get("model_version")}
        if phase == "done":
            if job["outcome"] == "succeed":
                body.update(status="done", video_output=self.media_url(flow_id), duration=2.0)
            else:
                body.update(status="rejected" if job["outcome"] == "content_policy" else "failed",
                            failed_reason=self.config["fail_message"])
        return body

    def create(self, handler, raw):
        self.count("submits")
        if self.take_fault("submit_429"):
            return self.reply(handler, 429, {"detail": "Request was throttled."},
                              {"Retry-After": str(self.config["retry_after"])})
        if self.take_fault("submit_500"):
            return self.reply(handler, 500, {"detail": "Server error."})
        try:
            payload = json.loads(raw)
            assert isinstance(payload, dict)
        except (ValueError, AssertionError):
            return self.reply(handler, 400, {"non_field_errors": ["Invalid data."]})
        for field in ("image", "audio"):
            if not payload.get(field):
                return self.reply(handler, 400, {field: ["This field is required."]})
        flow_id = str(uuid.uuid4())
        job = self.new_job(flow_id, input=payload)
        if payload.get("webhook_url"):
            self.when_done(job, lambda: self.post_webhook(
                job, payload["webhook_url"], json.dumps({k: v for k, v in self.flow(flow_id, job).items()
                                                         if k in ("id", "status", "failed_reason", "video_output")}).encode(),
                lambda body: {}))
        if self.take_fault("submit_hang"):
            time.sleep(self.config["hang_seconds"])
        if self.take_fault("submit_malformed"):
            return self.reply(handler, 201, None, raw=b"{\"id\":")
        self.reply(handler, 201, self.flow(flow_id, job))

    def poll(self, handler, flow_id):
        self.count("polls")
        if self.take_fault("poll_500"):
            return self.reply(handler, 500, {"detail": "Server error."})
        if self.take_fault("poll_malformed"):
            return self.reply(handler, 200, None, raw=b"<!doctype html>")
        with self.lock:
            job = self.jobs.get(flow_id)
        if job is None:
            return self.reply(handler, 404, {"detail": "Not found."})
        self.reply(handler, 200, self.flow(flow_id, job))
