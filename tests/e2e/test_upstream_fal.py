"""Tasks on fal.ai channels, against the fal queue emulator (tests/emulators/fal_queue.py): every model
by polling and by webhook, failover, throttling, ambiguous submits that are never sent twice, failed
jobs, expired result links, cancel, sync_upstream, crash recovery, and webhooks that must be refused."""
import os
import subprocess
import sys
import time

import pytest
import requests

from conftest import BIN, ffprobe, wait_previews, wait_task

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulators"))
from fal_queue import FalQueue  # noqa: E402

FAST = ["--poll-scale", "0.01", "--submit-timeout-ms", "1500", "--unknown-grace", "3"]


@pytest.fixture
def fal(media):
    started = []

    def make(**config):
        emulator = FalQueue(os.path.join(media["dir"], "video2s.mp4"), **config)
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


def add_channel(server, name, emulator, *extra):
    subprocess.run([BIN, "channels", "add", "--data", server.data, "--provider", "fal", "--name", name,
                    "--base-url", emulator.base_url, "--credential", "fal_test_key", "--models", "all", *extra],
                   check=True, capture_output=True, env=server.env)


def fal_server(make_server, emulators, flags=FAST, public_url=False, sandbox=False):
    """A server whose only channels are the given fal emulators (name → emulator, first = highest priority)."""
    env = {"REELAY_FAL_JWKS_URL": next(iter(emulators.values())).base_url + "/.well-known/jwks.json"}
    server = make_server(flags=flags, env=env, public_url=public_url)
    if not sandbox:
        server.cli("channels", "disable", "sandbox")
    for i, (name, emulator) in enumerate(emulators.items()):
        add_channel(server, name, emulator, "--priority", str(100 - i))
    server.restart()
    return server


def bodies(media):
    return {
        "lipsync-2": {"model": "lipsync-2", "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"],
                      "sync_mode": "cut_off"},
        "lipsync-2-pro": {"model": "lipsync-2-pro", "video_url": media["video2s.mp4"],
                          "audio_url": media["audio1s.wav"]},
        "sync-3": {"model": "sync-3", "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"]},
        "creatify-aurora": {"model": "creatify-aurora", "image_url": media["portrait.png"],
                            "audio_url": media["audio3s.wav"], "prompt": "studio light", "guidance_scale": 2,
                            "resolution": "480p"},
        "kling-v3-motion-control": {"model": "kling-v3-motion-control", "image_url": media["portrait.png"],
                                    "video_url": media["video2s.mp4"], "mode": "pro",
                                    "keep_original_sound": "no"},
        "kling-v2-6-motion-control": {"model": "kling-v2-6-motion-control", "image_url": media["portrait.png"],
                                      "video_url": media["video2s.mp4"], "character_orientation": "video"},
        "sora-2": {"model": "sora-2", "prompt": "a lighthouse at dusk", "duration": 8, "aspect_ratio": "9:16"},
        "sora-2-pro": {"model": "sora-2-pro", "prompt": "a red kite", "image_urls": [media["landscape.png"]],
                       "resolution": "1080p", "character_ids": ["char_1"]},
    }


# what the emulator must have received for each model: endpoint id and a few input fields
EXPECTED = {
    "lipsync-2": ("fal-ai/sync-lipsync/v2", {"sync_mode": "cut_off"}),
    "lipsync-2-pro": ("fal-ai/sync-lipsync/v2/pro", {"sync_mode": "loop"}),
    "sync-3": ("fal-ai/sync-lipsync/v3", {}),
    "creatify-aurora": ("fal-ai/creatify/aurora", {"prompt": "studio light", "guidance_scale": 2,
                                                    "resolution": "480p"}),
    "kling-v3-motion-control": ("fal-ai/kling-video/v3/pro/motion-control",
                                {"keep_original_sound": False, "character_orientation": "image"}),
    "kling-v2-6-motion-control": ("fal-ai/kling-video/v2.6/standard/motion-control",
                                  {"keep_original_sound": True, "character_orientation": "video"}),
    "sora-2": ("fal-ai/sora-2/text-to-video", {"duration": "8", "aspect_ratio": "9:16", "resolution": "720p"}),
    "sora-2-pro": ("fal-ai/sora-2/image-to-video/pro", {"resolution": "1080p", "character_ids": ["char_1"]}),
}


