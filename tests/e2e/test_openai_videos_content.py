"""OpenAI's Videos API beyond the video object: GET /v1/videos/{id}/content (each variant, Range, HEAD,
the owner only), multipart POST /v1/videos with input_reference, and remix."""
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
