"""Tasks on Sync Labs, Kling, OpenAI Videos and Creatify channels against their emulators
(tests/emulators/providers.py): every model each serves, by polling and by webhook, the reconciliation of
an unanswered submit (Kling by external id, Sync by idempotent replay, others fail after the grace
period), throttling, failures with their codes, forged webhooks and wrong credentials."""
import os
import subprocess
import sys
import time

import pytest
import requests

from conftest import BIN, ffprobe, wait_task

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulators"))
from providers import Creatify, Kling, OpenAIVideos, SyncLabs  # noqa: E402

FAST = ["--poll-scale", "0.01", "--submit-timeout-ms", "1500", "--unknown-grace", "3"]
KLING_SECRET = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="
OPENAI_SECRET = "whsec_" + __import__("base64").b64encode(bytes(range(32))).decode()

PROVIDERS = {
    "sync": (SyncLabs, "sync_test_key", ["lipsync-2", "lipsync-2-pro", "sync-3"]),
    "kling": (Kling, "AK_TEST:SK_TEST", ["kling-v3-motion-control", "kling-v2-6-motion-control"]),
    "openai": (OpenAIVideos, "sk-test", ["sora-2", "sora-2-pro"]),
    "creatify": (Creatify, "cr_id:cr_key", ["creatify-aurora"]),
}


def body_for(model, media):
    if model.startswith("lipsync") or model == "sync-3":
        return {"model": model, "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"]}
    if model.startswith("kling"):
        return {"model": model, "image_url": media["portrait.png"], "video_url": media["video2s.mp4"], "mode": "pro"}
    if model.startswith("sora"):
        return {"model": model, "prompt": "a paper boat on a pond", "duration": 8}
    return {"model": model, "image_url": media["portrait.png"], "audio_url": media["audio3s.wav"],
            "prompt": "warm light"}


@pytest.fixture
def emulators(media):
    started = []

    def make(provider, **config):
        emulator = PROVIDERS[provider][0](os.path.join(media["dir"], "video2s.mp4"), **config)
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


def provider_server(make_server, provider, emulator, flags=FAST, public_url=False, credential=None,
                    webhook_secret=None):
    server = make_server(flags=flags, public_url=public_url)
    server.cli("channels", "disable", "sandbox")
    extra = ["--webhook-secret", webhook_secret] if webhook_secret else []
    subprocess.run([BIN, "channels", "add", "--data", server.data, "--provider", provider, "--name", f"{provider}-1",
                    "--base-url", emulator.base_url, "--credential", credential or PROVIDERS[provider][1],
                    "--models", "all", *extra], check=True, capture_output=True, env=server.env)
    server.restart()
    return server


def check_completed(task, tmp_path):
    assert task["status"] == "completed", task
    download = requests.get(task["results"][0]["url"], timeout=30)
    assert download.status_code == 200
    path = os.path.join(tmp_path, task["id"] + ".mp4")
    with open(path, "wb") as f:
        f.write(download.content)
    assert abs(ffprobe(path)["duration"] - 2.0) < 0.2


def only_job(emulator):
    jobs = emulator.stats()["jobs"]
    assert len(jobs) == 1, jobs
    return next(iter(jobs.values()))


@pytest.mark.parametrize("provider,model", [(p, m) for p, (_, _, models) in PROVIDERS.items() for m in models])
def test_every_model_on_every_provider_by_polling(make_server, emulators, media, tmp_path, provider, model):
    emulator = emulators(provider)
    server = provider_server(make_server, provider, emulator)
    created = server.submit(body_for(model, media))
    assert created.status_code == 200, created.text
    task = wait_task(server, created.json()["id"], timeout=60)
    check_completed(task, tmp_path)
    job = only_job(emulator)
    sent = job["input"]
    if provider == "sync":
        assert sent["model"] == model and job["idempotency_key"] == task["id"]
        assert [i["type"] for i in sent["input"]] == ["video", "audio"]
    elif provider == "kling":
        assert sent["model_name"] == ("kling-v3" if "v3" in model else "kling-v2-6")
        assert sent["external_task_id"] == task["id"] and sent["mode"] == "pro"
        assert sent["keep_original_sound"] == "yes"
    elif provider == "openai":
        assert sent["model"] == model and sent["seconds"] == "8" and sent["size"] == "1280x720"
    else:
        assert sent["image"] == media["portrait.png"] and sent["text_prompt"] == "warm light"
        assert sent["name"] == task["id"]


def test_kling_finds_an_unanswered_submit_by_its_external_id(make_server, emulators, media, tmp_path):
    emulator = emulators("kling", submit_hang=1, hang_seconds=4)
    server = provider_server(make_server, "kling", emulator)
    task = wait_task(server, server.submit(body_for("kling-v3-motion-control", media)).json()["id"], timeout=30)
    check_completed(task, tmp_path)
    stats = emulator.stats()
    assert stats["submits"] == 1 and stats["jobs_created"] == 1
    assert "look-up found the job" in server.read_log()


def test_sync_replays_an_unanswered_submit_with_the_same_idempotency_key(make_server, emulators, media, tmp_path):
    emulator = emulators("sync", submit_malformed=1)
    server = provider_server(make_server, "sync", emulator)
    task = wait_task(server, server.submit(body_for("lipsync-2", media)).json()["id"], timeout=30)
    check_completed(task, tmp_path)
    stats = emulator.stats()
    assert stats["jobs_created"] == 1 and stats["submits"] == 2  # the replay made no second job


