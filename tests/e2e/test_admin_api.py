"""The admin API under /admin/v1/ (README "Admin API"): the admin token `reelay init --json` returns,
what a missing, wrong or user's token gets, every route, and that changes reach the running server
(a created key works, a revoked one stops, a disabled channel is not used, a rotated token is refused)
without a secret reaching the log. The last test runs two nodes on PostgreSQL (scripts/pg-test-cluster.sh
run)."""
import json
import time

import requests

from conftest import wait_task

FAL_KEY = "fal_live_0123456789abcdef0123456789"
BODY = {"model": "sora-2", "prompt": "a lighthouse at dusk"}


def admin(server, method, path, token="admin", **kw):
    """A request to the admin API with the server's admin token (token=None: no header)."""
    headers = kw.pop("headers", {})
    if token == "admin":
        token = server.admin_token
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, server.url + path, headers=headers, timeout=30, **kw)


def error_of(response, status, code):
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) == {"message", "type", "code", "param"}
    return error


def until(predicate, seconds=5.0):
    deadline = time.time() + seconds
    while not predicate():
        assert time.time() < deadline, "never happened"
        time.sleep(0.1)


def test_the_token_and_who_may_use_the_admin_api(make_server):
    server = make_server()
    assert server.admin_token.startswith("rla_") and not server.admin_token.startswith("sk-")
    assert len(server.admin_token) > 40
    # a second init makes no token (and prints none)
    again = server.cli("init", "--json")
    assert again.stdout.strip() == "{}" and "rla_" not in server.cli("init").stdout
    assert admin(server, "GET", "/admin/v1/keys").status_code == 200
    for token in (None, "rla_wrong", server.admin_token + "x", "", "sk-nothing"):
        response = admin(server, "GET", "/admin/v1/keys", token=token)
        error = error_of(response, 401, "invalid_api_key")
        assert error["type"] == "authentication_error" and response.headers["WWW-Authenticate"] == "Bearer"
    malformed = requests.get(server.url + "/admin/v1/keys", headers={"Authorization": "Basic abc"}, timeout=10)
    error_of(malformed, 401, "invalid_api_key")
    # a user's key is known but never served here
    for path in ("/admin/v1/keys", "/admin/v1/channels", "/admin/v1/tasks/summary"):
        error_of(admin(server, "GET", path, token=server.key), 403, "forbidden")
    error_of(admin(server, "POST", "/admin/v1/keys", token=server.key, json={"credits": 5}), 403, "forbidden")
    # and the admin token is not a user key
    for path in ("/v1/tasks", "/v1/balance"):
        error_of(admin(server, "GET", path), 401, "invalid_api_key")
    # admin requests are not rate limited (a limited user key would be refused after 2)
    for _ in range(30):
        assert admin(server, "GET", "/admin/v1/credits/audit").status_code == 200


