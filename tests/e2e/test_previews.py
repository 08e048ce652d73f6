"""Previews of stored video results: every completed task's result carries thumbnail_url (a poster JPEG)
and spritesheet_url (a 5x5 grid of 160 px wide frames), signed like the video's link, that download as
JPEGs of the documented sizes (ffprobe) — from the sandbox on local storage and on S3 (where they leave
the bucket with the video once their links expired), and from a provider (the fal emulator). A sandbox
result has them when its task completes; a provider's result gets them just after (its task completes
without waiting for them), and meanwhile GET /v1/videos/{id}/content?variant=thumbnail answers 409
video_not_ready, never 404. A provider result whose frames do not decode still completes, without preview
fields, and the log says why. The S3 tests need `make clients` (tests/s3's npm packages)."""
import json
import math
import os
import subprocess
import time

import pytest
import requests

from conftest import PREVIEW_KEYS, wait_previews, wait_task
from test_storage_s3 import object_key, read_back, s3_endpoint, s3_server  # noqa: F401 (fixtures)
from test_upstream_fal import fal, fal_server  # noqa: F401 (fixture)


def even(side):
    """A side rounded to the nearest even number (halves away from zero), at least 2."""
    return max(2, int(math.floor(side / 2 + 0.5)) * 2)


def expected_sizes(width, height):
    """(poster, spritesheet) sizes as media.h documents them."""
    scale = min(1.0, 1280 / max(width, height))
    tile_height = min(640, even(160 * height / width))
    return (even(width * scale), even(height * scale)), (800, 5 * tile_height)


def image_info(content, path):
    with open(path, "wb") as f:
        f.write(content)
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,width,height", "-of", "json", path],
                         check=True, capture_output=True, text=True).stdout
    stream = json.loads(out)["streams"][0]
    return stream["codec_name"], stream["width"], stream["height"]


def check_previews(task, tmp_path):
    """Both previews download as JPEGs of the sizes media.h documents for the result's size."""
    assert task["status"] == "completed", task
    result = task["results"][0]
    assert PREVIEW_KEYS <= set(result), result
    poster, sheet = expected_sizes(result["width"], result["height"])
    video_expires = result["url"].split("?")[1].split("&")[0]
    for field, size in (("thumbnail_url", poster), ("spritesheet_url", sheet)):
        url = result[field]
        assert url.split("?")[0].endswith(f"/v1/files/results/{task['id']}/"
                                          + ("poster.jpg" if field == "thumbnail_url" else "spritesheet.jpg"))
        assert url.split("?")[1].split("&")[0] == video_expires  # expires with the video's link
        download = requests.get(url, timeout=30)
        assert download.status_code == 200, download.text
        assert download.headers["Content-Type"] == "image/jpeg"
        assert download.content[:3] == b"\xff\xd8\xff"
        assert image_info(download.content, str(tmp_path / f"{task['id']}-{field}.jpg")) == ("mjpeg", *size)
        signature = url.split("signature=")[1]
        tampered = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
        assert requests.get(tampered, timeout=10).status_code == 403
    return result


@pytest.mark.parametrize("aspect_ratio", ["16:9", "9:16"])
def test_sandbox_results_carry_a_poster_and_a_spritesheet(server, tmp_path, aspect_ratio):
    created = server.submit({"model": "sora-2", "prompt": "previews", "aspect_ratio": aspect_ratio})
    assert created.status_code == 200, created.text
    task = wait_task(server, created.json()["id"])
    result = check_previews(task, tmp_path)
    assert (result["width"] > result["height"]) == (aspect_ratio == "16:9")
    folder = os.path.join(server.data, "blobs", "results", task["id"])
    assert sorted(os.listdir(folder)) == ["output.mp4", "poster.jpg", "spritesheet.jpg"]


def test_previews_are_stored_in_the_bucket(s3_server, s3_endpoint, tmp_path):  # noqa: F811
    server = s3_server()
    task = wait_task(server, server.submit({"model": "sora-2", "prompt": "s3 previews"}).json()["id"])
    result = check_previews(task, tmp_path)
    for field in ("thumbnail_url", "spritesheet_url"):
        stored = read_back(s3_endpoint, object_key(server.prefix, result[field]))
        assert stored is not None and stored[0] > 0


def test_previews_leave_the_bucket_with_their_video(s3_server, s3_endpoint):  # noqa: F811
    server = s3_server(flags=["--link-ttl", "3"], env={"REELAY_MAINTENANCE_INTERVAL_MS": "200"})
    task = wait_task(server, server.submit({"model": "sora-2", "prompt": "short-lived"}).json()["id"])
    assert task["status"] == "completed", task
    keys = [object_key(server.prefix, task["results"][0][field])
            for field in ("url", "thumbnail_url", "spritesheet_url")]
    assert all(read_back(s3_endpoint, key) is not None for key in keys)
    deadline = time.time() + 30
    while any(read_back(s3_endpoint, key) is not None for key in keys):
        assert time.time() < deadline, "a preview outlived its link in the bucket"
        time.sleep(0.5)


def test_a_providers_result_gets_previews(make_server, fal, tmp_path):  # noqa: F811
    server = fal_server(make_server, {"fal-a": fal()})
    created = server.submit({"model": "sora-2", "prompt": "a lighthouse at dusk"})
    assert created.status_code == 200, created.text
    task = wait_task(server, created.json()["id"], timeout=60)
    result = check_previews(wait_previews(server, task["id"]), tmp_path)
    assert (result["width"], result["height"]) == (320, 240)  # the emulator's video2s.mp4
    thumbnail = server.request("GET", f"/v1/videos/{task['id']}/content?variant=thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.content == requests.get(result["thumbnail_url"]).content


def scramble_frames(source, target):
    """A copy of the MP4 whose `mdat` payload is noise: its boxes still describe a video, no frame decodes."""
    with open(source, "rb") as f:
        data = bytearray(f.read())
    at = 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        kind = bytes(data[at + 4:at + 8])
        assert size >= 8, "an MP4 box without a plain 32-bit size"
        if kind == b"mdat":
            for i in range(at + 8, at + size):
                data[i] = (i * 7919 + 13) >> 3 & 0xff
        at += size
    with open(target, "wb") as f:
        f.write(data)


def test_an_undecodable_result_completes_without_previews(make_server, fal, media, tmp_path):  # noqa: F811
    broken = str(tmp_path / "broken.mp4")
    scramble_frames(os.path.join(media["dir"], "video2s.mp4"), broken)
    emulator = fal()
    emulator.media_path = broken
    server = fal_server(make_server, {"fal-a": emulator})
    task = wait_task(server, server.submit({"model": "sora-2", "prompt": "noise"}).json()["id"], timeout=60)
    assert task["status"] == "completed", task
    deadline = time.time() + 60  # the previews are tried after completion: "not yet" (409) until then
    while server.request("GET", f"/v1/videos/{task['id']}/content?variant=thumbnail").status_code == 409:
        assert time.time() < deadline, "the previews were never tried"
        time.sleep(0.1)
    log = server.read_log()
    assert "previews could not be made" in log and task["id"] in log
    task = server.request("GET", f"/v1/tasks/{task['id']}").json()
    result = task["results"][0]
    assert not PREVIEW_KEYS & set(result), result
    assert requests.get(result["url"], timeout=30).content == open(broken, "rb").read()
    for variant in ("thumbnail", "spritesheet"):  # tried and absent for good: 404, no longer 409
        absent = server.request("GET", f"/v1/videos/{task['id']}/content?variant={variant}")
        assert absent.status_code == 404 and absent.json()["error"]["code"] == "not_found", absent.text
