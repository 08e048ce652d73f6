"""OpenAI's Videos API at /v1/videos over the unified tasks: the video object, listing with after, limit
and order, deleting a finished video with its stored files, and OpenAI's error shape."""
import os

import requests

from conftest import wait_task
from test_errors import assert_error
from test_storage_s3 import object_key, read_back, s3_endpoint, s3_server  # noqa: F401 (fixtures)

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


def create_video(server, body, key="default", headers=None):
    return server.request("POST", "/v1/videos", key=key, json=body, headers=headers or {})


def test_post_videos_is_the_same_task_as_a_unified_submit(make_server):
    server = make_server(["--engine-paused"])
    r = create_video(server, {"model": "sora-2-pro", "prompt": "a boat", "seconds": "8", "size": "1792x1024"})
    assert r.status_code == 200, r.text
    video = r.json()
    assert set(video) == VIDEO_KEYS
    assert video["object"] == "video" and video["status"] == "queued" and video["model"] == "sora-2-pro"
    assert video["seconds"] == "8" and video["size"] == "1792x1024" and video["prompt"] == "a boat"
    assert video["completed_at"] is None and video["error"] is None
    task = server.request("GET", f"/v1/tasks/{video['id']}").json()
    assert task["status"] == "pending" and task["model"] == "sora-2-pro"
    # the same price as the unified body of the same parameters
    unified = submit_ok(server, {"model": "sora-2-pro", "prompt": "a boat", "duration": 8,
                                 "aspect_ratio": "16:9", "resolution": "1080p"})
    same = server.request("GET", f"/v1/tasks/{unified}").json()
    assert task["usage"]["credits_reserved"] == same["usage"]["credits_reserved"] > 0
    assert server.request("GET", f"/v1/videos/{unified}").json()["size"] == "1792x1024"
    listed = server.request("GET", "/v1/videos").json()["data"]
    assert [v["id"] for v in listed] == [unified, video["id"]]


