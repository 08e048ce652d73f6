#!/usr/bin/env python3
"""sigv4_proxy.py — the S3 server of the storage tests: s3rver (pinned in package.json, which accepts any
signature) behind a proxy that recomputes every request's AWS Signature Version 4 with botocore's own
signer (Debian's python3-botocore) and refuses a mismatch, as S3 does, with 403 SignatureDoesNotMatch.

Usage: sigv4_proxy.py ACCESS_KEY SECRET REGION BUCKET...
Starts s3rver on 127.0.0.1 (a free port, a temporary folder), then the proxy on another free port of
127.0.0.1, prints "READY <proxy port>" and serves until its standard input closes, then stops s3rver
and removes the folder. Only 127.0.0.1 is ever used.

Keys whose last segment starts with "fault-truncate" or "fault-garbage" are answered by the proxy itself
with a body cut short or an unreadable error, for the tests of hostile answers; a PUT of a key whose last
segment starts with "fault-slow" is held SLOW_PUT_SECONDS before it is passed on (a slow bucket)."""
import datetime
import hashlib
import hmac
import http.client
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                  r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")
HOP_BY_HOP = {"connection", "expect", "transfer-encoding", "keep-alive"}
SLOW_PUT_SECONDS = 3


def s3_error(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    access_key = secret = region = ""
    upstream_port = 0

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=(), length=None):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def signature_problem(self, body):
        """None when the request is signed with our secret, else (status, code, message)."""
        match = AUTH.match(self.headers.get("Authorization", ""))
        if match is None:
            return 403, "AccessDenied", "no SigV4 Authorization header"
        key, day, region, signed, signature = match.groups()
        if key != self.access_key:
            return 403, "InvalidAccessKeyId", "unknown access key"
        stamp = self.headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return 403, "AccessDenied", "bad X-Amz-Date"
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900 or \
                stamp[:8] != day or region != self.region:
            return 403, "RequestTimeTooSkewed", "date or region out of scope"
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return 403, "AccessDenied", "host and x-amz-date must be signed"
        content_sha = self.headers.get("X-Amz-Content-SHA256")
        if content_sha is None:
            return 400, "InvalidRequest", "missing x-amz-content-sha256"
        if content_sha != "UNSIGNED-PAYLOAD" and content_sha != hashlib.sha256(body).hexdigest():
            return 400, "XAmzContentSHA256Mismatch", "the body does not match its hash"
        headers = {}
        for name in names:
            value = self.headers.get(name)
            if value is None:
                return 403, "AccessDenied", f"signed header {name} is missing"
            headers[name] = value
        request = AWSRequest(method=self.command, url="http://" + self.headers["Host"] + self.path,
                             headers=headers, data=body)
        request.context["timestamp"] = stamp
        auth = S3SigV4Auth(Credentials(self.access_key, self.secret), "s3", region)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        if not hmac.compare_digest(expected, signature):
            return 403, "SignatureDoesNotMatch", "the signature does not match"
        return None

    def fault(self):
        last = self.path.split("?")[0].rsplit("/", 1)[-1]
        if last.startswith("fault-truncate"):
            self.answer(200, b"0123456789", [("Content-Type", "application/octet-stream")], length=1000)
            self.close_connection = True
            return True
        if last.startswith("fault-garbage"):
            self.answer(500, b"<Error><Code>Internal<\x00\xff", [("Content-Type", "application/xml")])
            return True
        if last.startswith("fault-slow") and self.command == "PUT":
            time.sleep(SLOW_PUT_SECONDS)  # then passed on
        return False

    def handle_any(self):
        body = self.read_body()
        problem = self.signature_problem(body)
        if problem is not None:
            status, code, message = problem
            sys.stderr.write(f"sigv4_proxy: {self.command} {self.path}: {status} {code}: {message}\n")
            self.answer(status, s3_error(code, message), [("Content-Type", "application/xml")])
            return
        if self.fault():
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST")
                         else None, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        passed = [(k, v) for k, v in response.getheaders()
                  if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
        self.answer(response.status, data, passed,
                    length=response.getheader("Content-Length") if self.command == "HEAD" else None)
        upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    access_key, secret, region, *buckets = sys.argv[1:]
    folder = tempfile.mkdtemp(prefix="reelay-s3rver-")
    # s3rver makes its continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider
    node = subprocess.Popen(["node", "--openssl-legacy-provider", os.path.join(HERE, "s3rver_start.mjs"), folder,
                             *buckets],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        line = node.stdout.readline().decode()
        if not line.startswith("PORT "):
            sys.exit("s3rver did not start")
        # whatever s3rver prints later (its log, when REELAY_S3RVER_LOG is set) goes to our stderr
        threading.Thread(target=lambda: shutil.copyfileobj(node.stdout, sys.stderr.buffer), daemon=True).start()
        Proxy.access_key, Proxy.secret, Proxy.region = access_key, secret, region
        Proxy.upstream_port = int(line.split()[1])
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"READY {server.server_address[1]}", flush=True)
        sys.stdin.read()  # until the test closes our standard input (or dies)
        server.shutdown()
    finally:
        node.terminate()
        node.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