def test_keys_and_credits(make_server):
    server = make_server()
    made = admin(server, "POST", "/admin/v1/keys",
                 json={"name": "team a", "credits": 700, "group": "default", "rpm": 50, "max_concurrent": 3})
    assert made.status_code == 201, made.text
    key = made.json()
    assert set(key) == {"id", "key", "webhook_secret", "credits", "user_group"}  # as `keys create --json`
    assert key["key"].startswith("sk-") and key["webhook_secret"].startswith("whsec_") and key["credits"] == 700
    balance = server.request("GET", "/v1/balance", key=key["key"])
    assert balance.status_code == 200 and balance.json()["credits_available"] == 700

    listed = admin(server, "GET", "/admin/v1/keys")
    assert listed.status_code == 200 and key["key"] not in listed.text and server.key not in listed.text
    mine = {k["id"]: k for k in listed.json()["data"]}[key["id"]]
    assert (mine["name"], mine["rpm"], mine["max_concurrent"], mine["revoked"]) == ("team a", 50, 3, False)

    updated = admin(server, "PATCH", f"/admin/v1/keys/{key['id']}", json={"rpm": 7, "group": "vip"})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["rpm"], updated.json()["user_group"], updated.json()["max_concurrent"]) == (7, "vip", 3)
    error_of(admin(server, "PATCH", f"/admin/v1/keys/{key['id']}", json={"name": "x"}), 422, "unsupported_field")

    granted = admin(server, "POST", f"/admin/v1/keys/{key['id']}/credits", json={"amount": 300, "note": "top up"})
    assert granted.status_code == 200, granted.text
    assert granted.json()["credits_available"] == 1000 and granted.json()["ledger"][-1]["note"] == "top up"
    taken = admin(server, "POST", f"/admin/v1/keys/{key['id']}/credits", json={"amount": -400})
    assert taken.json()["credits_available"] == 600
    too_much = admin(server, "POST", f"/admin/v1/keys/{key['id']}/credits", json={"amount": -601})
    assert "fewer than 601" in error_of(too_much, 409, "not_enough_credits")["message"]
    error_of(admin(server, "POST", f"/admin/v1/keys/{key['id']}/credits", json={"amount": 0}), 422, "out_of_range")
    error_of(admin(server, "POST", f"/admin/v1/keys/{key['id']}/credits", json={}), 422, "missing_required_field")
    shown = admin(server, "GET", f"/admin/v1/keys/{key['id']}/credits?limit=2")
    assert shown.status_code == 200 and len(shown.json()["ledger"]) == 2
    assert [e["amount"] for e in shown.json()["ledger"]] == [300, -400]
    assert len(admin(server, "GET", f"/admin/v1/keys/{key['id']}/credits").json()["ledger"]) == 3
    error_of(admin(server, "GET", f"/admin/v1/keys/{key['id']}/credits?limit=-1"), 422, "out_of_range")
    error_of(admin(server, "GET", "/admin/v1/keys/key_nobody/credits"), 404, "key_not_found")
    audit = admin(server, "GET", "/admin/v1/credits/audit")
    assert audit.status_code == 200 and audit.json()["ok"] is True and audit.json()["keys_checked"] == 2

    revoked = admin(server, "POST", f"/admin/v1/keys/{key['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    until(lambda: server.request("GET", "/v1/balance", key=key["key"]).status_code == 401)
    error_of(admin(server, "POST", "/admin/v1/keys/key_nobody/revoke"), 404, "key_not_found")
    error_of(admin(server, "PATCH", "/admin/v1/keys/..%2F..", json={}), 404, "key_not_found")


def test_hostile_bodies_are_refused(make_server):
    server = make_server()
    before = admin(server, "GET", "/admin/v1/keys").json()
    cases = [
        ({"credits": "5"}, 422, "invalid_type"),
        ({"credits": -1}, 422, "out_of_range"),
        ({"credits": 10 ** 16}, 422, "out_of_range"),
        ({"rpm": -1}, 422, "out_of_range"),
        ({"group": "no spaces allowed"}, 422, "invalid_value"),
        ({"name": "line\nbreak"}, 422, "invalid_value"),
        ({"name": "nul\u0000inside"}, 400, "invalid_json"),  # the parser refuses NUL in strings
        ({"name": "x" * 64}, 422, "invalid_value"),
        ({"is_admin": True}, 422, "unknown_field"),
    ]
    for body, status, code in cases:
        error_of(admin(server, "POST", "/admin/v1/keys", json=body), status, code)
    error_of(admin(server, "POST", "/admin/v1/keys", data="{not json", headers={"Content-Type": "application/json"}),
             400, "invalid_json")
    error_of(admin(server, "POST", "/admin/v1/keys", data="[]", headers={"Content-Type": "application/json"}), 400,
             "invalid_json")
    assert admin(server, "GET", "/admin/v1/keys").json() == before
    channel = {"provider": "fal", "name": "f", "credential": FAL_KEY, "models": "all"}
    channel_cases = [
        ({**channel, "provider": "nope"}, "invalid_value", "provider"),
        ({**channel, "name": "bad name"}, "invalid_value", "name"),
        ({**channel, "credential": "has space"}, "invalid_value", "credential"),
        ({**channel, "models": "gpt-9"}, "invalid_value", "models"),
        ({**channel, "base_url": "https://user:pw@example.com"}, "invalid_url", "base_url"),
        ({**channel, "base_url": "ftp://example.com"}, "invalid_url", "base_url"),
        ({**channel, "weight": 0}, "out_of_range", "weight"),
        ({**channel, "priority": 2 ** 40}, "out_of_range", "priority"),
        ({**channel, "enabled": "yes"}, "invalid_type", "enabled"),
        ({key: value for key, value in channel.items() if key != "credential"}, "missing_required_field",
         "credential"),
    ]
    for body, code, param in channel_cases:
        assert error_of(admin(server, "POST", "/admin/v1/channels", json=body), 422, code)["param"] == param
    error_of(admin(server, "POST", "/admin/v1/channels", json={**channel, "name": "sandbox"}), 409, "channel_exists")
    assert [c["name"] for c in admin(server, "GET", "/admin/v1/channels").json()["data"]] == ["sandbox"]


def test_channels_health_and_summary(make_server, media):
    server = make_server()
    added = admin(server, "POST", "/admin/v1/channels",
                  json={"provider": "fal", "name": "fal-main", "credential": FAL_KEY, "models": "sora-2,sora-2-pro",
                        "priority": -10, "weight": 2, "max_concurrent": 5, "webhook_secret": "hook-secret-123",
                        "enabled": False})
    assert added.status_code == 201, added.text
    channel = added.json()
    assert channel["credential"] == FAL_KEY[:4] + "…" + FAL_KEY[-4:] and channel["webhook_secret"] is True
    assert (channel["models"], channel["priority"], channel["weight"], channel["enabled"]) == (
        "sora-2,sora-2-pro", -10, 2, False)
    listed = admin(server, "GET", "/admin/v1/channels")
    assert FAL_KEY not in listed.text and "hook-secret-123" not in listed.text
    # masked exactly as `channels list` masks
    cli = {c["name"]: c for c in json.loads(server.cli("channels", "list", "--json").stdout)}
    assert {c["name"]: c for c in listed.json()["data"]} == cli
    patched = admin(server, "PATCH", "/admin/v1/channels/fal-main",
                    json={"base_url": "http://127.0.0.1:9/", "models": "all", "webhook_secret": ""})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["base_url"], patched.json()["models"], patched.json()["webhook_secret"]) == (
        "http://127.0.0.1:9", "all", False)
    error_of(admin(server, "PATCH", "/admin/v1/channels/fal-main", json={"provider": "sync"}), 422,
             "unknown_field")
    error_of(admin(server, "PATCH", "/admin/v1/channels/nope", json={"weight": 2}), 404, "channel_not_found")
    assert admin(server, "POST", "/admin/v1/channels/fal-main/enable").json()["enabled"] is True
    assert admin(server, "DELETE", "/admin/v1/channels/fal-main").json() == {"name": "fal-main", "deleted": True}
    error_of(admin(server, "DELETE", "/admin/v1/channels/fal-main"), 404, "channel_not_found")

    # a task on the sandbox: the health and the summary count it
    task_id = server.submit(BODY).json()["id"]
    assert wait_task(server, task_id)["status"] == "completed"
    health = admin(server, "GET", "/admin/v1/channels/health").json()
    assert health["recent_seconds"] == 3600 and "circuit" in health["node_local"]
    sandbox = {c["name"]: c for c in health["channels"]}["sandbox"]
    assert sandbox["enabled"] is True and sandbox["circuit"] == "closed" and sandbox["in_flight"] == 0
    assert sandbox["recent"]["completed"] == 1 and sandbox["recent"]["failed"] == 0
    assert sandbox["recent"]["success_rate"] == 1.0 and sandbox["recent"]["median_seconds"] >= 0
    summary = admin(server, "GET", "/admin/v1/tasks/summary").json()
    assert summary["total"] == 1 and summary["by_state"]["completed"] == 1
    assert summary["by_model"]["sora-2"] == {"total": 1, "by_state": {**summary["by_state"]}}
    assert summary["finished"] == {"last_minute": 1, "last_hour": 1}

    # disabled: no channel serves the model any more (the API sees it at once), enabled: it runs again
    assert admin(server, "POST", "/admin/v1/channels/sandbox/disable").json()["enabled"] is False
    refused = server.submit(BODY)
    assert refused.status_code == 503 and "sora-2" in refused.json()["error"]["message"]
    assert {c["name"]: c for c in admin(server, "GET", "/admin/v1/channels/health").json()["channels"]}[
        "sandbox"]["enabled"] is False
    assert admin(server, "POST", "/admin/v1/channels/sandbox/enable").json()["enabled"] is True
    assert server.submit(BODY).status_code == 200