def only_job(emulator):
    jobs = emulator.stats()["jobs"]
    assert len(jobs) == 1, jobs
    return next(iter(jobs.items()))


def check_result(task, tmp_path):
    assert task["status"] == "completed", task
    result = task["results"][0]
    assert result["url"].startswith("http://127.0.0.1") and "/v1/files/results/" in result["url"]
    download = requests.get(result["url"], timeout=30)
    assert download.status_code == 200
    path = os.path.join(tmp_path, task["id"] + ".mp4")
    with open(path, "wb") as f:
        f.write(download.content)
    info = ffprobe(path)
    assert abs(info["duration"] - 2.0) < 0.2 and (info["width"], info["height"]) == (320, 240)
    assert abs(result["duration"] - info["duration"]) < 0.2


@pytest.mark.parametrize("model", list(EXPECTED))
def test_every_model_by_polling(make_server, fal, media, tmp_path, model):
    emulator = fal()
    server = fal_server(make_server, {"fal-a": emulator})
    created = server.submit(bodies(media)[model])
    assert created.status_code == 200, created.text
    task = wait_task(server, created.json()["id"], timeout=60)
    check_result(task, tmp_path)
    request_id, job = only_job(emulator)
    endpoint, fields = EXPECTED[model]
    assert job["endpoint"] == endpoint
    for key, value in fields.items():
        assert job["input"][key] == value, (key, job["input"])
    assert job["webhook"] is None  # no --public-url: polling only
    stats = emulator.stats()
    assert stats["polls"] >= 1 and stats["results"] >= 1 and stats["media"] == 1
    # the result lives in reelay's storage: it outlives the provider's link
    emulator.configure(result_link_ttl=0)
    assert requests.get(task["results"][0]["url"], timeout=10).status_code == 200


@pytest.mark.parametrize("model", list(EXPECTED))
def test_webhook_brings_the_result_without_waiting_for_a_poll(make_server, fal, media, tmp_path, model):
    emulator = fal(run_seconds=0.3)
    # poll scale 1: the first poll would come only after half the model's usual duration (≥ 30 s)
    server = fal_server(make_server, {"fal-a": emulator}, flags=["--poll-scale", "1"], public_url=True)
    created = server.submit(bodies(media)[model]).json()
    started = time.time()
    task = wait_task(server, created["id"], timeout=25)
    assert time.time() - started < 20
    check_result(task, tmp_path)
    request_id, job = only_job(emulator)
    assert job["webhook"] == f"{server.url}/v1/upstream/fal-a/webhook?task={created['id']}"
    assert job["webhook_answers"] == [200]
    assert emulator.stats()["jwks"] >= 1


def test_forged_webhooks_are_refused_and_polling_still_finishes(make_server, fal, media, tmp_path):
    emulator = fal(webhook_bad_signature=True)
    server = fal_server(make_server, {"fal-a": emulator}, public_url=True)
    created = server.submit(bodies(media)["sync-3"]).json()
    task = wait_task(server, created["id"], timeout=30)
    check_result(task, tmp_path)
    _, job = only_job(emulator)
    assert job["webhook_answers"] == [401]
    # a webhook with no signature at all, and one for a channel that does not exist
    bare = requests.post(f"{server.url}/v1/upstream/fal-a/webhook?task={created['id']}", json={"status": "OK"})
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "invalid_signature"
    assert requests.post(f"{server.url}/v1/upstream/nope/webhook", json={}).status_code == 404
    assert "webhook refused" in server.read_log()


