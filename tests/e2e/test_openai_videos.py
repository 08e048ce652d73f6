"""OpenAI's Videos API at /v1/videos over the unified tasks: the video object, listing with after, limit
and order, and OpenAI's error shape."""
from conftest import wait_task
from test_errors import assert_error

VIDEO_KEYS = {"id", "object", "model", "status", "progress", "created_at", "completed_at", "expires_at",
              "prompt", "seconds", "size", "remixed_from_video_id", "error"}


def submit_ok(server, body, key="default"):
    r = server.submit(body, key=key)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_a_unified_task_is_a_video(make_server):
    server = make_server([])
    task_id = submit_ok(server, {"model": "sora-2", "prompt": "a red ball", "duration": 4,
                                 "aspect_ratio": "9:16"})
    queued = server.request("GET", f"/v1/videos/{task_id}")
    assert queued.status_code == 200, queued.text
    video = queued.json()
    assert set(video) == VIDEO_KEYS
    assert video["id"] == task_id and video["object"] == "video" and video["model"] == "sora-2"
    assert video["status"] in ("queued", "in_progress", "completed")
    assert video["seconds"] == "4" and video["size"] == "720x1280" and video["prompt"] == "a red ball"
    task = wait_task(server, task_id)
    assert task["status"] == "completed", task
    done = server.request("GET", f"/v1/videos/{task_id}").json()
    assert done["status"] == "completed" and done["progress"] == 100 and done["error"] is None
    assert done["created_at"] == task["created"]
    assert isinstance(done["completed_at"], int) and done["completed_at"] >= done["created_at"]
    assert isinstance(done["expires_at"], int) and done["expires_at"] > done["completed_at"]


def test_a_cancelled_task_is_a_failed_video(make_server):
    server = make_server(["--engine-paused"])
    task_id = submit_ok(server, {"model": "sora-2", "prompt": "x"})
    assert server.request("GET", f"/v1/videos/{task_id}").json()["status"] == "queued"
    assert server.request("POST", f"/v1/tasks/{task_id}/cancel").status_code == 200
    video = server.request("GET", f"/v1/videos/{task_id}").json()
    assert video["status"] == "failed" and video["error"]["code"] == "cancelled"
    assert isinstance(video["error"]["message"], str) and video["completed_at"] is not None
    assert video["expires_at"] is None


def test_videos_list_pages_both_ways(make_server):
    server = make_server(["--engine-paused"])
    ids = [submit_ok(server, {"model": "sora-2", "prompt": f"p{i}"}) for i in range(5)]
    newest = server.request("GET", "/v1/videos?limit=100").json()
    assert set(newest) == {"object", "data", "first_id", "last_id", "has_more"}
    assert newest["object"] == "list" and newest["has_more"] is False
    assert [v["id"] for v in newest["data"]] == ids[::-1]
    assert newest["first_id"] == ids[-1] and newest["last_id"] == ids[0]
    assert all(set(v) == VIDEO_KEYS and v["object"] == "video" for v in newest["data"])
    # the SDK's auto-pagination: after=<last_id> while has_more
    for order, expected in (("desc", ids[::-1]), ("asc", ids)):
        seen, after = [], None
        while True:
            query = f"/v1/videos?limit=2&order={order}" + (f"&after={after}" if after else "")
            page = server.request("GET", query).json()
            seen += [v["id"] for v in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert seen == expected, order
    empty = server.request("GET", "/v1/videos", key=server.create_key()["key"]).json()
    assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_videos_answer_openais_error_shape(make_server):
    server = make_server(["--engine-paused"])
    task_id = submit_ok(server, {"model": "sora-2", "prompt": "x"})
    other = server.create_key()["key"]
    assert_error(server.request("GET", f"/v1/videos/{task_id}", key=other), 404, "not_found", param="video_id")
    assert_error(server.request("GET", "/v1/videos/not-a-video-id"), 404, "not_found")
    assert_error(server.request("GET", f"/v1/videos/{task_id}", key="sk-wrong"), 401, "authentication_error")
    assert_error(server.request("GET", "/v1/videos", key="sk-wrong"), 401, "authentication_error")
    for bad, param in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                       ("order=up", "order"), ("after=garbage", "after"),
                       ("after=task-unified-1700000000-aaaaaaaa", "after")):
        assert_error(server.request("GET", f"/v1/videos?{bad}"), 422, "invalid_request_error", param=param)
    assert_error(server.request("GET", f"/v1/videos?after={task_id}", key=other), 422, param="after")
