"""OpenAI's official JavaScript SDK (npm `openai`, pinned in tests/clients/package.json) against reelay's
/v1/videos on the sandbox: create (multipart, input_reference), the create-and-poll loop, retrieve, list
with auto-pagination, delete, downloadContent of each variant, remix, and the SDK's error classes for
401, 404, 422 and 429 (tests/clients/openai_videos.test.mjs)."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RPM = 5


def test_the_openai_sdk_against_reelay(make_server, media):
    server = make_server([])
    limited = server.create_key("--rpm", str(RPM))["key"]
    env = {**os.environ, "REELAY_URL": server.url, "REELAY_KEY": server.key, "REELAY_RPM_KEY": limited,
           "REELAY_RPM": str(RPM), "IMAGE_FILE": os.path.join(media["dir"], "landscape.png"),
           "VIDEO_URL": media["video2s.mp4"], "AUDIO_URL": media["audio1s.wav"], "NO_COLOR": "1"}
    run = subprocess.run(["node", "--test", "--test-concurrency=1", "openai_videos.test.mjs"],
                         cwd=os.path.join(REPO, "tests", "clients"), env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# pass 7" in run.stdout and "# fail 0" in run.stdout, run.stdout
    # the SDK's requests reached the server as what they are: its multipart creates were admitted
    videos = server.request("GET", "/v1/videos?limit=100").json()["data"]
    assert any(v["model"] == "sora-2-pro" and v["size"] == "1792x1024" for v in videos)
    assert any(v["remixed_from_video_id"] for v in videos)
