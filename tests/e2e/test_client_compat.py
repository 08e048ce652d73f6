"""What third-party clients of this API send and expect (specs/client-compat.md): the billing look-ups,
the pricing list, the older sora shapes, and 401 before 404 under /v1/."""
import pytest

from test_errors import assert_error


def balance(server, key):
    return server.request("GET", "/v1/balance", key=key).json()


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_billing_lookups_show_the_credits_left(server, prefix):
    key = server.create_key()
    sub = server.request("GET", f"{prefix}/dashboard/billing/subscription", key=key["key"])
    assert sub.status_code == 200, sub.text
    body = sub.json()
    assert body == {"object": "billing_subscription", "has_payment_method": True,
                    "soft_limit_usd": 1000000, "hard_limit_usd": 1000000, "system_hard_limit_usd": 1000000,
                    "access_until": 0}
    usage = server.request("GET", f"{prefix}/dashboard/billing/usage?start_date=2024-01-01&end_date=2024-02-01",
                           key=key["key"])
    assert usage.status_code == 200 and usage.json() == {"object": "list", "total_usage": 0}
    # a reservation in flight: remaining = hard_limit_usd − total_usage / 100 = credits_available
    created = server.submit({"model": "sora-2", "prompt": "x", "duration": 8}, key=key["key"])
    assert created.status_code == 200, created.text
    hard = server.request("GET", f"{prefix}/dashboard/billing/subscription", key=key["key"]).json()["hard_limit_usd"]
    used = server.request("GET", f"{prefix}/dashboard/billing/usage", key=key["key"]).json()["total_usage"]
    now = balance(server, key["key"])
    assert hard - used / 100 == now["credits_available"]
    assert hard == now["credits_available"] + now["credits_reserved"]


@pytest.mark.parametrize("path", ["/dashboard/billing/subscription", "/v1/dashboard/billing/usage"])
def test_billing_lookups_need_a_key(server, path):
    assert_error(server.request("GET", path, key=None), 401, "authentication_error")
    assert_error(server.request("GET", path, key="sk-wrong"), 401, "authentication_error")


def test_pricing_lists_every_model(server):
    r = server.request("GET", "/api/pricing", key=None)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["group_ratio"] == {"default": 1, "vip": 0.8}
    rows = {row["model_name"]: row for row in body["data"]}
    models = server.request("GET", "/v1/models").json()["data"]
    assert set(rows) == {m["id"] for m in models}
    for m in models:
        row = rows[m["id"]]
        assert {"model_name", "quota_type", "model_price", "model_ratio", "completion_ratio",
                "enable_groups"} <= set(row)
        assert row["quota_type"] == 1 and row["model_price"] == m["pricing"]["credits"]
        assert row["unit"] == m["pricing"]["unit"] and row["multipliers"] == m["pricing"]["multipliers"]
        assert sorted(row["enable_groups"]) == ["default", "vip"]
    assert rows["sora-2"]["model_price"] == 100


def test_sora_takes_delete_video_and_the_older_sora_2_pro_shape(server, media):
    key = server.create_key()
    older = {"model": "sora-2-pro", "prompt": "a fox", "size": "720x1280", "image_url": media["portrait.png"],
             "delete_video": False, "model_params": {"duration": 8, "resolution": "1080p"}}
    current = {"model": "sora-2-pro", "prompt": "a fox", "aspect_ratio": "720x1280",
               "image_urls": [media["portrait.png"]], "delete_video": False, "duration": 8, "resolution": "1080p"}
    first = server.request("POST", "/v1/videos/generations", key=key["key"], json=older,
                           headers={"Idempotency-Key": "older-shape"})
    assert first.status_code == 200, first.text
    # the same validated parameters: the current shape replays the older shape's task
    again = server.request("POST", "/v1/videos/generations", key=key["key"], json=current,
                           headers={"Idempotency-Key": "older-shape"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    task = server.request("GET", f"/v1/tasks/{first.json()['id']}", key=key["key"]).json()
    assert task["usage"]["credits_reserved"] == 300 * 1.7 * 8
    assert_error(server.submit({"model": "sora-2", "prompt": "x", "delete_video": "no"}), 422,
                 "invalid_request_error", "invalid_type", "delete_video")
    assert_error(server.submit({"model": "sora-2", "prompt": "x", "model_params": {"duration": 4}, "duration": 8}),
                 422, "invalid_request_error", "duplicate_field", "duration")


def test_models_list_every_mapping(server):
    models = {m["id"]: m for m in server.request("GET", "/v1/models").json()["data"]}
    for sora in ("sora-2", "sora-2-pro"):
        mappings = models[sora]["mappings"]
        assert {"from": "size", "to": "aspect_ratio", "how": "alias"} in mappings
        assert {"from": "image_url", "to": "image_urls", "how": "one_item"} in mappings
        assert {"from": "model_params", "to": None, "how": "members_as_fields"} in mappings
        fields = {f["name"]: f for f in models[sora]["fields"]}
        assert fields["delete_video"]["default"] is True and fields["delete_video"]["advanced"] is False
        assert fields["image_urls"]["item_aliases"] == ["image_url"]
    assert {"from": "video", "to": "video_url", "how": "alias"} in models["lipsync-2"]["mappings"]
    # every alias a field lists is a mapping of its model, and the other way round
    for model in models.values():
        listed = {(m["from"], m["to"]) for m in model["mappings"] if m["how"] != "members_as_fields"}
        from_fields = {(a, f["name"]) for f in model["fields"] for a in f.get("aliases", []) + f.get("item_aliases", [])}
        assert listed == from_fields


@pytest.mark.parametrize("method,path", [("GET", "/v1/nowhere"), ("POST", "/v1/videos/nowhere"),
                                         ("GET", "/v1/dashboard/billing/credit_grants"), ("DELETE", "/v1/x/y/z")])
def test_under_v1_a_missing_or_bad_key_answers_401_before_404(server, method, path):
    assert_error(server.request(method, path, key=None), 401, "authentication_error")
    assert_error(server.request(method, path, key="sk-not-a-key"), 401, "authentication_error")
    assert_error(server.request(method, path), 404, "not_found")


def test_outside_v1_an_unknown_path_is_404_without_a_key(server):
    assert_error(server.request("GET", "/nowhere", key=None), 404, "not_found")
    assert_error(server.request("GET", "/v2/tasks", key=None), 404, "not_found")
