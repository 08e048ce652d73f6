"""Signals between nodes: two `reelay serve` nodes on one PostgreSQL database (a copy of one data folder
each) tell each other at once what changed: a key revoked or a channel disabled through the command line
is seen by both within a second; a provider webhook or a cancel that lands on the node that does not run
the task reaches the one that does; ?sync_upstream=true on either node answers with fresh state."""
import time

from conftest import wait_task
from test_upstream_fal import fal  # noqa: F401 (the emulator fixture)

# Poll scale 1: a task's first poll comes only after half its model's usual duration (≥ 30 s), so a task
# that moves sooner was moved by a signal.
SLOW_POLLS = ["--poll-scale", "1"]


def lipsync(media):
    return {"model": "lipsync-2", "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"],
            "sync_mode": "cut_off"}


def fal_cluster(cluster, emulator, sandbox=False):
    """The cluster's channels: fal-a on the emulator, first; the sandbox kept (after it) or disabled."""
    cluster.env["REELAY_FAL_JWKS_URL"] = emulator.base_url + "/.well-known/jwks.json"
    cluster.cli("channels", "add", "--provider", "fal", "--name", "fal-a", "--base-url", emulator.base_url,
                "--credential", "fal_test_key", "--models", "all", "--priority", "100")
    if not sandbox:
        cluster.cli("channels", "disable", "sandbox")


def wait_until(condition, timeout, what):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.02)


def test_a_key_revoked_from_the_command_line_is_refused_by_every_node_within_a_second(cluster):
    a, b = cluster.add_node(), cluster.add_node()
    created = a.create_key()
    for node in (a, b):  # both nodes have it cached now
        assert node.request("GET", "/v1/tasks", key=created["key"]).status_code == 200
    cluster.cli("keys", "revoke", created["id"])
    revoked_at = time.time()
    refused = set()
    while len(refused) < 2:
        for node in (a, b):
            if node.request("GET", "/v1/tasks", key=created["key"]).status_code == 401:
                refused.add(node.url)
        assert time.time() - revoked_at < 1.0, f"still accepted after 1 s by {2 - len(refused)} node(s)"
    # its limits changed elsewhere hold at once too: one request a minute, then 429 on either node
    other = a.create_key()
    for node in (a, b):
        assert node.request("GET", "/v1/tasks", key=other["key"]).status_code == 200
    cluster.cli("keys", "update", other["id"], "--rpm", "1")
    time.sleep(0.2)  # well under the caches' own lifetime: the signal did it
    answers = [node.request("GET", "/v1/tasks", key=other["key"]) for node in (a, b)]
    assert all(answer.headers.get("x-ratelimit-limit") == "1" for answer in answers), answers


def test_a_channel_disabled_from_the_command_line_is_used_by_no_node_within_a_second(cluster, fal, media):
    emulator = fal(run_seconds=0.2)
    fal_cluster(cluster, emulator, sandbox=True)
    a, b = cluster.add_node(), cluster.add_node()
    for node in (a, b):  # fal-a first: both use it
        wait_task(node, node.submit(lipsync(media)).json()["id"], timeout=30)
    assert emulator.stats()["submits"] == 2
    cluster.cli("channels", "disable", "fal-a")
    time.sleep(0.2)  # well under the runner's own re-read (900 ms): the signal did it
    tasks = [(node, node.submit(lipsync(media)).json()["id"]) for node in (a, b)]
    for node, task_id in tasks:  # the sandbox renders them
        assert wait_task(node, task_id, timeout=60)["status"] == "completed"
    assert emulator.stats()["submits"] == 2
    cluster.cli("channels", "enable", "fal-a")
    time.sleep(0.2)
    task_id = b.submit(lipsync(media)).json()["id"]
    assert wait_task(b, task_id, timeout=30)["status"] == "completed"
    assert emulator.stats()["submits"] == 3


def test_a_webhook_on_another_node_makes_the_owner_poll_at_once(cluster, fal, media):
    emulator = fal(run_seconds=0.3)
    fal_cluster(cluster, emulator)
    b = cluster.add_node(SLOW_POLLS)
    # a's webhooks are addressed to b (as behind a load balancer that picks b)
    a = cluster.add_node(SLOW_POLLS + ["--public-url", b.url], public_url=False)
    created = a.submit(lipsync(media)).json()
    started = time.time()
    task = wait_task(a, created["id"], timeout=25)
    assert task["status"] == "completed", task
    assert time.time() - started < 15  # the first poll would have come after ≥ 30 s
    (_, job), = emulator.stats()["jobs"].items()
    assert job["webhook"] == f"{b.url}/v1/upstream/fal-a/webhook?task={created['id']}"
    assert job["webhook_answers"] == [200]


def test_a_cancel_on_another_node_stops_the_task_on_its_owner(cluster, fal, media):
    emulator = fal(queue_seconds=60)
    fal_cluster(cluster, emulator)
    a, b = cluster.add_node(SLOW_POLLS), cluster.add_node(SLOW_POLLS)
    key = a.create_key()
    before = a.request("GET", "/v1/balance", key=key["key"]).json()
    task_id = a.submit(lipsync(media), key=key["key"]).json()["id"]
    wait_until(lambda: emulator.stats()["submits"] == 1, 20, "never submitted")
    cancelled = b.request("POST", f"/v1/tasks/{task_id}/cancel", key=key["key"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    # a stops following it at once and cancels the job upstream (its own next poll is ≥ 30 s away)
    wait_until(lambda: emulator.stats()["cancels"] == 1, 5, "the owner never cancelled the job")
    (_, job), = emulator.stats()["jobs"].items()
    assert job["cancelled"] is True
    for node in (a, b):
        assert node.request("GET", f"/v1/tasks/{task_id}", key=key["key"]).json()["status"] == "cancelled"
        assert node.request("GET", "/v1/balance", key=key["key"]).json() == before  # refunded


def test_sync_upstream_on_another_node_answers_fresh_state(cluster, fal, media):
    emulator = fal(queue_seconds=0.1, run_seconds=0.2)
    fal_cluster(cluster, emulator)
    # no public URL: no webhooks, only polls
    a, b = cluster.add_node(SLOW_POLLS, public_url=False), cluster.add_node(SLOW_POLLS, public_url=False)
    task_id = a.submit(lipsync(media)).json()["id"]
    time.sleep(1.5)  # done upstream; a's own first poll is ≥ 30 s away
    assert b.request("GET", f"/v1/tasks/{task_id}").json()["status"] == "processing"
    polls_before = emulator.stats()["polls"]
    asked = time.time()
    first = b.request("GET", f"/v1/tasks/{task_id}?sync_upstream=true")
    assert first.status_code == 200 and time.time() - asked < 2.5
    assert emulator.stats()["polls"] > polls_before  # a asked the provider because b was asked
    deadline = time.time() + 10
    task = first.json()
    while task["status"] != "completed":  # the result is being copied into reelay's storage
        assert time.time() < deadline, task
        task = b.request("GET", f"/v1/tasks/{task_id}?sync_upstream=true").json()
    assert task["status"] == "completed"
