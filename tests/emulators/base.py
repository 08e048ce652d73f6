"""What every provider emulator shares: a threaded HTTP server on 127.0.0.1, jobs that progress with
wall-clock time, counted faults, request counters, result media whose links can expire, and webhook
delivery from a background thread. Test fixtures only."""
import concurrent.futures
import heapq
import http.server
import itertools
import json
import threading
import time
import urllib.error
import urllib.request

class QuietServer(http.server.ThreadingHTTPServer):
    """A client hanging up mid-request is normal here (timeouts are tested): not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            super().handle_error(request, client_address)


COMMON_DEFAULTS = {
    "queue_seconds": 0.2,
    "run_seconds": 0.4,
    "outcome": "succeed",          # succeed | fail | content_policy
    "fail_message": "The model could not process the input.",
    "retry_after": 1,
    "hang_seconds": 20,
    "result_link_ttl": None,
    "duplicate_webhooks": 1,
    "webhook_bad_signature": False,
    "webhook_delay": 0.0,
    # counted faults: how many upcoming requests each affects
    "submit_429": 0,
    "submit_500": 0,
    "submit_hang": 0,
    "submit_malformed": 0,
    "poll_500": 0,
    "poll_malformed": 0,
}


class Emulator:
    """Subclasses set DEFAULTS and implement route(handler, method, path, query, body)."""

    DEFAULTS = {}
    PREFIX = ""  # path prefix of the API (e.g. "/v1" for OpenAI)

    def __init__(self, media_path, **config):
        self.media_path = media_path
        self.config = {**COMMON_DEFAULTS, **self.DEFAULTS, **config}
        self.lock = threading.Lock()
        self.jobs = {}
        self.counts = {"submits": 0, "jobs_created": 0, "polls": 0, "results": 0, "media": 0, "cancels": 0,
                       "webhooks_sent": 0, "jwks": 0}
        emulator = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                emulator.dispatch(self, "GET")

            def do_POST(self):
                emulator.dispatch(self, "POST")

            def do_PUT(self):
                emulator.dispatch(self, "PUT")

            def do_DELETE(self):
                emulator.dispatch(self, "DELETE")

        # deliveries due later wait in one heap served by one thread, and go out through a few workers
        # (a thread per job would not survive ten thousand jobs in flight)
        self.due = []
        self.due_order = itertools.count()
        self.due_changed = threading.Condition(self.lock)
        self.senders = concurrent.futures.ThreadPoolExecutor(max_workers=8)
        self.stopping = False
        threading.Thread(target=self.run_due, daemon=True).start()
        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base_url = self.origin + self.PREFIX
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ---- control ----

    def configure(self, **config):
        with self.lock:
            self.config.update(config)

    def stats(self):
        with self.lock:
            return {**self.counts, "jobs": {k: dict(v) for k, v in self.jobs.items()}}

    def stop(self):
        with self.lock:
            self.stopping = True
            self.due_changed.notify()
        self.server.shutdown()
        self.server.server_close()
        self.senders.shutdown(wait=False, cancel_futures=True)

    def run_due(self):
        with self.lock:
            while not self.stopping:
                if not self.due:
                    self.due_changed.wait()
                    continue
                wait = self.due[0][0] - time.time()
                if wait > 0:
                    self.due_changed.wait(wait)
                    continue
                _, _, action = heapq.heappop(self.due)
                self.senders.submit(action)

    def count(self, name):
        with self.lock:
            self.counts[name] += 1

    def take_fault(self, name):
        """Consumes one unit of a counted fault; True when it applies to this request."""
        with self.lock:
            if self.config.get(name, 0) > 0:
                self.config[name] -= 1
                return True
        return False

    # ---- jobs ----

    def new_job(self, job_id, **fields):
        job = {"created": time.time(), "cancelled": False, "completed_at": None, "outcome": self.config["outcome"],
               **fields}
        with self.lock:
            self.jobs[job_id] = job
            self.counts["jobs_created"] += 1
        return job

    def phase(self, job):
        """queued, running or done, by age."""
        age = time.time() - job["created"]
        if age < self.config["queue_seconds"]:
            return "queued"
        if age < self.config["queue_seconds"] + self.config["run_seconds"]:
            return "running"
        job["completed_at"] = job["completed_at"] or time.time()
        return "done"

    def media_url(self, job_id):
        return f"{self.origin}/media/{job_id}.mp4"

    # ---- HTTP ----

    def reply(self, handler, status, body, headers=None, raw=None, content_type="application/json"):
        data = raw if raw is not None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def dispatch(self, handler, method):
        try:
            path, _, query = handler.path.partition("?")
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
            if method == "GET" and path.startswith("/media/"):
                return self.serve_media(handler, path[len("/media/"):])
            self.route(handler, method, path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def serve_media(self, handler, name):
        job_id = name[:-4] if name.endswith(".mp4") else name
        self.count("media")
        with self.lock:
            job = self.jobs.get(job_id)
        ttl = self.config["result_link_ttl"]
        if job is None or (ttl is not None and time.time() - (job["completed_at"] or job["created"]) > ttl):
            return self.reply(handler, 403, None, raw=b"AccessDenied: the link expired", content_type="text/plain")
        with open(self.media_path, "rb") as f:
            self.reply(handler, 200, None, raw=f.read(), content_type="video/mp4")

    # ---- webhooks ----

    def post_webhook(self, job, url, body, headers_for):
        """POSTs body to url duplicate_webhooks times; headers_for(body) gives fresh (signed) headers."""
        job.setdefault("webhook_sent_at", time.time())
        for _ in range(self.config["duplicate_webhooks"]):
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json", **headers_for(body)})
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    status = answer.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            job.setdefault("webhook_answers", []).append(status)
            self.count("webhooks_sent")

    def when_done(self, job, deliver):
        """Runs deliver() once the job is done (plus webhook_delay), unless it was cancelled."""
        def run():
            if not job["cancelled"]:
                job["completed_at"] = job["completed_at"] or time.time()
                deliver()
        done_at = job["created"] + self.config["queue_seconds"] + self.config["run_seconds"]
        with self.lock:
            heapq.heappush(self.due, (done_at + self.config["webhook_delay"], next(self.due_order), run))
            self.due_changed.notify()
