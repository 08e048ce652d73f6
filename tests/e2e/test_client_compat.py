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
