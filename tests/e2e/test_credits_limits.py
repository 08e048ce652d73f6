"""Credits, media checks at submit, rate limits and idempotency, against the real binary.

Prices are the built-in defaults that `reelay init` writes to prices.json: sora-2 100 credits per second,
lipsync-2 50, creatify-aurora 100 (480p × 0.5), kling-v3 motion control 112 (pro × 1.6)."""
import concurrent.futures
import functools
import http.server
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import wave

import pytest

from conftest import QuietHandler, ffmpeg, free_port, wait_task


def sora(duration=4, **extra):
    return {"model": "sora-2", "prompt": "a lighthouse at dusk", "duration": duration, **extra}


def new_key(server, *flags):
    return json.loads(server.cli("keys", "create", "--json", *flags).stdout)


def balance(server, key):
    response = server.request("GET", "/v1/balance", key=key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"object", "credits_available", "credits_reserved", "user_group"}
    assert body["object"] == "balance"
    return body


def audit(server):
    result = server.cli("credits", "audit", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger consistent" in result.stdout


def ledger_sums(server):
    """Recomputes every key's balances from the ledger and the tasks, straight from the database."""
    db = sqlite3.connect(os.path.join(server.data, "reelay.db"))
    try:
        problems = []
        for key_id, available, reserved in db.execute("SELECT id, credits_available, credits_reserved FROM api_keys"):
            rows = db.execute("SELECT kind, amount, released, task_id FROM credit_ledger WHERE key_id = ?", (key_id,))
            grants = settled = released = refunded = reserves = 0
            for kind, amount, freed, _ in rows:
                if kind == "grant":
                    grants += amount
                elif kind == "reserve":
                    reserves += amount
                elif kind == "settle":
                    settled += amount
                    released += freed
                elif kind == "refund":
                    refunded += amount
            if available != grants - settled - (reserves - released - refunded):
                problems.append(f"{key_id}: available {available} != grants {grants} - settled {settled} - held")
            if reserved != reserves - released - refunded:
                problems.append(f"{key_id}: reserved {reserved} != open reservations")
        for task_id, state in db.execute("SELECT id, state FROM tasks"):
            releases = db.execute("SELECT COUNT(*) FROM credit_ledger WHERE task_id = ? AND kind IN ('settle', 'refund')",
                                  (task_id,)).fetchone()[0]
            reserves = db.execute("SELECT COUNT(*) FROM credit_ledger WHERE task_id = ? AND kind = 'reserve'",
                                  (task_id,)).fetchone()[0]
            if reserves != 1 or releases != (1 if state >= 4 else 0):
                problems.append(f"{task_id}: state {state}, {reserves} reservations, {releases} releases")
        return problems
    finally:
        db.close()


@pytest.fixture(scope="module")
def long_media():
    """Inputs past the documented limits, served on loopback."""
    folder = tempfile.mkdtemp(prefix="reelay-long-")
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=400:duration=61", os.path.join(folder, "audio61s.wav"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=400:duration=5", "-c:a", "libmp3lame", os.path.join(folder, "audio5s.mp3"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=12", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", os.path.join(folder, "video12s.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", os.path.join(folder, "video2s.mkv"))
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(QuietHandler, directory=folder))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield {name: f"http://127.0.0.1:{port}/{name}" for name in os.listdir(folder)}
    httpd.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


# ---- credits ----

def test_the_first_key_has_a_generous_grant_and_prices_are_published(server):
    body = balance(server, server.key)
    assert body["user_group"] == "default"
    assert body["credits_available"] + body["credits_reserved"] <= 10_000_000
    assert body["credits_available"] > 9_000_000
    models = server.request("GET", "/v1/models").json()["data"]
    pricing = {m["id"]: m["pricing"] for m in models}
    assert set(pricing) == {"lipsync-2", "lipsync-2-pro", "sync-3", "creatify-aurora", "kling-v3-motion-control",
                            "kling-v2-6-motion-control", "sora-2", "sora-2-pro"}
    assert pricing["sora-2"]["unit"] == "second" and pricing["sora-2"]["credits"] == 100
    assert pricing["kling-v3-motion-control"]["multipliers"] == {"mode": {"pro": 1.6}}
    assert pricing["sora-2"]["group_multiplier"] == 1


def test_a_task_reserves_its_price_and_settles_on_the_real_length(server):
    key = new_key(server, "--credits", "1000")
    assert set(key) >= {"id", "key", "webhook_secret"} and key["webhook_secret"].startswith("whsec_")
    created = server.submit(sora(8), key=key["key"])
    assert created.status_code == 200, created.text
    task = server.request("GET", f"/v1/tasks/{created.json()['id']}", key=key["key"]).json()
    assert task["usage"]["credits_reserved"] == 800
    mid = balance(server, key["key"])
    assert mid["credits_available"] + mid["credits_reserved"] == 1000 and mid["credits_available"] >= 200
    done = wait_task(server, created.json()["id"], key=key["key"])
    assert done["status"] == "completed"
    after = balance(server, key["key"])
    assert after["credits_reserved"] == 0
    charged = 1000 - after["credits_available"]
    duration = done["results"][0]["duration"]
    assert charged == min(800, -(-round(duration * 100 * 1000) // 1000)), (charged, duration)
    shown = json.loads(server.cli("credits", "show", key["id"], "--json").stdout)
    assert [e["kind"] for e in shown["ledger"]] == ["grant", "reserve", "settle"]
    audit(server)


def test_a_short_balance_is_refused_with_402_and_nothing_is_created(server):
    key = new_key(server, "--credits", "399")
    refused = server.submit(sora(4), key=key["key"])
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["type"] == "insufficient_quota" and error["code"] == "insufficient_quota"
    assert "400" in error["message"] and "399" in error["message"]
    assert server.request("GET", "/v1/tasks", key=key["key"]).json()["data"] == []
    assert balance(server, key["key"]) == {"object": "balance", "credits_available": 399, "credits_reserved": 0,
                                            "user_group": "default"}


def test_failure_and_cancellation_refund_in_full(make_server):
    server = make_server(["--engine-paused", "--task-timeout", "2"])
    key = new_key(server, "--credits", "5000")
    timed_out = server.submit(sora(4), key=key["key"]).json()["id"]
    cancelled = server.submit(sora(8), key=key["key"]).json()["id"]
    assert balance(server, key["key"])["credits_reserved"] == 1200
    assert server.request("POST", f"/v1/tasks/{cancelled}/cancel", key=key["key"]).status_code == 200
    assert wait_task(server, timed_out, key=key["key"], timeout=30)["error"]["code"] == "timeout"
    assert balance(server, key["key"]) == {"object": "balance", "credits_available": 5000, "credits_reserved": 0,
                                            "user_group": "default"}
    kinds = [e["kind"] for e in json.loads(server.cli("credits", "show", key["id"], "--json").stdout)["ledger"]]
    assert sorted(kinds) == ["grant", "refund", "refund", "reserve", "reserve"]
    audit(server)


def test_groups_and_multipliers_change_the_price(server, media):
    vip = new_key(server, "--credits", "100000", "--group", "vip")
    created = server.submit(sora(4), key=vip["key"])
    assert created.status_code == 200, created.text
    task = server.request("GET", f"/v1/tasks/{created.json()['id']}", key=vip["key"]).json()
    assert task["usage"] == {"credits_reserved": 320, "user_group": "vip"}  # 100 × 0.8 × 4
    pro = server.submit({"model": "kling-v3-motion-control", "image_url": media["portrait.png"],
                         "video_url": media["video2s.mp4"], "mode": "pro"}, key=vip["key"])
    assert pro.status_code == 200, pro.text
    task = server.request("GET", f"/v1/tasks/{pro.json()['id']}", key=vip["key"]).json()
    assert task["usage"]["credits_reserved"] == 287  # ceil(112 × 1.6 × 0.8 × 2 s)


@pytest.mark.parametrize("mode,seconds", [("loop", 3), ("bounce", 3), ("remap", 3), ("cut_off", 2), ("silence", 2)])
def test_lipsync_is_priced_by_sync_mode_from_the_probed_lengths(server, media, mode, seconds):
    created = server.submit({"model": "lipsync-2", "video_url": media["video2s.mp4"],
                             "audio_url": media["audio3s.wav"], "sync_mode": mode})
    assert created.status_code == 200, created.text
    task = server.request("GET", f"/v1/tasks/{created.json()['id']}").json()
    assert task["usage"]["credits_reserved"] == pytest.approx(50 * seconds, abs=2)


def test_grants_from_the_command_line(server):
    key = new_key(server)
    assert balance(server, key["key"])["credits_available"] == 0
    granted = server.cli("credits", "grant", key["id"], "250", "--note", "top-up", "--json")
    assert json.loads(granted.stdout)["credits_available"] == 250
    assert server.cli("credits", "grant", key["id"], "-100").returncode == 0
    too_much = server.cli("credits", "grant", key["id"], "-1000", check=False)
    assert too_much.returncode == 1 and "fewer than 1000" in too_much.stderr
    assert server.cli("credits", "grant", "key_nobody", "5", check=False).returncode == 1
    assert server.cli("credits", "grant", key["id"], "lots", check=False).returncode == 2
    assert balance(server, key["key"])["credits_available"] == 150


# ---- media checks at submit ----

def silent_wav(media):
    """A WAV header with no samples in the media folder: audio, but no length. Returns its URL."""
    with wave.open(os.path.join(media["dir"], "empty.wav"), "wb") as empty:
        empty.setnchannels(1)
        empty.setsampwidth(2)
        empty.setframerate(16000)
        empty.writeframes(b"")
    return media["audio3s.wav"].rsplit("/", 1)[0] + "/empty.wav"


def test_documented_media_limits_are_enforced_at_submit(server, media, long_media):
    cases = [
        ({"model": "creatify-aurora", "image_url": media["portrait.png"], "audio_url": long_media["audio61s.wav"]},
         "input_too_long", "audio_url", "60 s"),
        ({"model": "kling-v3-motion-control", "image_url": media["portrait.png"],
          "video_url": long_media["video12s.mp4"]}, "input_too_long", "video_url", "10 s"),
        ({"model": "lipsync-2", "video_url": media["video2s.mp4"], "audio_url": media["portrait.png"]},
         "unsupported_media_format", "audio_url", "MP3 or WAV"),
        ({"model": "lipsync-2", "video_url": long_media["video2s.mkv"], "audio_url": media["audio3s.wav"]},
         "unsupported_media_format", "video_url", "MP4 or MOV"),
        ({"model": "creatify-aurora", "image_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"]},
         "unsupported_media_format", "image_url", "JPG or PNG"),
        ({"model": "sync-3", "video_url": media["missing"], "audio_url": media["audio3s.wav"]},
         "input_unreachable", "video_url", None),
        ({"model": "sync-3", "video_url": media["video2s.mp4"], "audio_url": media["notes.txt"]},
         "input_not_media", "audio_url", None),
        ({"model": "sora-2", "prompt": "x", "image_urls": ["http://10.255.255.1/i.png"]},
         "input_blocked", "image_urls[0]", None),
        ({"model": "sync-3", "video_url": media["video2s.mp4"], "audio_url": silent_wav(media)},
         "input_not_media", "audio_url", "no readable duration"),  # priced by a length it does not have
    ]
    key = new_key(server, "--credits", "100000")
    for body, code, param, words in cases:
        response = server.submit(body, key=key["key"])
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, param), (body, error)
        if words:
            assert words in error["message"], error
    assert server.request("GET", "/v1/tasks", key=key["key"]).json()["data"] == []
    assert balance(server, key["key"])["credits_available"] == 100000


def test_the_reference_video_may_be_longer_when_oriented_by_video(server, media, long_media):
    created = server.submit({"model": "kling-v2-6-motion-control", "image_url": media["portrait.png"],
                             "video_url": long_media["video12s.mp4"], "character_orientation": "video"})
    assert created.status_code == 200, created.text
    task = server.request("GET", f"/v1/tasks/{created.json()['id']}").json()
    assert task["usage"]["credits_reserved"] == pytest.approx(70 * 12, abs=2)
    mp3 = server.submit({"model": "creatify-aurora", "image_url": media["portrait.png"],
                         "audio_url": long_media["audio5s.mp3"], "resolution": "480p"})
    assert mp3.status_code == 200, mp3.text
    task = server.request("GET", f"/v1/tasks/{mp3.json()['id']}").json()
    assert task["usage"]["credits_reserved"] == pytest.approx(50 * 5, abs=3)


# ---- rate limits ----

def test_requests_per_minute_are_limited_with_headers(server):
    key = new_key(server, "--credits", "0", "--rpm", "3")
    seen = []
    for _ in range(3):
        response = server.request("GET", "/v1/balance", key=key["key"])
        assert response.status_code == 200
        seen.append(int(response.headers["x-ratelimit-remaining"]))
        assert response.headers["x-ratelimit-limit"] == "3"
        assert 1 <= int(response.headers["x-ratelimit-reset"]) <= 60
    assert seen == [2, 1, 0]
    refused = server.submit(sora(4), key=key["key"])
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"
    # another key is not affected; a key without a limit sends no headers
    free = server.request("GET", "/v1/balance")
    assert free.status_code == 200 and "x-ratelimit-limit" not in free.headers
    assert server.request("GET", "/v1/tasks", key=key["key"]).status_code == 429


def test_concurrent_unfinished_tasks_are_limited(make_server):
    server = make_server(["--engine-paused"])
    # with a per-minute limit too: the refusal's X-RateLimit-* headers describe the concurrency cap alone
    key = new_key(server, "--credits", "100000", "--max-concurrent", "2", "--rpm", "100")
    first = server.submit(sora(4), key=key["key"]).json()["id"]
    assert server.submit(sora(4), key=key["key"]).status_code == 200
    refused = server.submit(sora(4), key=key["key"])
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "too_many_concurrent_tasks"
    assert refused.headers["retry-after"] == "5" and refused.headers["x-ratelimit-limit"] == "2"
    assert refused.headers["x-ratelimit-remaining"] == "0" and refused.headers["x-ratelimit-reset"] == "5"
    assert balance(server, key["key"])["credits_reserved"] == 800  # the refused one reserved nothing
    assert server.request("POST", f"/v1/tasks/{first}/cancel", key=key["key"]).status_code == 200
    assert server.submit(sora(4), key=key["key"]).status_code == 200
    assert server.cli("keys", "update", key["id"], "--max-concurrent", "0").returncode == 0
    time.sleep(1.1)  # each HTTP thread trusts a checked key for a second
    assert server.submit(sora(4), key=key["key"]).status_code == 200


# ---- idempotency ----

def test_an_idempotency_key_returns_the_same_task_and_charges_once(server):
    key = new_key(server, "--credits", "10000")
    def headers():  # a fresh dict each time: Server.request adds the Authorization header to it
        return {"Idempotency-Key": "order-1"}

    first = server.request("POST", "/v1/videos/generations", key=key["key"], json=sora(4), headers=headers())
    # the same request, written differently (key order, a default spelled out)
    again = server.request("POST", "/v1/videos/generations", key=key["key"], headers=headers(),
                           json={"duration": 4, "aspect_ratio": "16:9", "prompt": "a lighthouse at dusk", "model": "sora-2"})
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = server.request("POST", "/v1/videos/generations", key=key["key"], json=sora(8), headers=headers())
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(server.request("GET", "/v1/tasks", key=key["key"]).json()["data"]) == 1
    assert balance(server, key["key"])["credits_available"] + balance(server, key["key"])["credits_reserved"] >= 9600
    # the same key string of another API key is a different key
    stranger = new_key(server, "--credits", "10000")
    theirs = server.request("POST", "/v1/videos/generations", key=stranger["key"], json=sora(4), headers=headers())
    assert theirs.status_code == 200 and theirs.json()["id"] != first.json()["id"]
    bad = server.request("POST", "/v1/videos/generations", key=key["key"], json=sora(4),
                         headers={"Idempotency-Key": "x" * 300})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_idempotency_key"


def test_parallel_identical_idempotent_submits_create_one_task(server):
    key = new_key(server, "--credits", "100000")

    def submit(_):
        return server.request("POST", "/v1/videos/generations", key=key["key"], json=sora(4),
                              headers={"Idempotency-Key": "burst"})

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(submit, range(32)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(server.request("GET", "/v1/tasks", key=key["key"]).json()["data"]) == 1
    total = balance(server, key["key"])
    assert 100000 - total["credits_available"] <= 400


def test_parallel_submits_never_overspend_a_small_balance(make_server):
    server = make_server(["--engine-paused"])
    key = new_key(server, "--credits", "4000")

    def submit(_):
        return server.submit(sora(4), key=key["key"]).status_code

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        codes = list(pool.map(submit, range(60)))
    assert codes.count(200) == 10 and codes.count(402) == 50, codes
    assert balance(server, key["key"]) == {"object": "balance", "credits_available": 0, "credits_reserved": 4000,
                                            "user_group": "default"}
    audit(server)


def test_a_long_mixed_run_keeps_the_ledger_exact(make_server, media):
    server = make_server(["--render-concurrency", "2", "--task-timeout", "60"])
    keys = [new_key(server, "--credits", str(credits)) for credits in (3000, 1500, 800)]
    bodies = [sora(4), {"model": "lipsync-2", "video_url": media["video2s.mp4"], "audio_url": media["audio1s.wav"],
                        "sync_mode": "cut_off"}, sora(8)]

    def work(i):
        key = keys[i % len(keys)]["key"]
        response = server.submit(bodies[i % len(bodies)], key=key)
        if response.status_code == 200 and i % 4 == 0:
            server.request("POST", f"/v1/tasks/{response.json()['id']}/cancel", key=key)
        return response.status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(work, range(40)))
    assert set(codes) <= {200, 402} and 200 in codes and 402 in codes, codes
    deadline = time.time() + 120
    while time.time() < deadline:
        if all(balance(server, k["key"])["credits_reserved"] == 0 for k in keys):
            break
        time.sleep(0.5)
    assert all(balance(server, k["key"])["credits_reserved"] == 0 for k in keys)
    server.kill9()  # a crash must not matter to the books either
    server.start()
    assert ledger_sums(server) == []
    audit(server)


# ---- callback_url at submit ----

@pytest.mark.parametrize("url,words", [
    ("http://hooks.example.com/x", "https"),
    ("https://10.0.0.7/hook", "private"),
    ("https://localhost/hook", "localhost"),
    ("https://hooks.example.com/" + "a" * 2100, None),
])
def test_callback_urls_are_checked_at_submit(server, url, words):
    response = server.submit(sora(4, callback_url=url))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == "callback_url"
    if words:
        assert words in error["message"]
