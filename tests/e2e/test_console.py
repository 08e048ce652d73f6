"""The web console (/console): its headers and files as served (no browser), and the console in a real
browser (tests/browser/console.test.mjs: Debian's chromium driven by playwright-core) against a sandbox
server and a paused one. Screenshots of every flow at 390 and 1440 px go to tests/browser/artifacts/."""
import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROWSER_TESTS = os.path.join(REPO, "tests", "browser")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
FLOWS = ["sign-in-refused", "signed-in", "submit-form", "task-completed", "task-list", "validation-error",
         "cancel-pending", "cancelled", "lipsync-completed", "talking-head-completed", "motion-control-completed",
         "task-read-afresh", "balance", "operator-keys", "operator-key-created", "operator-key",
         "operator-channel-disabled", "operator-activity", "operator-new-key-user-view"]


def check_safety_headers(response):
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_console_is_served_from_the_binary(server):
    page = server.request("GET", "/console", key=None)
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache"
    check_safety_headers(page)
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    bundle = re.findall(r'(?:src|href)="(/console/assets/app-[0-9a-f]{16}\.(?:js|css))"', page.text)
    assert len(bundle) == 2, page.text  # built: `make deps` installs the console's tools before the build
    for path in bundle:
        asset = server.request("GET", path, key=None)
        assert asset.status_code == 200 and len(asset.content) > 1000
        check_safety_headers(asset)
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        expected = "text/javascript" if path.endswith(".js") else "text/css"
        assert asset.headers["Content-Type"] == expected + "; charset=utf-8"
        again = server.request("GET", path, key=None, headers={"If-None-Match": asset.headers["ETag"]})
        assert again.status_code == 304 and again.content == b""
    # a single-page app: every path below /console is the page; an unknown asset is not
    for path in ("/console/", "/console/tasks/task-unified-1-x", "/console/a/b?c=d"):
        other = server.request("GET", path, key=None)
        assert other.status_code == 200 and other.text == page.text, path
        check_safety_headers(other)
    missing = server.request("GET", "/console/assets/app-0000000000000000.js", key=None)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_path"
    assert server.request("GET", "/console", key=None, headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    assert server.request("POST", "/console", key=None).status_code == 405
    assert server.request("GET", "/consoles", key=None).status_code == 404


def test_the_console_in_a_browser(make_server, media):
    server = make_server([])
    paused = make_server(["--engine-paused"])
    artifacts = os.path.join(BROWSER_TESTS, "artifacts")
    for flow in FLOWS:
        for width in (390, 1440):
            path = os.path.join(artifacts, f"{flow}-{width}.png")
            if os.path.exists(path):
                os.remove(path)
    env = {**os.environ, "REELAY_URL": server.url, "REELAY_KEY": server.key, "REELAY_ADMIN_TOKEN": server.admin_token,
           "REELAY_PAUSED_URL": paused.url, "REELAY_PAUSED_KEY": paused.key, "ARTIFACTS": artifacts, "NO_COLOR": "1",
           # tiny inputs on a loopback server (the servers fetch from 127.0.0.1: --fetch-allow)
           "REELAY_MEDIA_VIDEO": media["video2s.mp4"], "REELAY_MEDIA_AUDIO": media["audio3s.wav"],
           "REELAY_MEDIA_IMAGE": media["portrait.png"], "REELAY_MEDIA_DIR": media["dir"]}
    run = subprocess.run(["node", "--test", "--test-concurrency=1", "helpers.test.mjs", "console.test.mjs"],
                         cwd=BROWSER_TESTS, env=env, capture_output=True, text=True, timeout=420)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# pass 16" in run.stdout and "# fail 0" in run.stdout, run.stdout
    for flow in FLOWS:
        for width in (390, 1440):
            assert os.path.getsize(os.path.join(artifacts, f"{flow}-{width}.png")) > 1000, (flow, width)
