"""POST /v1/videos/generations/quote: the submit's checks and price, with nothing stored or charged.

Prices are the built-in defaults (see test_credits_limits.py)."""
import json
import os
import sqlite3

import pytest

from test_errors import assert_error


def quote(server, body, key="default", **kw):
    return server.request("POST", "/v1/videos/generations/quote", key=key, json=body, **kw)


def ledger_rows(server):
    db = sqlite3.connect(os.path.join(server.data, "reelay.db"))
    try:
        return db.execute("SELECT COUNT(*) FROM credit_ledger").fetchone()[0], \
            db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    finally:
        db.close()


def bodies(media):
    """One body per model family (and per lip-sync billing rule), with real inputs to probe."""
    return [
        {"model": "sora-2", "prompt": "a fox", "duration": 8, "resolution": "1080p"},
        {"model": "sora-2-pro", "prompt": "a fox", "image_urls": [media["landscape.png"]]},
        {"model": "lipsync-2", "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"]},
        {"model": "sync-3", "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"],
         "sync_mode": "cut_off"},
        {"model": "creatify-aurora", "image_url": media["portrait.png"], "audio_url": media["audio3s.wav"],
         "resolution": "480p"},
        {"model": "kling-v3-motion-control", "image_url": media["portrait.png"], "video_url": media["video2s.mp4"],
         "mode": "pro"},
    ]


def test_a_quote_is_the_price_the_submit_reserves(server, media):
    key = server.create_key()
    for body in bodies(media):
        before = ledger_rows(server)
        answer = quote(server, body, key=key["key"])
        assert answer.status_code == 200, answer.text
        shown = answer.json()
        assert set(shown) == {"object", "model", "credits", "billable_seconds", "user_group", "rule"}, shown
        assert shown["object"] == "quote" and shown["model"] == body["model"]
        assert set(shown["rule"]) == {"unit", "rate", "seconds_from", "param", "when", "rounding"}
        assert ledger_rows(server) == before, "a quote stored something"
        created = server.submit(body, key=key["key"])
        assert created.status_code == 200, created.text
        task = server.request("GET", f"/v1/tasks/{created.json()['id']}", key=key["key"]).json()
        assert task["usage"]["credits_reserved"] == shown["credits"], (body, shown)
        assert shown["credits"] > 0


def test_the_rule_names_where_the_seconds_come_from(server, media):
    sora = quote(server, {"model": "sora-2", "prompt": "a fox", "duration": 12}).json()
    assert sora["billable_seconds"] == 12 and sora["credits"] == 1200
    assert sora["rule"] == {"unit": "second", "rate": 100, "seconds_from": "param", "param": "duration",
                            "when": None, "rounding": "ceil(rate × billable_seconds)"}
    cut = quote(server, {"model": "lipsync-2", "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"],
                         "sync_mode": "cut_off"}).json()
    assert cut["rule"]["seconds_from"] == "shorter" and cut["rule"]["when"] == {"sync_mode": "cut_off"}
    assert cut["billable_seconds"] == pytest.approx(2, abs=0.1)
    loop = quote(server, {"model": "lipsync-2", "video_url": media["video2s.mp4"],
                          "audio_url": media["audio3s.wav"]}).json()
    assert loop["rule"]["seconds_from"] == "audio" and loop["rule"]["when"] is None
    assert loop["billable_seconds"] == pytest.approx(3, abs=0.1)


def test_a_group_pays_its_multiplier(server):
    vip = server.create_key("--group", "vip")
    shown = quote(server, {"model": "sora-2", "prompt": "a fox"}, key=vip["key"]).json()
    assert shown["credits"] == 320 and shown["user_group"] == "vip"  # 100 × 0.8 × 4


@pytest.mark.parametrize("body", [
    {"prompt": "x"},
    {"model": "veo-9", "prompt": "x"},
    {"model": "sora-2", "prompt": "x", "duration": 9},
    {"model": "sora-2", "prompt": "x", "seed": 3},
    {"model": "sora-2", "prompt": "x", "callback_url": "https://10.0.0.1/hook"},
    {"model": "sync-3", "video_url": "http://a/v.mp4", "audio_url": "http://a/a.wav", "temperature": 0.5},
])
def test_an_invalid_body_gets_the_error_a_submit_gets(server, body):
    quoted, submitted = quote(server, body), server.submit(body)
    error = assert_error(quoted, submitted.status_code)
    assert submitted.status_code >= 400
    assert error == submitted.json()["error"]


def test_an_input_that_fails_its_probe_gets_the_submit_error(server, media):
    for body in [
        {"model": "lipsync-2", "video_url": media["missing"], "audio_url": media["audio3s.wav"]},
        {"model": "lipsync-2", "video_url": media["notes.txt"], "audio_url": media["audio3s.wav"]},
        {"model": "creatify-aurora", "image_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"]},
    ]:
        quoted, submitted = quote(server, body), server.submit(body)
        assert submitted.status_code == 422, submitted.text
        assert quoted.status_code == 422 and quoted.json() == submitted.json()


def test_quotes_store_nothing(make_server):
    server = make_server()
    key = server.create_key("--max-concurrent", "1")
    before = ledger_rows(server)
    for _ in range(5):
        headers = {"Idempotency-Key": "same-key"}
        assert quote(server, {"model": "sora-2", "prompt": "x"}, key=key["key"], headers=headers).status_code == 200
    assert ledger_rows(server) == before
    assert server.request("GET", "/v1/tasks", key=key["key"]).json()["data"] == []
    balance = server.request("GET", "/v1/balance", key=key["key"]).json()
    assert balance["credits_reserved"] == 0 and balance["credits_available"] == 1000000
    # the Idempotency-Key and the one concurrency slot are still free for a real submit
    created = server.request("POST", "/v1/videos/generations", key=key["key"], json={"model": "sora-2", "prompt": "y"},
                             headers={"Idempotency-Key": "same-key"})
    assert created.status_code == 200, created.text
    assert "idempotent-replayed" not in created.headers


def test_a_quote_needs_a_key(server):
    assert_error(quote(server, {"model": "sora-2", "prompt": "x"}, key=None), 401, "authentication_error")
    r = server.request("POST", "/v1/videos/generations/quote", data=b"{nope",
                       headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request_error")
