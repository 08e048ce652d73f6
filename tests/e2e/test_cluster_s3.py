"""Two nodes on one PostgreSQL database and one S3 bucket (s3rver behind tests/s3/sigv4_proxy.py): a task
submitted on node A completes, and its result link — signed by A — downloads the same bytes from node B
(the nodes share link.secret) as from A, with HEAD and byte ranges served by B from the bucket."""
import hashlib

import pytest
import requests

from cluster import database  # noqa: F401 (fixture)
from conftest import Server, wait_task
from test_storage_s3 import object_key, read_back, s3_env, start_s3, stop_s3


@pytest.fixture
def s3_cluster(tmp_path, database):  # noqa: F811 (the fixture above)
    proxy, endpoint = start_s3()
    env = {**s3_env(endpoint, "cluster"), "REELAY_DATABASE_URL": database}
    nodes = []
    try:
        first = Server(str(tmp_path / "a"), env=env)
        nodes.append(first)
        nodes.append(Server(str(tmp_path / "b"), env=env, data_from=first))
        yield nodes, endpoint
    finally:
        for node in nodes:
            if node.process and node.process.poll() is None:
                node.stop()
        stop_s3(proxy)


def test_a_result_made_on_one_node_downloads_from_another(s3_cluster):
    (a, b), endpoint = s3_cluster
    task_id = a.submit({"model": "sora-2", "prompt": "two nodes"}).json()["id"]
    task = wait_task(a, task_id)
    assert task["status"] == "completed", task
    assert wait_task(b, task_id)["status"] == "completed"  # one database
    url = task["results"][0]["url"]
    assert url.startswith(a.url + "/v1/files/")
    on_b = b.url + url[len(a.url):]
    from_a = requests.get(url, timeout=30)
    from_b = requests.get(on_b, timeout=30)
    assert from_a.status_code == 200 and from_b.status_code == 200, (from_a.text, from_b.text)
    assert from_b.content == from_a.content and from_b.content[4:8] == b"ftyp"
    assert read_back(endpoint, object_key("cluster", url)) == \
        (len(from_a.content), hashlib.sha256(from_a.content).hexdigest())
    size = len(from_b.content)
    head = requests.head(on_b, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size
    assert head.headers["ETag"] == from_a.headers["ETag"] == from_b.headers["ETag"]
    part = requests.get(on_b, headers={"Range": "bytes=10-109"}, timeout=30)
    assert part.status_code == 206 and part.content == from_a.content[10:110]
    assert part.headers["Content-Range"] == f"bytes 10-109/{size}"
    tail = requests.get(on_b, headers={"Range": "bytes=-64"}, timeout=30)
    assert tail.status_code == 206 and tail.content == from_a.content[-64:]
    signature = url.split("signature=")[1]
    tampered = on_b.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    assert requests.get(tampered, timeout=10).status_code == 403
