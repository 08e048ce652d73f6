"""Every error status in the documented shape, and hostile input that must never crash the server."""
import pytest
import requests


def assert_error(response, status, type_=None, code=None, param=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert isinstance(error["message"], str) and error["message"]
    if type_:
        assert error["type"] == type_
    if code:
        assert error["code"] == code
    if param:
        assert error["param"] == param
    return error


def test_missing_and_invalid_keys_get_401(server):
    body = {"model": "sora-2", "prompt": "x"}
    assert_error(server.submit(body, key=None), 401, "authentication_error")
    assert_error(server.submit(body, key="sk-not-a-real-key"), 401, "authentication_error")
    assert_error(server.request("GET", "/v1/tasks", key=""), 401, "authentication_error")
    r = server.request("GET", "/v1/tasks", key=None, headers={"Authorization": "Basic abc"})
    assert_error(r, 401, "authentication_error")
    assert_error(server.request("GET", "/v1/models", key="x" * 5000), 401, "authentication_error")


def test_malformed_json_and_content_type_get_400(server):
    post = lambda data, ctype="application/json": server.request(
        "POST", "/v1/videos/generations", data=data, headers={"Content-Type": ctype})
    assert_error(post(b"{not json"), 400, "invalid_request_error")
    assert_error(post(b""), 400, "invalid_request_error")
    assert_error(post(b'{"model": "sora-2", "prompt": "x"}', "text/plain"), 400, "invalid_request_error")
    assert_error(post(b'{"model": "sora-2", "prompt": "x"}', "application/x-www-form-urlencoded"), 400)
    assert_error(post(b"[1, 2, 3]"), 400, "invalid_request_error")
    assert_error(post(b'"just a string"'), 400)
    assert_error(post(b'{"model": "sora-2", "model": "sora-2-pro", "prompt": "x"}'), 400)
    assert_error(post(b"\xff\xfe\x00garbage"), 400)
    assert_error(post(b"[" * 100000), 400)
    r = server.request("POST", "/v1/videos/generations", data=b'{"model":"sora-2","prompt":"ok"}',
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


def test_oversized_body_gets_413(server):
    body = b'{"model": "sora-2", "prompt": "' + b"a" * (2 << 20) + b'"}'
    r = server.request("POST", "/v1/videos/generations", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 413)


@pytest.mark.parametrize("body,code,param", [
    ({"prompt": "x"}, "missing_required_field", "model"),
    ({"model": "veo-9", "prompt": "x"}, "model_not_found", "model"),
    ({"model": 7}, "invalid_type", "model"),
    ({"model": "sora-2"}, "missing_required_field", "prompt"),
    ({"model": "sora-2", "prompt": ""}, "too_short", "prompt"),
    ({"model": "sora-2", "prompt": "a" * 5001}, "too_long", "prompt"),
    ({"model": "sora-2", "prompt": "x", "duration": 9}, "invalid_value", "duration"),
    ({"model": "sora-2", "prompt": "x", "duration": "8"}, "invalid_type", "duration"),
    ({"model": "sora-2", "prompt": "x", "aspect_ratio": "4:3"}, "invalid_value", "aspect_ratio"),
    ({"model": "sora-2", "prompt": "x", "image_urls": []}, "too_few_items", "image_urls"),
    ({"model": "sora-2", "prompt": "x", "image_urls": ["http://a/1.png", "http://a/2.png"]}, "too_many_items",
     "image_urls"),
    ({"model": "sora-2", "prompt": "x", "image_urls": ["ftp://a/1.png"]}, "invalid_url", "image_urls[0]"),
    ({"model": "sora-2", "prompt": "x", "character_ids": ["a", "b", "c"]}, "too_many_items", "character_ids"),
    ({"model": "sora-2", "prompt": "x", "seed": 3}, "unknown_field", "seed"),
    ({"model": "sync-3", "video_url": "http://a/v.mp4", "audio_url": "http://a/a.wav", "temperature": 0.5},
     "unsupported_field", "temperature"),
    ({"model": "sync-3", "video_url": "http://a/v.mp4", "audio_url": "http://a/a.wav", "active_speaker": True},
     "unsupported_field", "active_speaker"),
    ({"model": "lipsync-2", "video_url": "http://a/v.mp4", "audio_url": "http://a/a.wav", "temperature": 1.5},
     "out_of_range", "temperature"),
    ({"model": "lipsync-2", "video_url": "http://a/v.mp4"}, "missing_required_field", "audio_url"),
    ({"model": "creatify-aurora", "image_url": "http://a/i.png", "audio_url": "http://a/a.wav",
      "guidance_scale": 6}, "out_of_range", "guidance_scale"),
    ({"model": "creatify-aurora", "image_url": "http://a/i.png", "audio_url": "http://a/a.wav",
      "resolution": "1080p"}, "invalid_value", "resolution"),
    ({"model": "kling-v3-motion-control", "image_url": "http://a/i.png", "video_url": "http://a/v.mp4",
      "keep_original_sound": True}, "invalid_type", "keep_original_sound"),
    ({"model": "kling-v3-motion-control", "image_url": "http://a/i.png", "video_url": "http://a/v.mp4",
      "mode": "turbo"}, "invalid_value", "mode"),
])
def test_validation_errors_name_the_field(server, body, code, param):
    error = assert_error(server.submit(body), 422, "invalid_request_error", code, param)
    assert param.split("[")[0] in error["message"]


def test_null_means_absent_for_optional_fields(server):
    r = server.submit({"model": "sora-2", "prompt": "x", "image_urls": None, "character_ids": None,
                       "duration": None})
    assert r.status_code == 200, r.text


def test_unknown_task_and_paths_get_404(server):
    assert_error(server.request("GET", "/v1/tasks/task-unified-1700000000-aaaaaaaa"), 404, "not_found")
    assert_error(server.request("GET", "/v1/tasks/not-a-task-id"), 404, "not_found")
    assert_error(server.request("GET", "/v1/tasks/" + "x" * 3000), 404, "not_found")
    assert_error(server.request("GET", "/v1/nowhere"), 404, "not_found")
    assert_error(server.request("DELETE", "/v1/tasks/task-unified-1700000000-aaaaaaaa"), 405)


def test_hostile_requests_leave_the_server_healthy(server):
    import socket
    for raw in [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"\x00" * 1000]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(raw)
            try:
                s.recv(4096)
            except OSError:
                pass
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
