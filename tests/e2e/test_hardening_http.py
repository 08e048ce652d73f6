"""The HTTP front against a hostile client: floods of pipelined requests abandoned mid-way, bodies refused
from their head alone, h2o's own errors in the documented JSON, and a clean stop with connections open."""
import json
import re
import socket
import time

import pytest
import requests

from conftest import Server


def raw_exchange(server, data, timeout=5.0):
    """Sends bytes on a fresh connection and returns (status, headers text, body bytes) of the first answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(data)
        return read_answer(s)


def read_answer(s):
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = s.recv(65536)
        assert chunk, f"connection ended before an answer: {buffer!r}"
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    head_text = head.decode("latin-1")
    status = int(head_text.split(" ")[1])
    if re.search(r"(?im)^transfer-encoding:\s*chunked", head_text):
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += s.recv(65536)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += s.recv(65536)
            body, rest = body + rest[:size], rest[size + 2:]
            if size == 0:
                return status, head_text, body
    length = int(re.search(r"(?im)^content-length:\s*(\d+)", head_text).group(1))
    while len(rest) < length:
        chunk = s.recv(65536)
        assert chunk
        rest += chunk
    return status, head_text, rest[:length]


def assert_json_error(status, head, body, want_status, want_code):
    assert status == want_status, (status, body)
    assert re.search(r"(?im)^content-type:\s*application/json", head), head
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == want_code and error["message"]


def metric(server, name):
    text = requests.get(server.url + "/metrics", timeout=10).text
    match = re.search(rf"(?m)^{name} (\d+)$", text)
    assert match, text
    return int(match.group(1))


def test_a_flood_of_abandoned_pipelined_requests_stops_when_the_client_goes(server):
    request = f"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n\r\n".encode()
    assert requests.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {server.key}"},
                        timeout=10).status_code == 200
    builds_before = metric(server, "reelay_catalog_builds_total")
    batch = request * 2000
    connections, sent = [], 0
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.setblocking(False)
        connections.append(s)
    # Each connection gets requests until its buffers are full (reelay's answers are not read) or 20,000
    # are queued on it.
    deadline = time.monotonic() + 3
    queued = [0] * len(connections)
    while time.monotonic() < deadline and min(queued) < 20000 * len(request):
        progress = False
        for i, s in enumerate(connections):
            if queued[i] >= 20000 * len(request):
                continue
            try:
                n = s.send(batch[queued[i] % len(batch):])
                queued[i] += n
                progress = progress or n > 0
            except BlockingIOError:
                pass
        if not progress:
            time.sleep(0.01)
    sent = sum(queued)
    assert sent > 1_000_000, f"only {sent} bytes of requests went out"
    for s in connections:
        s.close()  # with answers unread: the kernel resets the connection
    flood_ended = time.monotonic()
    answer = requests.get(server.url + "/healthz", timeout=10)
    latency = time.monotonic() - flood_ended
    assert answer.status_code == 200
    assert latency < 0.1, f"/healthz took {latency * 1000:.0f} ms after the flood ended"
    # And the server is not busy afterwards: a second look, a moment later, is as quick.
    time.sleep(0.3)
    started = time.monotonic()
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert time.monotonic() - started < 0.1
    # Every catalog answer came from the one body built for the key's group.
    assert metric(server, "reelay_catalog_builds_total") == builds_before


def test_a_body_over_the_route_limit_is_refused_from_its_head(server):
    # Unauthenticated, 120 MB announced, not a byte of it sent: the 413 comes at once.
    started = time.monotonic()
    status, head, body = raw_exchange(
        server, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 120000000\r\n\r\n")
    assert_json_error(status, head, body, 413, "request_too_large")
    assert time.monotonic() - started < 2
    # Over the 1 MiB JSON limit but far under the upload limit: still refused before the body.
    status, head, body = raw_exchange(
        server, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
    assert_json_error(status, head, body, 413, "request_too_large")


def test_an_upload_checks_the_key_before_its_body(server):
    for auth in (b"", b"Authorization: Bearer sk-not-a-key\r\n"):
        status, head, body = raw_exchange(
            server, b"POST /v1/files/upload/stream HTTP/1.1\r\nHost: x\r\n" + auth +
                    b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000000\r\n\r\n")
        assert_json_error(status, head, body, 401, "invalid_api_key")
    # A good key lets the body in (and a real upload still works end to end).
    files = {"file": ("clip.txt", b"hello", "text/plain")}
    answer = server.request("POST", "/v1/files/upload/stream", files=files)
    assert answer.status_code == 200, answer.text


def test_conflicting_lengths_and_malformed_heads_get_json(server):
    status, head, body = raw_exchange(
        server, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
    assert_json_error(status, head, body, 400, "conflicting_content_length")
    status, head, body = raw_exchange(server, b"NOT A REQUEST\x01\r\n\r\n")
    assert_json_error(status, head, body, 400, "malformed_request")
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    status, head, body = raw_exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert_json_error(status, head, body, 431, "too_many_headers")
    status, head, body = raw_exchange(
        server, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n")
    assert_json_error(status, head, body, 400, "malformed_request")


def test_an_unsatisfiable_range_on_a_file_link_is_json(server):
    files = {"file": ("clip.txt", b"hello world", "text/plain")}
    upload = server.request("POST", "/v1/files/upload/stream", files=files)
    assert upload.status_code == 200, upload.text
    answer = requests.get(upload.json()["url"], headers={"Range": "bytes=5000-6000"}, timeout=10)
    assert answer.status_code == 416
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "range_not_satisfiable"


def test_a_stop_with_connections_open_is_clean(tmp_path):
    s = Server(str(tmp_path))
    idle = socket.create_connection(("127.0.0.1", s.port))
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_answer(idle)[0] == 200  # now an idle keep-alive connection
    half_head = socket.create_connection(("127.0.0.1", s.port))
    half_head.sendall(b"GET /heal")
    half_body = socket.create_connection(("127.0.0.1", s.port))
    half_body.sendall(b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    time.sleep(0.2)
    s.stop()  # asserts exit status 0 (an abort or a sanitizer report fails it)
    for c in (idle, half_head, half_body):
        c.settimeout(5)
        assert c.recv(100) == b""
        c.close()
