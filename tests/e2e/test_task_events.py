"""Live progress: GET /v1/tasks/{id}/events and GET /v1/tasks/events (Server-Sent Events), and
GET /v1/tasks/{id}?wait=N — on one node, and across two nodes on PostgreSQL."""
import json
import socket
import time

import pytest

from conftest import TERMINAL, check_task_invariants, wait_task

FAST = ["--events-keepalive-ms", "300"]


def sse(server, path, key="default", last_event_id=None, timeout=60):
    """Opens a stream; yields (kind, value): ("event", (id, name, data)) or ("comment", text); ends when
    the server closes the stream."""
    headers = {"Authorization": f"Bearer {server.key if key == 'default' else key}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    import requests
    response = requests.get(server.url + path, headers=headers, stream=True, timeout=timeout)
    return response


def read_events(response, until=None, limit=60.0):
    """Reads a stream's lines into events and comments until it ends, `until(events)` holds or `limit`
    seconds pass. Returns (events, comments, ended)."""
    events, comments, fields = [], [], {}
    deadline = time.time() + limit
    ended = True
    for raw in response.iter_lines(decode_unicode=True):
        if raw == "":
            if "data" in fields:
                events.append((fields.get("id"), fields.get("event"), json.loads(fields["data"])))
            fields = {}
            if until is not None and until(events, comments):
                ended = False
                break
        elif raw.startswith(":"):
            comments.append(raw)
            if until is not None and until(events, comments):
                ended = False
                break
        else:
            name, _, value = raw.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        assert time.time() < deadline, "the stream did not say enough in time"
    response.close()
    return events, comments, ended


def test_a_sandbox_task_streams_to_completed_and_closes(make_server):
    server = make_server(FAST)
    task_id = server.submit({"model": "sora-2", "prompt": "events"}).json()["id"]
    response = sse(server, f"/v1/tasks/{task_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events, _, ended = read_events(response)
    assert ended, "the stream stays open after the terminal event"
    statuses = [data["status"] for _, _, data in events]
    assert statuses[-1] == "completed" and statuses.count("completed") == 1
    assert "processing" in statuses
    ids = [int(event_id) for event_id, _, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    progress = [data["progress"] for _, _, data in events]
    assert progress == sorted(progress) and progress[-1] == 100
    for _, name, data in events:
        assert name == "task"
        check_task_invariants(data)
    # the last event is exactly what GET shows
    assert events[-1][2] == server.request("GET", f"/v1/tasks/{task_id}").json()


def test_reconnecting_with_last_event_id_misses_nothing(make_server):
    server = make_server(FAST)
    task_id = server.submit({"model": "sora-2", "prompt": "reconnect"}).json()["id"]
    first, _, _ = read_events(sse(server, f"/v1/tasks/{task_id}/events"), until=lambda e, c: len(e) >= 1)
    last_id = first[-1][0]
    events, _, ended = read_events(sse(server, f"/v1/tasks/{task_id}/events", last_event_id=last_id))
    assert ended and events[-1][2]["status"] == "completed"
    assert all(int(event_id) > int(last_id) for event_id, _, _ in events)
    # a client that has seen the end is told to stop (204)
    done = sse(server, f"/v1/tasks/{task_id}/events", last_event_id=events[-1][0])
    assert done.status_code == 204
    # a finished task's stream without Last-Event-ID: its one terminal event, then the end
    again, _, ended = read_events(sse(server, f"/v1/tasks/{task_id}/events"))
    assert ended and [data["status"] for _, _, data in again] == ["completed"]


def test_keep_alive_comments_and_errors(make_server):
    server = make_server(FAST + ["--engine-paused"])
    task_id = server.submit({"model": "sora-2", "prompt": "idle"}).json()["id"]
    events, comments, _ = read_events(sse(server, f"/v1/tasks/{task_id}/events"),
                                      until=lambda e, c: len(c) >= 2, limit=10)
    assert [data["status"] for _, _, data in events] == ["pending"]
    assert comments[:2] == [": keep-alive", ": keep-alive"]
    assert sse(server, "/v1/tasks/task-unified-1-abcdefgh/events").status_code == 404
    assert sse(server, f"/v1/tasks/{task_id}/events", key="sk-wrong").status_code == 401
    other = server.create_key()
    assert sse(server, f"/v1/tasks/{task_id}/events", key=other["key"]).status_code == 404


def test_wait_answers_after_n_seconds_or_at_once_when_finished(make_server):
    server = make_server(FAST + ["--engine-paused"])
    task_id = server.submit({"model": "sora-2", "prompt": "wait"}).json()["id"]
    for bad in ("61", "-1", "abc", "1.5", ""):
        r = server.request("GET", f"/v1/tasks/{task_id}?wait={bad}")
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "out_of_range" and r.json()["error"]["param"] == "wait"
    start = time.time()
    r = server.request("GET", f"/v1/tasks/{task_id}?wait=2")
    elapsed = time.time() - start
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert 1.8 <= elapsed < 4, elapsed
    # a change ends the wait early: cancel it from another connection
    import threading
    result = {}

    def wait():
        begin = time.time()
        result["response"] = server.request("GET", f"/v1/tasks/{task_id}?wait=30")
        result["elapsed"] = time.time() - begin

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)
    assert server.request("POST", f"/v1/tasks/{task_id}/cancel").status_code == 200
    waiter.join(35)
    assert result["response"].status_code == 200 and result["response"].json()["status"] == "cancelled"
    assert result["elapsed"] < 3, result["elapsed"]
    start = time.time()
    assert server.request("GET", f"/v1/tasks/{task_id}?wait=30").json()["status"] == "cancelled"
    assert time.time() - start < 1


def test_wait_returns_early_when_a_running_task_moves(make_server):
    server = make_server(FAST)
    task_id = server.submit({"model": "sora-2", "prompt": "moves"}).json()["id"]
    seen = server.request("GET", f"/v1/tasks/{task_id}").json()
    start = time.time()
    moved = server.request("GET", f"/v1/tasks/{task_id}?wait=60").json()
    assert time.time() - start < 30
    assert (moved["status"], moved["progress"]) != (seen["status"], seen["progress"]) or moved["status"] in TERMINAL
    wait_task(server, task_id)


def test_the_key_stream_shows_every_task_of_the_key(make_server):
    server = make_server(FAST)
    response = sse(server, "/v1/tasks/events")
    assert response.status_code == 200
    ids = [server.submit({"model": "sora-2", "prompt": f"k{i}"}).json()["id"] for i in range(2)]

    def both_completed(events, _):
        done = {data["id"] for _, _, data in events if data["status"] == "completed"}
        return set(ids) <= done

    events, _, _ = read_events(response, until=both_completed, limit=90)
    for task_id in ids:
        statuses = [data["status"] for _, _, data in events if data["id"] == task_id]
        assert statuses[-1] == "completed" and statuses.count("completed") == 1, statuses
    other_key = server.create_key()
    theirs = server.submit({"model": "sora-2", "prompt": "not mine"}, key=other_key["key"]).json()["id"]
    mine, _, _ = read_events(sse(server, "/v1/tasks/events", last_event_id=0),
                             until=lambda e, c: len(c) >= 1, limit=10)
    assert theirs not in {data["id"] for _, _, data in mine}
    assert set(ids) <= {data["id"] for _, _, data in mine}  # replayed after Last-Event-ID 0


def test_dropped_streams_free_everything(make_server):
    """Many streams opened and dropped (reset and closed): the server stays healthy, and ASan's leak
    check at its clean exit finds nothing held."""
    server = make_server(FAST + ["--engine-paused"])
    task_id = server.submit({"model": "sora-2", "prompt": "drop"}).json()["id"]
    head = (f"GET /v1/tasks/{task_id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n\r\n"
            ).encode()
    all_head = f"GET /v1/tasks/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n\r\n".encode()
    for round_ in range(3):
        sockets = []
        for i in range(100):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(head if i % 2 else all_head)
            sockets.append(s)
        for s in sockets:
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        for i, s in enumerate(sockets):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
    time.sleep(2)  # the fallback pass notices closed connections
    assert server.request("GET", "/healthz").status_code == 200
    server.stop()  # exit status 0: no leak report


def test_a_stream_on_another_node_sees_the_changes(cluster):
    a = cluster.add_node(FAST)
    b = cluster.add_node(FAST)
    task_id = a.submit({"model": "sora-2", "prompt": "two nodes"}).json()["id"]
    events, _, ended = read_events(sse(b, f"/v1/tasks/{task_id}/events"))
    assert ended and events[-1][2]["status"] == "completed"
    statuses = [data["status"] for _, _, data in events]
    assert "processing" in statuses or len(events) >= 2, statuses
    # and the key stream on b shows a task a admits
    response = sse(b, "/v1/tasks/events")
    other = a.submit({"model": "sora-2", "prompt": "seen from b"}).json()["id"]
    seen, _, _ = read_events(response, until=lambda e, c: any(d["id"] == other and d["status"] == "completed"
                                                              for _, _, d in e), limit=60)
    assert any(d["id"] == other for _, _, d in seen)
