"""The console's task reads: GET /v1/tasks/{id}/callback (the callback's delivery state: none before the
task finishes or without a callback_url, then pending, delivered or failed), GET /v1/tasks/{id}/request
(the stored parameters, enough to submit the same task again) and GET /v1/usage/daily (the key's settled
credits per UTC day). A key sees only its own tasks (404 as GET /v1/tasks/{id}); no key is 401."""
import datetime
import time

import pytest

from conftest import wait_task
from test_callbacks import Receiver

CALLBACK_MEMBERS = {"task_id", "url", "state", "attempts", "last_status", "last_error", "next_attempt_at",
                    "updated_at"}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def submit(server, key, **fields):
    r = server.submit({"model": "sora-2", "prompt": "a fox", "duration": 4, **fields}, key=key)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def callback_of(server, task_id, key):
    r = server.request("GET", f"/v1/tasks/{task_id}/callback", key=key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == CALLBACK_MEMBERS and body["task_id"] == task_id, body
    return body


def wait_callback(server, task_id, key, done, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        body = callback_of(server, task_id, key)
        if done(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def assert_none(body):
    assert body["state"] == "none" and body["attempts"] == 0, body
    assert all(body[name] is None for name in CALLBACK_MEMBERS - {"task_id", "state", "attempts"}), body


def test_a_callback_is_none_until_the_task_finishes_then_delivered(server, receiver):
    key = server.create_key()["key"]
    url = receiver.url("done")
    task_id = submit(server, key, callback_url=url)
    before = callback_of(server, task_id, key)
    if before["state"] == "none":  # the sandbox may already have finished it
        assert_none(before)
    assert wait_task(server, task_id, key=key)["status"] == "completed"
    receiver.wait("done", 1)
    body = wait_callback(server, task_id, key, lambda b: b["state"] == "delivered")
    assert body["url"] == url and body["attempts"] == 1 and body["last_status"] == 200, body
    assert body["last_error"] is None and body["next_attempt_at"] is None, body
    assert abs(body["updated_at"] - time.time()) < 60, body


def test_an_unfinished_task_and_one_without_a_callback_url_have_none(make_server):
    server = make_server(["--engine-paused"])  # nothing finishes
    waiting = submit(server, server.key, callback_url="https://example.com/hook?token=abc")
    assert_none(callback_of(server, waiting, server.key))
    server.restart([])
    plain = submit(server, server.key)
    assert wait_task(server, plain)["status"] == "completed"
    assert_none(callback_of(server, plain, server.key))


def test_a_failing_receiver_shows_pending_with_the_next_attempt_then_failed(server, receiver):
    key = server.create_key()["key"]
    receiver.plan("down", *([500] * 10))
    task_id = submit(server, key, callback_url=receiver.url("down"))
    body = wait_callback(server, task_id, key, lambda b: b["attempts"] >= 1 and b["last_status"] == 500)
    if body["state"] == "pending":  # recorded, and not yet claimed again
        assert body["next_attempt_at"] is not None and body["next_attempt_at"] >= body["updated_at"], body
    assert body["last_error"], body
    body = wait_callback(server, task_id, key, lambda b: b["state"] == "failed", timeout=60)
    assert body["attempts"] == 4 and body["last_status"] == 500 and body["next_attempt_at"] is None, body


def test_the_request_holds_the_stored_parameters_and_submits_again(server):
    key = server.create_key()["key"]
    fields = {"prompt": "a fox in the snow", "duration": 8, "callback_url": "https://example.com/hook"}
    task_id = submit(server, key, **fields)
    r = server.request("GET", f"/v1/tasks/{task_id}/request", key=key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"task_id", "model", "params"} and body["task_id"] == task_id, body
    assert body["model"] == "sora-2"
    assert isinstance(body["params"], dict)
    for name, value in fields.items():
        assert body["params"][name] == value, body
    # what the console's curl sends: the same parameters make the same task again
    again = server.submit({**body["params"], "model": body["model"]}, key=key)
    assert again.status_code == 200, again.text
    r = server.request("GET", f"/v1/tasks/{again.json()['id']}/request", key=key)
    assert r.json()["params"] == body["params"]


def test_another_keys_or_an_unknown_task_is_404_and_no_key_is_401(server):
    owner, other = server.create_key()["key"], server.create_key()["key"]
    task_id = submit(server, owner)
    for suffix in ("callback", "request"):
        r = server.request("GET", f"/v1/tasks/{task_id}/{suffix}", key=other)
        assert r.status_code == 404 and r.json()["error"]["code"] == "task_not_found", r.text
        for unknown in ("task-unified-1-nosuchta", "nonsense"):
            r = server.request("GET", f"/v1/tasks/{unknown}/{suffix}", key=owner)
            assert r.status_code == 404 and r.json()["error"]["code"] == "task_not_found", r.text
        r = server.request("GET", f"/v1/tasks/{task_id}/{suffix}", key=None)
        assert r.status_code == 401, r.text
        assert server.request("GET", f"/v1/tasks/{task_id}/{suffix}", key=owner).status_code == 200
    assert server.request("GET", "/v1/usage/daily", key=None).status_code == 401


def utc_today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def test_daily_usage_lists_every_day_and_todays_settled_credits(server):
    key = server.create_key()
    r = server.request("GET", "/v1/usage/daily", key=key["key"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["days"] == 30 and len(body["data"]) == 30, body
    dates = [datetime.date.fromisoformat(row["date"]) for row in body["data"]]
    assert all(b - a == datetime.timedelta(days=1) for a, b in zip(dates, dates[1:])), dates
    assert dates[-1] in (utc_today(), utc_today() - datetime.timedelta(days=1))
    assert all(row == {"date": row["date"], "credits": 0, "tasks": 0} for row in body["data"]), body

    task_id = submit(server, key["key"])
    assert wait_task(server, task_id, key=key["key"])["status"] == "completed"
    completed_on = utc_today()
    balance = server.request("GET", "/v1/balance", key=key["key"]).json()
    assert balance["credits_reserved"] == 0
    charged = 1_000_000 - balance["credits_available"]
    assert charged > 0
    r = server.request("GET", "/v1/usage/daily?days=3", key=key["key"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["days"] == 3 and len(body["data"]) == 3, body
    assert sum(row["credits"] for row in body["data"]) == charged, body
    assert sum(row["tasks"] for row in body["data"]) == 1, body
    if completed_on == utc_today():  # not across midnight: today is the last row
        assert body["data"][-1] == {"date": completed_on.isoformat(), "credits": charged, "tasks": 1}, body

    # a cancelled task is refunded, not usage (unless the sandbox completed it first); another key's usage
    # is its own
    other = server.create_key()["key"]
    cancelled = submit(server, key["key"], duration=12)
    server.request("POST", f"/v1/tasks/{cancelled}/cancel", key=key["key"])
    completed = 1 + (wait_task(server, cancelled, key=key["key"])["status"] == "completed")
    balance = server.request("GET", "/v1/balance", key=key["key"]).json()
    again = server.request("GET", "/v1/usage/daily?days=3", key=key["key"]).json()
    assert sum(row["credits"] for row in again["data"]) == 1_000_000 - balance["credits_available"], again
    assert sum(row["tasks"] for row in again["data"]) == completed, again
    assert all(row["credits"] == 0 for row in server.request("GET", "/v1/usage/daily", key=other).json()["data"])


@pytest.mark.parametrize("days", ["0", "91", "-1", "abc", "", "3x", "1" * 20])
def test_days_outside_1_to_90_are_422(server, days):
    r = server.request("GET", f"/v1/usage/daily?days={days}")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "out_of_range" and error["param"] == "days", error


@pytest.mark.parametrize("days", [1, 90])
def test_days_at_the_bounds_are_listed(server, days):
    r = server.request("GET", f"/v1/usage/daily?days={days}")
    assert r.status_code == 200, r.text
    assert r.json()["days"] == days and len(r.json()["data"]) == days
