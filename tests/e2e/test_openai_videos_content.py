"""OpenAI's Videos API beyond the video object: GET /v1/videos/{id}/content (each variant, Range, HEAD,
the owner only), multipart POST /v1/videos with input_reference, and remix."""
import json
import os
import sqlite3
import subprocess
import tempfile

from conftest import wait_task
from test_errors import assert_error


def completed_video(server, body=None):
    r = server.request("POST", "/v1/videos", json=body or {"model": "sora-2", "prompt": "content", "seconds": "4"})
    assert r.status_code == 200, r.text
    task = wait_task(server, r.json()["id"])
    assert task["status"] == "completed", task
    return task


def probe(data, suffix):
    """ffprobe's reading of bytes: (codec_name, width, height) of the first stream."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                              "-of", "csv=p=0", f.name], capture_output=True, text=True, check=True).stdout
    codec, width, height = out.splitlines()[0].split(",")[:3]
    return codec, int(width), int(height)


def test_content_serves_each_variant_as_the_task_links_do(make_server):
    server = make_server([])
    task = completed_video(server)
    result = task["results"][0]
    path = f"/v1/videos/{task['id']}/content"
    video = server.request("GET", path)
    assert video.status_code == 200, video.text
    assert video.headers["content-type"] == "video/mp4"
    assert video.content == server.request("GET", result["url"].replace(server.url, ""), key=None).content
    assert probe(video.content, ".mp4")[0] == "h264"
    assert server.request("GET", path + "?variant=video").content == video.content
    for variant, link in (("thumbnail", "thumbnail_url"), ("spritesheet", "spritesheet_url")):
        r = server.request("GET", f"{path}?variant={variant}", headers={"Accept": "application/binary"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.content == server.request("GET", result[link].replace(server.url, ""), key=None).content
        codec, width, height = probe(r.content, ".jpg")
        assert codec == "mjpeg" and width > 0 and height > 0


def test_content_answers_ranges_and_validators(make_server):
    server = make_server([])
    task = completed_video(server)
    path = f"/v1/videos/{task['id']}/content"
    whole = server.request("GET", path)
    size = len(whole.content)
    assert whole.headers["accept-ranges"] == "bytes" and int(whole.headers["content-length"]) == size
    part = server.request("GET", path, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == whole.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{size}"
    tail = server.request("GET", path, headers={"Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == whole.content[-7:]
    outside = server.request("GET", path, headers={"Range": f"bytes={size + 5}-"})
    assert outside.status_code == 416 and outside.headers["content-range"] == f"bytes */{size}"
    unchanged = server.request("GET", path, headers={"If-None-Match": whole.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_content_is_the_owners_only_and_only_once_completed(make_server):
    server = make_server(["--engine-paused"])
    queued = server.request("POST", "/v1/videos", json={"prompt": "later"}).json()
    assert_error(server.request("GET", f"/v1/videos/{queued['id']}/content"), 409, "conflict_error",
                 "video_not_ready")
    other = server.create_key()["key"]
    assert_error(server.request("GET", f"/v1/videos/{queued['id']}/content", key=other), 404,
                 "not_found", "not_found", "video_id")
    assert_error(server.request("GET", f"/v1/videos/{queued['id']}/content", key=None), 401,
                 "authentication_error")
    assert_error(server.request("GET", f"/v1/videos/{queued['id']}/content?variant=poster"), 422,
                 "invalid_request_error", "invalid_value", "variant")
    assert_error(server.request("GET", "/v1/videos/task_nope/content"), 404, "not_found", "not_found")
    assert server.request("POST", f"/v1/tasks/{queued['id']}/cancel").status_code == 200
    assert_error(server.request("GET", f"/v1/videos/{queued['id']}/content"), 409, "conflict_error",
                 "video_not_ready")


def stored_params(server, task_id):
    """The validated parameters the task was stored with (the task view does not show them)."""
    with sqlite3.connect(os.path.join(server.data, "reelay.db")) as db:
        row = db.execute("SELECT params_json FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return json.loads(row[0])


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_a_form_creates_the_same_task_with_typed_fields(make_server):
    server = make_server(["--engine-paused"])
    r = server.request("POST", "/v1/videos", files={"model": (None, "sora-2-pro"), "prompt": (None, "a form"),
                                                    "seconds": (None, "8"), "size": (None, "1024x1792"),
                                                    "delete_video": (None, "false")})
    assert r.status_code == 200, r.text
    video = r.json()
    assert video["object"] == "video" and video["model"] == "sora-2-pro"
    assert video["seconds"] == "8" and video["size"] == "1024x1792" and video["prompt"] == "a form"
    params = stored_params(server, video["id"])
    assert params["delete_video"] is False and params["duration"] == 8
    assert params["resolution"] == "1080p" and params["aspect_ratio"] == "9:16"
    for fields, code, param in (({"prompt": (None, "x"), "seconds": (None, "ten")}, "invalid_value", "seconds"),
                                ({"prompt": (None, "x"), "delete_video": (None, "maybe")}, "invalid_type",
                                 "delete_video"),
                                ({"seconds": (None, "4")}, "missing_required_field", "prompt")):
        assert_error(server.request("POST", "/v1/videos", files=fields), 422, "invalid_request_error", code, param)
    twice = [("prompt", (None, "a")), ("prompt", (None, "b"))]
    assert_error(server.request("POST", "/v1/videos", files=twice), 400, "invalid_request_error",
                 "duplicate_field", "prompt")
    broken = server.request("POST", "/v1/videos", data=b"--x\r\nnot a part",
                            headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert_error(broken, 400, "invalid_request_error", "invalid_multipart")
    assert len(server.request("GET", "/v1/videos").json()["data"]) == 1


def test_a_form_with_input_reference_stores_it_and_uses_it_as_the_first_frame(make_server, media):
    server = make_server([])
    image = read(f"{media['dir']}/landscape.png")
    fields = {"model": (None, "sora-2"), "prompt": (None, "from a frame"), "size": (None, "1280x720")}
    r = server.request("POST", "/v1/videos", files=dict(fields, input_reference=("frame.png", image, "image/png")),
                       headers={"Idempotency-Key": "form-1"})
    assert r.status_code == 200, r.text
    task = wait_task(server, r.json()["id"])
    assert task["status"] == "completed", task
    link = stored_params(server, task["id"])["image_urls"][0]
    assert "/v1/files/uploads/" in link and link.split("?")[0].endswith("/frame.png")
    assert server.request("GET", link.replace(server.url, ""), key=None).content == image
    # a retried form answers its task and stores nothing new; another file under the key is refused
    again = server.request("POST", "/v1/videos", files=dict(fields, input_reference=("frame.png", image,
                                                                                      "image/png")),
                           headers={"Idempotency-Key": "form-1"})
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = read(f"{media['dir']}/portrait.png")
    assert_error(server.request("POST", "/v1/videos", files=dict(fields, input_reference=("f.png", other,
                                                                                          "image/png")),
                                headers={"Idempotency-Key": "form-1"}), 422, code="idempotency_key_reused")
    uploads = os.path.join(server.data, "blobs", "uploads")
    assert len(os.listdir(uploads)) == 1
    # the JSON form of a reference, and the refusals
    by_url = server.request("POST", "/v1/videos", json={"prompt": "by url", "input_reference": {
        "image_url": media["landscape.png"]}})
    assert by_url.status_code == 200, by_url.text
    assert stored_params(server, by_url.json()["id"])["image_urls"] == [media["landscape.png"]]
    for body, code in (({"prompt": "x", "input_reference": {"file_id": "file_1"}}, "unsupported_field"),
                       ({"prompt": "x", "input_reference": "https://example.com/a.png"}, "invalid_type"),
                       ({"prompt": "x", "image_urls": [media["landscape.png"]],
                         "input_reference": {"image_url": media["landscape.png"]}}, "duplicate_field")):
        assert_error(server.request("POST", "/v1/videos", json=body), 422, "invalid_request_error", code,
                     "input_reference")
    lipsync = server.request("POST", "/v1/videos", files={"model": (None, "lipsync-2"),
                                                          "input_reference": ("a.png", image, "image/png")})
    assert_error(lipsync, 422, "invalid_request_error", "unsupported_field", "input_reference")
    empty = server.request("POST", "/v1/videos", files=dict(fields, input_reference=("e.png", b"", "image/png")))
    assert_error(empty, 400, "invalid_request_error", "empty_file", "input_reference")


def test_a_form_needs_a_key_before_its_body_and_json_keeps_its_limit(make_server):
    server = make_server([])
    big = b"x" * (2 << 20)
    assert_error(server.request("POST", "/v1/videos", key=None, files={"input_reference": ("a.png", big)}), 401,
                 "authentication_error")
    assert_error(server.request("POST", "/v1/videos", data=b'{"prompt":"' + big + b'"}',
                                headers={"Content-Type": "application/json"}), 413, code="request_too_large")


def test_remix_renders_a_completed_video_again_with_a_new_prompt(make_server, media):
    server = make_server([])
    source = completed_video(server, {"model": "sora-2-pro", "prompt": "a boat", "seconds": "8",
                                      "size": "720x1280"})
    r = server.request("POST", f"/v1/videos/{source['id']}/remix", json={"prompt": "a boat at night"},
                       headers={"Idempotency-Key": "remix-1"})
    assert r.status_code == 200, r.text
    remix = r.json()
    assert remix["id"] != source["id"] and remix["remixed_from_video_id"] == source["id"]
    assert remix["model"] == "sora-2-pro" and remix["prompt"] == "a boat at night"
    assert remix["seconds"] == "8" and remix["size"] == "720x1280"
    again = server.request("POST", f"/v1/videos/{source['id']}/remix", json={"prompt": "a boat at night"},
                           headers={"Idempotency-Key": "remix-1"})
    assert again.json()["id"] == remix["id"]
    done = wait_task(server, remix["id"])
    assert done["status"] == "completed", done
    assert done["usage"]["credits_reserved"] == source["usage"]["credits_reserved"]
    listed = server.request("GET", f"/v1/videos/{remix['id']}").json()
    assert listed["remixed_from_video_id"] == source["id"] and listed["status"] == "completed"
    assert server.request("GET", f"/v1/videos/{source['id']}").json()["remixed_from_video_id"] is None
    # the body's fields, in OpenAI's names, change the rest too
    shorter = server.request("POST", f"/v1/videos/{source['id']}/remix", json={"prompt": "p", "seconds": "4"})
    assert shorter.status_code == 200 and shorter.json()["seconds"] == "4" and shorter.json()["size"] == "720x1280"
    # what cannot be remixed
    lipsync = server.request("POST", "/v1/videos", json={"model": "lipsync-2", "video_url": media["video2s.mp4"],
                                                         "audio_url": media["audio1s.wav"]}).json()
    assert wait_task(server, lipsync["id"])["status"] == "completed"
    assert_error(server.request("POST", f"/v1/videos/{lipsync['id']}/remix", json={"prompt": "x"}), 422,
                 "invalid_request_error", "remix_unsupported")
    assert_error(server.request("POST", f"/v1/videos/{source['id']}/remix", json={}), 422,
                 "invalid_request_error", "missing_required_field", "prompt")
    assert_error(server.request("POST", f"/v1/videos/{source['id']}/remix", json={"prompt": "x",
                                                                                  "seconds": "7"}), 422,
                 "invalid_request_error", "invalid_value", "seconds")
    other = server.create_key()["key"]
    assert_error(server.request("POST", f"/v1/videos/{source['id']}/remix", key=other, json={"prompt": "x"}), 404,
                 "not_found", "not_found", "video_id")


def test_remix_waits_for_a_completed_source(make_server):
    server = make_server(["--engine-paused"])
    queued = server.request("POST", "/v1/videos", json={"prompt": "not yet"}).json()
    assert_error(server.request("POST", f"/v1/videos/{queued['id']}/remix", json={"prompt": "x"}), 409,
                 "conflict_error", "video_not_ready")
    assert_error(server.request("POST", "/v1/videos/task_x/remix", json={"prompt": "x"}), 404, "not_found")
    assert_error(server.request("POST", f"/v1/videos/{queued['id']}/remix", key=None, json={"prompt": "x"}), 401,
                 "authentication_error")
    # what OpenAI's newer SDKs offer and reelay does not: a clear error in OpenAI's shape
    for path in ("/v1/videos/edits", "/v1/videos/extensions", "/v1/videos/characters"):
        assert_error(server.request("POST", path, json={"prompt": "x"}), 404, "not_found", "unknown_path")