def test_post_videos_defaults_and_other_models_fields(make_server, media):
    server = make_server([])
    r = create_video(server, {"prompt": "no model given"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "sora-2" and r.json()["seconds"] == "4" and r.json()["size"] == "1280x720"
    lipsync = create_video(server, {"model": "lipsync-2", "video_url": media["video2s.mp4"],
                                    "audio_url": media["audio1s.wav"], "sync_mode": "cut_off"})
    assert lipsync.status_code == 200, lipsync.text
    assert lipsync.json()["seconds"] is None and lipsync.json()["prompt"] is None
    done = wait_task(server, lipsync.json()["id"])
    assert done["status"] == "completed", done
    video = server.request("GET", f"/v1/videos/{done['id']}").json()
    assert video["status"] == "completed" and video["seconds"] is not None
    assert video["size"] == f"{done['results'][0]['width']}x{done['results'][0]['height']}"


def test_post_videos_replays_an_idempotency_key_as_a_video(make_server):
    server = make_server(["--engine-paused"])
    body = {"model": "sora-2", "prompt": "once", "seconds": "4"}
    first = create_video(server, body, headers={"Idempotency-Key": "k1"})
    again = create_video(server, body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["object"] == "video"
    assert_error(create_video(server, dict(body, seconds="8"), headers={"Idempotency-Key": "k1"}), 422,
                 code="idempotency_key_reused")


def test_post_videos_refusals_name_openais_fields(make_server):
    server = make_server(["--engine-paused"])
    for body, status, code, param in (
            ({"model": "sora-2", "prompt": "x", "seconds": "four"}, 422, "invalid_value", "seconds"),
            ({"model": "sora-2", "prompt": "x", "size": "wide"}, 422, "invalid_value", "size"),
            ({"model": "sora-2", "prompt": "x", "seconds": "4", "duration": 4}, 422, "duplicate_field",
             "seconds"),
            ({"model": "lipsync-2", "seconds": "4"}, 422, "unsupported_field", "seconds"),
            ({"model": "no-such-model", "prompt": "x"}, 422, "model_not_found", "model"),
            ({"model": "sora-2"}, 422, "missing_required_field", "prompt")):
        assert_error(create_video(server, body), status, "invalid_request_error", code, param)
    # the catalog's refusals name the field as the client sent it
    for body, code, param in (({"prompt": "x", "seconds": "7"}, "invalid_value", "seconds"),
                              ({"prompt": "x", "size": "1280x1280"}, "invalid_value", "size"),
                              ({"prompt": "x", "duration": 7}, "invalid_value", "duration"),
                              ({"prompt": "x", "input_reference": {"image_url": "ftp://e.com/a.png"}},
                               "invalid_url", "input_reference")):
        assert_error(create_video(server, body), 422, "invalid_request_error", code, param)
    assert_error(create_video(server, {"prompt": "x"}, key="sk-wrong"), 401, "authentication_error")
    bad_json = server.request("POST", "/v1/videos", data="{", headers={"Content-Type": "application/json"})
    assert_error(bad_json, 400, "invalid_request_error", "invalid_json")
    assert server.request("GET", "/v1/videos").json()["data"] == []


def delete_video(server, video_id, key="default"):
    return server.request("DELETE", f"/v1/videos/{video_id}", key=key)


def completed_with_links(server, prompt):
    """A completed sandbox video: (its id, the signed links of its video, thumbnail and spritesheet)."""
    task = wait_task(server, submit_ok(server, {"model": "sora-2", "prompt": prompt, "duration": 4}))
    assert task["status"] == "completed", task
    result = task["results"][0]
    links = [result["url"], result["thumbnail_url"], result["spritesheet_url"]]
    for link in links:
        assert requests.get(link, timeout=30).status_code == 200, link
    return task["id"], links


def assert_deleted(server, video_id, links):
    """The video is gone from both APIs and its links serve nothing."""
    assert_error(server.request("GET", f"/v1/videos/{video_id}"), 404, "not_found", "not_found", "video_id")
    assert_error(server.request("GET", f"/v1/tasks/{video_id}"), 404)
    assert video_id not in [v["id"] for v in server.request("GET", "/v1/videos").json()["data"]]
    for link in links:
        gone = requests.get(link, timeout=30)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found", (link, gone.text)


def test_deleting_a_completed_video_removes_it_and_its_files(make_server):
    server = make_server([])
    video_id, links = completed_with_links(server, "to delete")
    folder = os.path.join(server.data, "blobs", "results", video_id)
    assert {"output.mp4", "poster.jpg", "spritesheet.jpg"} <= set(os.listdir(folder))
    kept_id, kept_links = completed_with_links(server, "to keep")
    r = delete_video(server, video_id)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert_deleted(server, video_id, links)
    assert not os.path.isdir(folder) or os.listdir(folder) == []
    assert_error(delete_video(server, video_id), 404, "not_found", "not_found", "video_id")  # twice
    # another video, its task and its files are untouched
    assert server.request("GET", f"/v1/videos/{kept_id}").json()["status"] == "completed"
    assert all(requests.get(link, timeout=30).status_code == 200 for link in kept_links)
    audit = server.cli("credits", "audit")
    assert audit.returncode == 0 and audit.stdout.startswith("ledger consistent"), audit.stdout + audit.stderr


def test_an_unfinished_video_is_not_deleted(make_server):
    server = make_server([])
    video_id = submit_ok(server, {"model": "sora-2-pro", "prompt": "long", "duration": 20, "resolution": "1080p"})
    wait_task(server, video_id, until={"processing"}, timeout=30)
    error = assert_error(delete_video(server, video_id), 409, "conflict_error", "task_not_finished", "video_id")
    assert f"POST /v1/tasks/{video_id}/cancel" in error["message"]
    assert server.request("GET", f"/v1/videos/{video_id}").json()["status"] == "in_progress"
    assert server.request("POST", f"/v1/tasks/{video_id}/cancel").status_code == 200
    r = delete_video(server, video_id)  # cancelled: finished, so it may go
    assert r.status_code == 200 and r.json()["deleted"] is True, r.text
    assert_error(server.request("GET", f"/v1/tasks/{video_id}"), 404)


def test_deleting_refuses_what_is_not_the_callers(make_server):
    server = make_server(["--engine-paused"])
    video_id = submit_ok(server, {"model": "sora-2", "prompt": "queued"})
    assert_error(delete_video(server, video_id), 409, "conflict_error", "task_not_finished", "video_id")
    assert server.request("GET", f"/v1/videos/{video_id}").json()["status"] == "queued"
    assert server.request("POST", f"/v1/tasks/{video_id}/cancel").status_code == 200
    other = server.create_key()["key"]
    assert_error(delete_video(server, video_id, key=other), 404, "not_found", "not_found", "video_id")
    assert_error(delete_video(server, video_id, key=None), 401, "authentication_error")
    assert_error(delete_video(server, video_id, key="sk-wrong"), 401, "authentication_error")
    assert server.request("GET", f"/v1/tasks/{video_id}").json()["status"] == "cancelled"  # all left it alone
    for bad in ("not-a-video-id", "task-unified-1700000000-aaaaaaaa", "x" * 300):
        assert_error(delete_video(server, bad), 404, "not_found", "not_found", "video_id")
    assert delete_video(server, video_id).status_code == 200
    assert_error(delete_video(server, video_id), 404, "not_found", "not_found", "video_id")


def test_deleting_a_video_on_s3_empties_its_folder_in_the_bucket(s3_server, s3_endpoint):  # noqa: F811
    server = s3_server()
    video_id, links = completed_with_links(server, "on a bucket")
    keys = [object_key(server.prefix, link) for link in links]
    assert all(read_back(s3_endpoint, key) is not None for key in keys)
    r = delete_video(server, video_id)
    assert r.status_code == 200 and r.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert [read_back(s3_endpoint, key) for key in keys] == [None, None, None]
    assert_deleted(server, video_id, links)