def test_rotation_and_the_log(make_server):
    server = make_server()
    old = server.admin_token
    made = admin(server, "POST", "/admin/v1/keys", json={"credits": 5}).json()
    admin(server, "POST", "/admin/v1/channels",
          json={"provider": "fal", "name": "f", "credential": FAL_KEY, "models": "all", "webhook_secret": "whsec_abc"})
    rotated = server.cli("admin-token", "rotate", "--json")
    new = json.loads(rotated.stdout)["admin_token"]
    assert new.startswith("rla_") and new != old
    error_of(admin(server, "GET", "/admin/v1/keys", token=old), 401, "invalid_api_key")
    assert admin(server, "GET", "/admin/v1/keys", token=new).status_code == 200
    text = server.cli("admin-token", "rotate").stdout
    assert "rla_" in text and new not in text
    error_of(admin(server, "GET", "/admin/v1/keys", token=new), 401, "invalid_api_key")
    log = server.read_log()
    assert "admin change" in log and "route=admin.keys.create" in log and made["id"] in log
    assert "route=admin.channels.add" in log and "credential=(set)" in log
    for secret in (old, new, made["key"], made["webhook_secret"], FAL_KEY, "whsec_abc", server.key):
        assert secret not in log


def test_two_nodes_on_postgres(cluster):
    one, two = cluster.add_node(), cluster.add_node()
    made = admin(one, "POST", "/admin/v1/keys", json={"credits": 42})
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert two.request("GET", "/v1/balance", key=key).json()["credits_available"] == 42
    # a channel disabled through one node is not used by the other
    assert admin(one, "POST", "/admin/v1/channels/sandbox/disable").json()["enabled"] is False
    until(lambda: two.submit(BODY).status_code == 503)
    admin(two, "POST", "/admin/v1/channels/sandbox/enable")
    until(lambda: one.submit(BODY).status_code == 200)
    # a revoked key stops on both; a rotated token is refused by both at once
    admin(two, "POST", f"/admin/v1/keys/{made.json()['id']}/revoke")
    until(lambda: one.request("GET", "/v1/balance", key=key).status_code == 401)
    new = json.loads(cluster.cli("admin-token", "rotate", "--json").stdout)["admin_token"]
    for node in (one, two):
        error_of(admin(node, "GET", "/admin/v1/keys"), 401, "invalid_api_key")
        assert admin(node, "GET", "/admin/v1/tasks/summary", token=new).status_code == 200
