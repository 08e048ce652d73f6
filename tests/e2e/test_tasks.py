"""Listing, ownership, cancel and the alias path."""
import time

from conftest import check_task_invariants, wait_task
from test_errors import assert_error


def submit_ok(server, key="default", prompt="x"):
    r = server.submit({"model": "sora-2", "prompt": prompt}, key=key)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_listing_pages_newest_first_and_filters(make_server, media):
    server = make_server(["--engine-paused"])
    ids = [submit_ok(server, prompt=f"p{i}") for i in range(5)]
    lipsync = server.submit({"model": "lipsync-2", "video_url": media["video2s.mp4"],
                             "audio_url": media["audio1s.wav"]}).json()["id"]
    everything = server.request("GET", "/v1/tasks?limit=100").json()
    assert everything["object"] == "list" and everything["has_more"] is False
    listed = [t["id"] for t in everything["data"]]
    assert listed == [lipsync] + ids[::-1]
    for task in everything["data"]:
        check_task_invariants(task)
    page1 = server.request("GET", "/v1/tasks?limit=2").json()
    assert [t["id"] for t in page1["data"]] == listed[:2] and page1["has_more"] is True
    page2 = server.request("GET", f"/v1/tasks?limit=2&after={listed[1]}").json()
    assert [t["id"] for t in page2["data"]] == listed[2:4] and page2["has_more"] is True
    page3 = server.request("GET", f"/v1/tasks?limit=2&after={listed[3]}").json()
    assert [t["id"] for t in page3["data"]] == listed[4:6] and page3["has_more"] is False
    only_sora = server.request("GET", "/v1/tasks?model=sora-2&limit=100").json()
    assert [t["id"] for t in only_sora["data"]] == ids[::-1]
    pending = server.request("GET", "/v1/tasks?status=pending").json()
    assert len(pending["data"]) == 6
    assert server.request("GET", "/v1/tasks?status=completed").json()["data"] == []
    for bad in ["limit=0", "limit=101", "limit=abc", "status=sleeping", "model=nope", "after=garbage",
                "after=task-unified-1700000000-aaaaaaaa"]:
        assert_error(server.request("GET", f"/v1/tasks?{bad}"), 422, "invalid_request_error")


def test_a_key_sees_only_its_own_tasks(make_server):
    server = make_server(["--engine-paused"])
    mine = submit_ok(server)
    other = server.create_key()
    assert set(other) >= {"id", "key", "webhook_secret"} and other["key"].startswith("sk-")
    theirs = submit_ok(server, key=other["key"])
    assert_error(server.request("GET", f"/v1/tasks/{theirs}"), 404, "not_found")
    assert_error(server.request("GET", f"/v1/tasks/{mine}", key=other["key"]), 404, "not_found")
    assert_error(server.request("POST", f"/v1/tasks/{mine}/cancel", key=other["key"]), 404, "not_found")
    assert [t["id"] for t in server.request("GET", "/v1/tasks", key=other["key"]).json()["data"]] == [theirs]
    assert_error(server.request("GET", f"/v1/tasks?after={theirs}"), 422)


def test_cancel_pending_then_finished(make_server):
    server = make_server(["--engine-paused"])
    task_id = submit_ok(server)
    before = server.request("GET", f"/v1/tasks/{task_id}").json()
    assert before["status"] == "pending" and before["task_info"]["can_cancel"] is True
    r = server.request("POST", f"/v1/tasks/{task_id}/cancel")
    assert r.status_code == 200, r.text
    task = r.json()
    check_task_invariants(task)
    assert task["status"] == "cancelled" and task["error"]["code"] == "cancelled"
    assert task["task_info"]["can_cancel"] is False
    assert_error(server.request("POST", f"/v1/tasks/{task_id}/cancel"), 409)
    # a cancelled task is not picked up when the engine resumes
    server.restart([])
    time.sleep(1)
    assert server.request("GET", f"/v1/tasks/{task_id}").json()["status"] == "cancelled"


def test_cancel_while_processing_discards_the_render(make_server):
    server = make_server()
    r = server.submit({"model": "sora-2-pro", "prompt": "long", "duration": 20, "resolution": "1080p"})
    task_id = r.json()["id"]
    wait_task(server, task_id, until={"processing"}, timeout=30)
    r = server.request("POST", f"/v1/tasks/{task_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    time.sleep(1.5)
    task = server.request("GET", f"/v1/tasks/{task_id}").json()
    assert task["status"] == "cancelled" and task["results"] is None


def test_completed_task_cannot_be_cancelled(server):
    task_id = submit_ok(server)
    task = wait_task(server, task_id)
    assert task["status"] == "completed"
    assert_error(server.request("POST", f"/v1/tasks/{task_id}/cancel"), 409)


def test_alias_path_and_sync_upstream(server):
    task_id = submit_ok(server)
    a = server.request("GET", f"/v1/videos/generations/{task_id}")
    b = server.request("GET", f"/v1/tasks/{task_id}?sync_upstream=true")
    assert a.status_code == 200 and b.status_code == 200
    assert a.json()["id"] == b.json()["id"] == task_id
    assert_error(server.request("GET", f"/v1/tasks/{task_id}?sync_upstream=maybe"), 422)


def test_models_lists_the_catalog(server):
    r = server.request("GET", "/v1/models")
    assert r.status_code == 200
    models = {m["id"]: m for m in r.json()["data"]}
    assert set(models) == {"lipsync-2", "lipsync-2-pro", "sync-3", "creatify-aurora", "kling-v3-motion-control",
                           "kling-v2-6-motion-control", "sora-2", "sora-2-pro"}
    sora = {f["name"]: f for f in models["sora-2"]["fields"]}
    assert sora["duration"]["enum"] == [4, 8, 12, 16, 20]
    assert sora["prompt"]["max_length"] == 5000 and sora["prompt"]["required"] is True
    assert sora["character_ids"]["advanced"] is True and sora["character_ids"]["max_items"] == 2
    assert "temperature" not in {f["name"] for f in models["sync-3"]["fields"]}
    assert_error(server.request("GET", "/v1/models", key=None), 401)
