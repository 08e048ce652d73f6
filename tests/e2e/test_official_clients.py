"""The providers' official JavaScript clients (npm @fal-ai/client and openai, pinned in
tests/clients/package.json) run against the fal and OpenAI emulators: the emulators are faithful
enough for the real clients."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "emulators"))
from fal_queue import FalQueue  # noqa: E402
from providers import OpenAIVideos  # noqa: E402


def test_official_clients_accept_the_emulators(media):
    result_file = os.path.join(media["dir"], "video2s.mp4")
    fal, openai = FalQueue(result_file, queue_seconds=0.2, run_seconds=0.3), OpenAIVideos(result_file, run_seconds=0.3)
    try:
        env = {**os.environ, "FAL_EMULATOR": fal.base_url, "OPENAI_EMULATOR": openai.base_url,
               "MEDIA_FILE": result_file, "NO_COLOR": "1"}
        run = subprocess.run(["node", "--test", "official_clients.test.mjs"], cwd=os.path.join(REPO, "tests", "clients"),
                             env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "# pass 2" in run.stdout and "# fail 0" in run.stdout, run.stdout
        # the emulators saw what the clients sent: one job each, the SDK's multipart body understood
        assert fal.stats()["jobs_created"] == 1 and fal.stats()["results"] >= 1
        job = next(iter(openai.stats()["jobs"].values()))
        assert job["input"]["model"] == "sora-2" and job["input"]["seconds"] == "8"
    finally:
        fal.stop()
        openai.stop()