def test_duplicate_webhooks_are_harmless(make_server, fal, media, tmp_path):
    emulator = fal(duplicate_webhooks=3)
    server = fal_server(make_server, {"fal-a": emulator}, public_url=True)
    created = server.submit(bodies(media)["lipsync-2"]).json()
    wait_task(server, created["id"], timeout=30)
    task = wait_previews(server, created["id"])  # they come after completion: the results change once
    check_result(task, tmp_path)
    time.sleep(1)
    _, job = only_job(emulator)
    assert job["webhook_answers"] == [200, 200, 200]
    again = server.request("GET", f"/v1/tasks/{created['id']}").json()
    assert again["status"] == "completed" and again["results"] == task["results"]
    assert emulator.stats()["media"] == 1  # downloaded once


def test_throttled_submits_back_off_and_never_fail_the_task(make_server, fal, media, tmp_path):
    emulator = fal(submit_429=2, retry_after=1)
    server = fal_server(make_server, {"fal-a": emulator})
    created = server.submit(bodies(media)["lipsync-2"]).json()
    started = time.time()
    task = wait_task(server, created["id"], timeout=30)
    check_result(task, tmp_path)
    assert time.time() - started >= 1.8  # two Retry-After: 1 waits
    stats = emulator.stats()
    assert stats["submits"] == 3 and stats["jobs_created"] == 1


def test_a_refusal_fails_over_to_the_next_channel(make_server, fal, media, tmp_path):
    broken, healthy = fal(submit_500=100), fal()
    server = fal_server(make_server, {"fal-broken": broken, "fal-healthy": healthy})
    created = server.submit(bodies(media)["sora-2"]).json()
    task = wait_task(server, created["id"], timeout=30)
    check_result(task, tmp_path)
    assert broken.stats()["submits"] == 1 and broken.stats()["jobs_created"] == 0
    assert healthy.stats()["jobs_created"] == 1
    assert "fal-broken" in server.read_log() and "refused" in server.read_log()


def test_a_refusal_with_no_channel_left_fails_with_the_providers_words(make_server, fal, media):
    emulator = fal(submit_500=100)
    server = fal_server(make_server, {"fal-a": emulator})
    task = wait_task(server, server.submit(bodies(media)["sora-2"]).json()["id"], timeout=30)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "upstream_error" and "Runner unavailable" in task["error"]["message"]


@pytest.mark.parametrize("fault", ["submit_hang", "submit_malformed"])
def test_an_unanswered_submit_is_never_sent_twice(make_server, fal, media, fault):
    emulator = fal(**{fault: 1}, hang_seconds=4)
    server = fal_server(make_server, {"fal-a": emulator, "fal-b": fal()})
    task = wait_task(server, server.submit(bodies(media)["lipsync-2"]).json()["id"], timeout=30)
    # fal cannot be asked for a job by our id: after the grace period the task fails, and nobody resubmits
    assert task["status"] == "failed" and task["error"]["code"] == "upstream_error"
    assert "not submitted again" in task["error"]["message"]
    stats = emulator.stats()
    assert stats["submits"] == 1 and stats["jobs_created"] == 1


@pytest.mark.parametrize("outcome,code", [("fail", "invalid_parameters"),
                                          ("content_policy", "content_policy_violation")])
def test_failed_jobs_keep_the_providers_message(make_server, fal, media, outcome, code):
    emulator = fal(outcome=outcome, fail_message="video_url: face not found in frame 0")
    server = fal_server(make_server, {"fal-a": emulator})
    task = wait_task(server, server.submit(bodies(media)["lipsync-2"]).json()["id"], timeout=30)
    assert task["status"] == "failed" and task["error"]["code"] == code, task
    if outcome == "fail":
        assert "face not found in frame 0" in task["error"]["message"]
    assert emulator.stats()["submits"] == 1


def test_an_expired_result_link_fails_the_task(make_server, fal, media):
    emulator = fal(result_link_ttl=0)
    server = fal_server(make_server, {"fal-a": emulator})
    task = wait_task(server, server.submit(bodies(media)["sora-2"]).json()["id"], timeout=30)
    assert task["status"] == "failed" and task["error"]["code"] == "upstream_error"
    assert "downloaded" in task["error"]["message"] and "403" in task["error"]["message"]