@pytest.mark.parametrize("provider", ["openai", "creatify"])
def test_providers_without_look_up_fail_an_unanswered_submit_after_the_grace(make_server, emulators, media,
                                                                             provider):
    emulator = emulators(provider, submit_hang=1, hang_seconds=4)
    server = provider_server(make_server, provider, emulator)
    task = wait_task(server, server.submit(body_for(PROVIDERS[provider][2][0], media)).json()["id"], timeout=30)
    assert task["status"] == "failed" and task["error"]["code"] == "upstream_error"
    assert emulator.stats()["jobs_created"] == 1 and emulator.stats()["submits"] == 1


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_throttling_backs_off_and_the_task_completes(make_server, emulators, media, tmp_path, provider):
    emulator = emulators(provider, submit_429=2, retry_after=1)
    server = provider_server(make_server, provider, emulator)
    task = wait_task(server, server.submit(body_for(PROVIDERS[provider][2][0], media)).json()["id"], timeout=40)
    check_completed(task, tmp_path)
    assert emulator.stats()["submits"] == 3 and emulator.stats()["jobs_created"] == 1


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("outcome,code", [("fail", None), ("content_policy", "content_policy_violation")])
def test_failed_jobs_map_to_task_error_codes(make_server, emulators, media, provider, outcome, code):
    emulator = emulators(provider, outcome=outcome, fail_message="the subject is out of frame")
    server = provider_server(make_server, provider, emulator)
    task = wait_task(server, server.submit(body_for(PROVIDERS[provider][2][0], media)).json()["id"], timeout=30)
    assert task["status"] == "failed", task
    if code:
        assert task["error"]["code"] == code
    else:
        assert task["error"]["code"] in ("invalid_parameters", "generation_failed")
        assert "out of frame" in task["error"]["message"]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_poll_errors_are_retried(make_server, emulators, media, tmp_path, provider):
    emulator = emulators(provider, poll_500=2, poll_malformed=2)
    server = provider_server(make_server, provider, emulator)
    task = wait_task(server, server.submit(body_for(PROVIDERS[provider][2][0], media)).json()["id"], timeout=40)
    check_completed(task, tmp_path)


def test_wrong_credentials_fail_the_task_with_the_providers_words(make_server, emulators, media):
    emulator = emulators("kling")
    server = provider_server(make_server, "kling", emulator, credential="AK_TEST:wrong-secret")
    task = wait_task(server, server.submit(body_for("kling-v3-motion-control", media)).json()["id"], timeout=30)
    assert task["status"] == "failed" and task["error"]["code"] == "upstream_auth_failed"
    assert "invalid" in task["error"]["message"].lower()
    assert emulator.stats()["jobs_created"] == 0


def wait_webhooks(emulator, count, timeout=10):
    deadline = time.time() + timeout
    while True:
        answers = only_job(emulator).get("webhook_answers", [])
        if len(answers) >= count or time.time() > deadline:
            return answers
        time.sleep(0.1)


SECRETS = {"sync": "whsec_sync_test", "kling": KLING_SECRET, "creatify": None}


@pytest.mark.parametrize("provider,model", [(p, m) for p in SECRETS for m in PROVIDERS[p][2]])
def test_webhooks_bring_the_result_early(make_server, emulators, media, tmp_path, provider, model):
    emulator = emulators(provider, run_seconds=0.3)
    server = provider_server(make_server, provider, emulator, flags=["--poll-scale", "1"], public_url=True,
                             webhook_secret=SECRETS[provider])
    started = time.time()
    task = wait_task(server, server.submit(body_for(model, media)).json()["id"], timeout=25)
    check_completed(task, tmp_path)
    assert time.time() - started < 20  # reelay's own first poll would be ≥ 30 s away
    assert wait_webhooks(emulator, 1)[0] == 200


@pytest.mark.parametrize("model", ["sora-2", "sora-2-pro"])
def test_openai_project_webhook_names_only_the_video(make_server, emulators, media, tmp_path, model):
    emulator = emulators("openai", run_seconds=0.3)
    server = provider_server(make_server, "openai", emulator, flags=["--poll-scale", "1"], public_url=True,
                             webhook_secret=OPENAI_SECRET)
    emulator.configure(webhook_url=f"{server.url}/v1/upstream/openai-1/webhook")
    task = wait_task(server, server.submit(body_for(model, media)).json()["id"], timeout=25)
    check_completed(task, tmp_path)
    assert wait_webhooks(emulator, 1)[0] == 200


@pytest.mark.parametrize("provider,secret", [("sync", "whsec_sync_test"), ("kling", KLING_SECRET)])
def test_badly_signed_webhooks_are_refused(make_server, emulators, media, tmp_path, provider, secret):
    emulator = emulators(provider, webhook_bad_signature=True, duplicate_webhooks=2)
    server = provider_server(make_server, provider, emulator, public_url=True, webhook_secret=secret)
    task = wait_task(server, server.submit(body_for(PROVIDERS[provider][2][0], media)).json()["id"], timeout=30)
    check_completed(task, tmp_path)  # polling still finishes it
    assert wait_webhooks(emulator, 2) == [401, 401]


@pytest.mark.parametrize("provider", ["sync", "kling", "openai", "creatify"])
def test_cancel_without_a_provider_cancel_discards_the_result(make_server, emulators, media, provider):
    emulator = emulators(provider, queue_seconds=0.2, run_seconds=1.0)
    server = provider_server(make_server, provider, emulator)
    task_id = server.submit(body_for(PROVIDERS[provider][2][0], media)).json()["id"]
    wait_task(server, task_id, until={"processing"}, timeout=20)
    assert server.request("POST", f"/v1/tasks/{task_id}/cancel").status_code == 200
    time.sleep(2.0)  # the job finishes upstream meanwhile
    task = server.request("GET", f"/v1/tasks/{task_id}").json()
    assert task["status"] == "cancelled" and task["results"] is None
    assert emulator.stats()["media"] == 0  # its result was never fetched
