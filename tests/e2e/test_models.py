"""Each of the eight models end to end through the sandbox: submit, poll to completed, download the
result through its signed link, and check the MP4 with ffprobe against the documented semantics."""
import os

import pytest
import requests

from conftest import ffprobe, max_volume, wait_task


def run(server, body, tmp_path):
    response = server.submit(body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"created", "id", "model", "object", "progress", "status", "task_info", "type"}
    assert created["status"] == "pending" and created["progress"] == 0 and created["model"] == body["model"]
    assert created["id"].startswith(f"task-unified-{created['created']}-")
    task = wait_task(server, created["id"])
    assert task["status"] == "completed", task
    result = task["results"][0]
    assert result["content_type"] == "video/mp4"
    download = requests.get(result["url"], timeout=30)
    assert download.status_code == 200 and download.headers["Content-Type"] == "video/mp4"
    path = os.path.join(tmp_path, task["id"] + ".mp4")
    with open(path, "wb") as f:
        f.write(download.content)
    info = ffprobe(path)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert abs(info["duration"] - result["duration"]) < 0.2
    assert (info["width"], info["height"]) == (result["width"], result["height"])
    return info, path


# audio 3 s, video 2 s: loop/bounce/remap → 3, cut_off → 2, silence → 2; audio 1 s: cut_off → 1, silence → 2
@pytest.mark.parametrize("model,mode,audio,expected", [
    ("lipsync-2", "loop", "audio3s.wav", 3.0),
    ("lipsync-2-pro", "bounce", "audio3s.wav", 3.0),
    ("sync-3", "remap", "audio3s.wav", 3.0),
    ("lipsync-2", "cut_off", "audio3s.wav", 2.0),
    ("sync-3", "cut_off", "audio1s.wav", 1.0),
    ("lipsync-2-pro", "silence", "audio3s.wav", 2.0),
    ("lipsync-2", "silence", "audio1s.wav", 2.0),
])
def test_lipsync_length_follows_sync_mode(server, media, tmp_path, model, mode, audio, expected):
    info, _ = run(server, {"model": model, "video_url": media["video2s.mp4"], "audio_url": media[audio],
                           "sync_mode": mode}, tmp_path)
    assert abs(info["duration"] - expected) < 0.15, info
    assert (info["width"], info["height"]) == (320, 240)


def test_lipsync_accepts_the_old_field_names(server, media, tmp_path):
    info, _ = run(server, {"model": "lipsync-2", "video": media["video2s.mp4"], "audio": media["audio1s.wav"]},
                  tmp_path)
    assert abs(info["duration"] - 1.0) < 0.15  # default sync_mode loop → audio length


@pytest.mark.parametrize("resolution,size", [("480p", (480, 640)), ("720p", (720, 960))])
def test_talking_head_keeps_the_portrait_at_the_resolution(server, media, tmp_path, resolution, size):
    info, _ = run(server, {"model": "creatify-aurora", "image_url": media["portrait.png"],
                           "audio_url": media["audio3s.wav"], "resolution": resolution,
                           "prompt": "studio light"}, tmp_path)
    assert (info["width"], info["height"]) == size
    assert abs(info["duration"] - 3.0) < 0.15


@pytest.mark.parametrize("model,keep", [("kling-v3-motion-control", "yes"), ("kling-v2-6-motion-control", "no")])
def test_motion_control_follows_the_reference_video(server, media, tmp_path, model, keep):
    info, path = run(server, {"model": model, "image_url": media["portrait.png"], "video_url": media["video2s.mp4"],
                              "keep_original_sound": keep, "mode": "pro"}, tmp_path)
    assert abs(info["duration"] - 2.0) < 0.15
    assert (info["width"], info["height"]) == (320, 240)
    loudest = max_volume(path)
    if keep == "yes":
        assert loudest > -30, loudest
    else:
        assert loudest < -80, loudest


@pytest.mark.parametrize("model,body,size", [
    ("sora-2", {"aspect_ratio": "16:9"}, (1280, 720)),
    ("sora-2-pro", {"aspect_ratio": "9:16", "resolution": "1080p"}, (1080, 1920)),
    ("sora-2", {"aspect_ratio": "720x1280"}, (720, 1280)),
])
def test_text_to_video_card_has_the_requested_size(server, media, tmp_path, model, body, size):
    info, _ = run(server, {"model": model, "prompt": "a fox in the snow, 100% {pts} 'quoted' \\ : done",
                           "duration": 4, **body}, tmp_path)
    assert (info["width"], info["height"]) == size
    assert abs(info["duration"] - 4.0) < 0.15


def test_image_to_video_opens_with_the_image(server, media, tmp_path):
    info, path = run(server, {"model": "sora-2", "prompt": "begin with the picture",
                              "image_urls": [media["landscape.png"]]}, tmp_path)
    assert (info["width"], info["height"]) == (1280, 720)
    assert abs(info["duration"] - 4.0) < 0.15