def test_poll_errors_are_retried(make_server, fal, media, tmp_path):
    emulator = fal(poll_500=3, poll_malformed=2)
    server = fal_server(make_server, {"fal-a": emulator})
    task = wait_task(server, server.submit(bodies(media)["lipsync-2"]).json()["id"], timeout=30)
    check_result(task, tmp_path)
    assert emulator.stats()["polls"] >= 6


def test_cancel_reaches_fal(make_server, fal, media):
    emulator = fal(queue_seconds=30)
    server = fal_server(make_server, {"fal-a": emulator})
    task_id = server.submit(bodies(media)["lipsync-2"]).json()["id"]
    wait_task(server, task_id, until={"processing"}, timeout=20)
    assert server.request("POST", f"/v1/tasks/{task_id}/cancel").status_code == 200
    deadline = time.time() + 10
    while emulator.stats()["cancels"] == 0:
        assert time.time() < deadline, "fal's cancel was never called"
        time.sleep(0.1)
    _, job = only_job(emulator)
    assert job["cancelled"] is True
    assert server.request("GET", f"/v1/tasks/{task_id}").json()["status"] == "cancelled"


def test_sync_upstream_asks_the_provider_now(make_server, fal, media, tmp_path):
    emulator = fal(queue_seconds=0.1, run_seconds=0.2)
    server = fal_server(make_server, {"fal-a": emulator}, flags=["--poll-scale", "1"])
    task_id = server.submit(bodies(media)["lipsync-2"]).json()["id"]
    time.sleep(1.5)  # the job is done upstream; reelay's own first poll is ~30 s away
    assert server.request("GET", f"/v1/tasks/{task_id}").json()["status"] == "processing"
    polls_before = emulator.stats()["polls"]
    deadline = time.time() + 15
    while True:
        task = server.request("GET", f"/v1/tasks/{task_id}?sync_upstream=true").json()
        if task["status"] == "completed" or time.time() > deadline:
            break
    check_result(task, tmp_path)
    assert emulator.stats()["polls"] > polls_before


def test_a_crash_while_processing_resumes_without_resubmitting(make_server, fal, media, tmp_path):
    emulator = fal(queue_seconds=1.5)
    server = fal_server(make_server, {"fal-a": emulator})
    task_id = server.submit(bodies(media)["lipsync-2"]).json()["id"]
    wait_task(server, task_id, until={"processing"}, timeout=20)
    server.kill9()
    server.start()
    task = wait_task(server, task_id, timeout=30)
    check_result(task, tmp_path)
    assert emulator.stats()["jobs_created"] == 1


def test_advanced_options_no_channel_honours_are_refused_up_front(make_server, fal, media):
    server = fal_server(make_server, {"fal-a": fal()})
    body = {**bodies(media)["lipsync-2"], "temperature": 0.3, "active_speaker": True}
    response = server.submit(body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_advanced_options"
    assert "temperature" in error["message"] and "active_speaker" in error["message"]
    # with the sandbox enabled again the same request is accepted (it honours every option)
    server.cli("channels", "enable", "sandbox")
    deadline = time.time() + 5
    while server.submit(body).status_code != 200:
        assert time.time() < deadline
        time.sleep(0.2)


def test_max_concurrent_caps_jobs_in_flight_on_a_channel(make_server, fal, media, tmp_path):
    emulator = fal(queue_seconds=0.2, run_seconds=0.5)
    server = fal_server(make_server, {"fal-a": emulator})
    server.cli("channels", "update", "fal-a", "--max-concurrent", "1")
    server.restart()
    ids = [server.submit(bodies(media)["sora-2"]).json()["id"] for _ in range(3)]
    for task_id in ids:
        check_result(wait_task(server, task_id, timeout=60), tmp_path)
    created = sorted(job["created"] for job in emulator.stats()["jobs"].values())
    assert len(created) == 3
    # the slot frees only when a task ends: no job starts before the previous one finished upstream
    for earlier, later in zip(created, created[1:]):
        assert later - earlier >= 0.7 - 0.05, created
