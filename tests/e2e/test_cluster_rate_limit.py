"""A key's requests-per-minute limit across two nodes on one PostgreSQL database (api/rate_limit.h
"Across nodes"): each node counts the others' requests learned every 250 ms through the database, so
X-RateLimit-Remaining is the cluster's, and the cluster accepts the limit — never fewer — plus at most
what one node accepted that the other could not know yet (the documented tolerance)."""
import concurrent.futures
import time

from cluster import database, make_cluster  # noqa: F401 (fixtures)

LIMIT = 20
PACE = 0.6  # longer than two exchange intervals (2 × 250 ms) and a round trip: each node knows the rest


def wait_for_a_fresh_minute(needed_seconds):
    """Sleeps into the next one-minute window unless this one has needed_seconds left."""
    left = 60 - time.time() % 60
    if left < needed_seconds:
        time.sleep(left + 0.5)


def take(node, key):
    response = node.request("GET", "/v1/balance", key=key)
    assert response.status_code in (200, 429), response.text
    assert response.headers["x-ratelimit-limit"] == str(LIMIT)
    return response.status_code == 200, int(response.headers["x-ratelimit-remaining"])


def test_a_keys_rpm_holds_across_two_nodes(make_cluster, database):
    a, b = make_cluster(database, 2)
    key = a.create_key("--rpm", str(LIMIT))["key"]
    wait_for_a_fresh_minute(30)

    # sequentially alternating, paced: every node sees every earlier request, so Remaining is exact
    for i in range(1, 13):
        node = a if i % 2 else b
        accepted, remaining = take(node, key)
        assert accepted, f"request {i} refused"
        assert remaining == LIMIT - i, (i, remaining)
        time.sleep(PACE)

    # a parallel burst over both nodes: 8 left for the cluster, each node may spend them at once
    nodes = [a, b] * 20
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda node: (node is a, take(node, key)[0]), nodes))
    burst_a = sum(1 for on_a, accepted in outcomes if on_a and accepted)
    burst_b = sum(1 for on_a, accepted in outcomes if not on_a and accepted)
    total = 12 + burst_a + burst_b
    print(f"accepted {total} of a limit of {LIMIT} (burst: {burst_a} on a, {burst_b} on b)")
    # never limited early; beyond the limit only what one node accepted before the other could know
    assert total >= LIMIT
    assert total <= LIMIT + min(burst_a, burst_b)
    assert total <= LIMIT + 8  # each node knew the other's first 6

    # once the counts are exchanged, both nodes refuse and agree nothing is left
    time.sleep(PACE)
    for node in (a, b, a, b):
        accepted, remaining = take(node, key)
        assert not accepted and remaining == 0
    # another key is not affected
    assert a.request("GET", "/v1/balance").status_code == 200
