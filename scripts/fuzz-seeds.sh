#!/usr/bin/env bash
# Regenerates the fuzzers' seed corpora, fuzz/corpus/<harness>/: candidates are taken from the tests'
# own data (tests/cases/validation/*.json, the JSON and URLs quoted in tests/unit/*.c, the emulators'
# answer shapes in tests/emulators/*.py, the JSON examples of the specs) plus tiny media files made with
# ffmpeg, written in each harness's input format; then libFuzzer's -merge keeps only those that add
# coverage. Needs build-fuzz (scripts/fuzz.sh builds it). The corpus is committed; run this only to
# refresh it.   Usage: scripts/fuzz-seeds.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
candidates=$build/seed-candidates
rm -rf "$candidates"
mkdir -p "$candidates"
specs=${REELAY_SPECS:-../shared/specs}
[ -d "$specs" ] || specs=/work/shared/specs

python3 - "$candidates" "$specs" <<'PY'
import ast, glob, hashlib, json, os, re, sys

out, specs = sys.argv[1], sys.argv[2]

def save(harness, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(out, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

def c_literals(path):
    """The string literals of a C file (adjacent ones joined, simple #define'd strings expanded)."""
    text = open(path, encoding="utf-8").read()
    for name, value in re.findall(r'^#define\s+(\w+)\s+("(?:[^"\\\n]|\\.)*")\s*$', text, re.M):
        text = re.sub(r'(?<=[\s"])' + name + r'(?=[\s"])', value, text)
    found = []
    for group in re.finditer(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+', text):
        raw = "".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"', group.group(0))).encode("utf-8")
        value, i = bytearray(), 0
        while i < len(raw):
            c = raw[i]
            if c != 0x5C:
                value.append(c); i += 1; continue
            e = chr(raw[i + 1]); i += 2
            if e == "x":
                digits = re.match(rb"[0-9a-fA-F]+", raw[i:]).group(0); value.append(int(digits, 16) & 255); i += len(digits)
            elif e in "01234567":
                digits = re.match(rb"[0-7]{0,2}", raw[i:]).group(0); value.append(int(e + digits.decode(), 8)); i += len(digits)
            else:
                value += {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0"}.get(e, e.encode())
        found.append(bytes(value))
    return found

def json_objects(blobs):
    for blob in blobs:
        if blob[:1] not in (b"{", b"["):
            continue
        try:
            json.loads(blob)
        except ValueError:
            continue
        yield blob

def spec_json():
    for path in sorted(glob.glob(os.path.join(specs, "*.md"))):
        for block in re.findall(r"```json\n(.*?)```", open(path, encoding="utf-8").read(), re.S):
            try:
                yield json.dumps(json.loads(block), ensure_ascii=False).encode()
            except ValueError:
                pass

def python_dicts(path):
    """Dict displays of the emulators with constant keys; expressions become plausible constants."""
    def value(node):
        if isinstance(node, ast.Constant):
            return node.value if not isinstance(node.value, bytes) else node.value.decode("latin-1")
        if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys if k):
            return {k.value: value(v) for k, v in zip(node.keys, node.values) if k}
        if isinstance(node, (ast.List, ast.Tuple)):
            return [value(v) for v in node.elts]
        if isinstance(node, ast.JoinedStr):
            return "".join(str(v.value) if isinstance(v, ast.Constant) else "https://cdn.example/x.mp4" for v in node.values)
        return "x"
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Dict) and node.keys and all(isinstance(k, ast.Constant) for k in node.keys if k):
            try:
                yield json.dumps(value(node)).encode()
            except (TypeError, ValueError):
                pass

# catalog: validation cases and the API spec's request examples
for path in sorted(glob.glob("tests/cases/validation/*.json")):
    for case in json.load(open(path)):
        if "body" in case:
            save("fuzz_catalog_validate", json.dumps(case["body"], ensure_ascii=False))
for blob in spec_json():
    if b'"model"' in blob:
        save("fuzz_catalog_validate", blob)

# provider answers, in fuzz_upstream_responses.c's format: op, status index, shape, 3 header lines, body
STATUS = {200: 0, 201: 1, 202: 2, 400: 7, 404: 10, 409: 12, 422: 14, 429: 15, 500: 16, 503: 18}
for provider in ["fal", "sync", "kling", "openai", "creatify"]:
    bodies = set(json_objects(c_literals("tests/unit/test_upstream_%s.c" % provider)))
    bodies |= set(spec_json())
    emulator = "tests/emulators/fal_queue.py" if provider == "fal" else "tests/emulators/providers.py"
    bodies |= set(python_dicts(emulator))
    for body in bodies:
        for op, status in [(0, 200), (0, 201), (1, 200), (1, 202), (2, 200), (3, 200), (0, 400), (0, 429), (1, 404), (2, 422)]:
            save("fuzz_upstream_" + provider, bytes([op, STATUS[status], 0]) + b"\n\n\n" + body)
    save("fuzz_upstream_" + provider, bytes([0, STATUS[429], 0]) + b"120\n\n\n{}")
    save("fuzz_upstream_" + provider, bytes([1, STATUS[503], 0]) + b"Wed, 21 Oct 2026 07:28:00 GMT\n1500\n2000\n")

# multipart: the unit test's bodies under their boundary, and a typical upload
for blob in c_literals("tests/unit/test_http_multipart.c"):
    match = re.match(rb"--([^\r\n]{1,70})\r\n", blob)
    if match:
        save("fuzz_http_multipart", b"multipart/form-data; boundary=" + match.group(1) + b"\n" + blob)
    elif blob.lower().startswith(b"multipart/"):
        save("fuzz_http_multipart", blob + b"\n")
save("fuzz_http_multipart", b'multipart/form-data; boundary="----WebKitFormBoundary7MA4YWxkTrZu0gW"\n'
     b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\ninput\r\n"
     b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\n"
     b"Content-Type: audio/wav\r\n\r\nRIFF\r\n\r\n--not-it\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\nepilogue")

# URLs and allow-lists: every URL the net tests quote
urls = set()
for path in glob.glob("tests/unit/test_net_*.c") + glob.glob("tests/unit/test_upstream_*.c"):
    for blob in c_literals(path):
        if re.match(rb"(?i)https?://|ftp://|file:|//|data:", blob):
            urls.add(blob)
allow_lists = [b"", b"127.0.0.1", b"localhost, 10.0.0.0/8 ,::1", b"::ffff:10.0.0.0/104,fd00::/8,EXAMPLE.com", b"0.0.0.0/0,::/0"]
for i, url in enumerate(sorted(urls)):
    save("fuzz_net_callback_url", url + b"\n" + allow_lists[i % len(allow_lists)])
    save("fuzz_net_fetch_url", bytes([i & 1]) + url)
for address, host in [(bytes([127, 0, 0, 1]) + bytes(12), b"localhost"), (bytes([10, 1, 2, 3]) + bytes(12), b"10.1.2.3"),
                      (bytes(10) + b"\xff\xff" + bytes([192, 168, 1, 1]), b"[::ffff:192.168.1.1]"),
                      (b"\xfe\x80" + bytes(13) + b"\x01", b"[fe80::1]"), (bytes([8, 8, 8, 8]) + bytes(12), b"dns.google")]:
    for allow in allow_lists:
        save("fuzz_net_guard", address + host + b"\n" + allow)

# webhook signatures: one delivery per scheme, as the emulators send them
body = b'{"type":"video.completed","data":{"id":"video_68d7512d07848190"}}'
save("fuzz_net_webhook_verify", b"\x00whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nmsg_p5jXN8AQM9LWM0D4loKWxJek\n1700000000\n"
     b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,abc\n" + body)
save("fuzz_net_webhook_verify", b"\x01sk-sync-secret\n\n\nt=1700000000,v1=" + b"ab" * 32 + b"\n" + body)
save("fuzz_net_webhook_verify", b'\x02{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}\n'
     b"80e732af-660e-45cd-bd63-580e4f2a94cc\nuser-1\n1700000000\n" + b"cd" * 64 + b"\n" + body)

# signed links: secret (32) and expiry (8) bytes, then name, expires and signature as received
for name in [b"results/task-unified-1757165031-uyujaw3d/output.mp4", b"uploads/k1/f 1.png", b"a/../b?x=1"]:
    save("fuzz_blob_link", bytes(range(32)) + (1700086400).to_bytes(8, "big") + name + b"\n1700086400\n" + b"0f" * 32)

# base64: mode, 8 cut bytes, then text (even modes) or bytes to encode (odd modes)
save("fuzz_util_base64_stream", b"\x00" + bytes(range(1, 9)) + b"SGVsbG8sIHdvcmxkIQ==\r\n")
save("fuzz_util_base64_stream", b"\x00" + bytes(8) + b"SGVs bG8_-w\n")
save("fuzz_util_base64_stream", b"\x00" + bytes(8) + b"SGVsbG8+/w==")
save("fuzz_util_base64_stream", b"\x00" + bytes(8) + b"YQ===")
save("fuzz_util_base64_stream", b"\xc1" + bytes(range(8)) + bytes(range(256)) * 40)

# data: URL heads: media type buffer size, text
for text in [b"QUJD", b"data:image/png;base64,iVBORw0KGgo=", b"DATA:Audio/WAV;Charset=UTF-8;BASE64,UklGRg",
             b"data:;base64,", b"data:image/png,QUJD", b"data:a,b;base64,QUJD", b"data:ima\x00ge/png;base64,QUJD",
             b"data:" + b"t" * 200 + b";base64,QUJD"]:
    save("fuzz_util_data_url", bytes([128]) + text)
save("fuzz_util_data_url", bytes([4]) + b"data:video/mp4;base64,AAAA")

# JSON bodies for the streaming scan: options, 8 cut bytes, body (the unit test's bodies among others)
for path in ["tests/unit/test_util_json_scan.c"]:
    for i, blob in enumerate(b for b in c_literals(path) if b[:1] in (b"{", b" ", b"[")):
        save("fuzz_util_json_scan", bytes([0xff if i % 2 else 0x20]) + bytes((i * 7 + j * 13) & 255 for j in range(8)) + blob)
PY

# media: tiny files of each kind reelay takes (option byte: name hint << 3; a forward-only copy too)
media=$candidates/media
mkdir -p "$media" "$candidates/fuzz_media_probe_io"
lavfi() { ffmpeg -nostdin -v error -y "$@"; }
lavfi -f lavfi -i testsrc=size=32x32:rate=5 -f lavfi -i sine=frequency=440:sample_rate=8000 -t 0.4 \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 16k -shortest "$media/clip.mp4"
lavfi -i "$media/clip.mp4" -c copy -movflags +faststart "$media/clip-faststart.mp4"
lavfi -f lavfi -i sine=frequency=440:sample_rate=8000 -t 0.2 -ac 1 "$media/voice.wav"
lavfi -f lavfi -i testsrc=size=16x16 -frames:v 1 "$media/face.png"
lavfi -f lavfi -i sine=sample_rate=8000 -t 0.3 -b:a 8k "$media/song.mp3"
lavfi -f lavfi -i testsrc=size=16x16 -frames:v 1 "$media/photo.jpg"
lavfi -f lavfi -i testsrc=size=32x32:rate=5 -t 0.4 -c:v libvpx -b:v 20k "$media/clip.webm"
python3 - "$media" "$candidates/fuzz_media_probe_io" <<'PY'
import os, sys
hints = {"clip.mp4": 1, "clip-faststart.mp4": 1, "voice.wav": 2, "face.png": 3, "song.mp3": 4, "photo.jpg": 6, "clip.webm": 7}
for name, hint in hints.items():
    data = open(os.path.join(sys.argv[1], name), "rb").read()
    open(os.path.join(sys.argv[2], name), "wb").write(bytes([hint << 3, 0]) + data)
    open(os.path.join(sys.argv[2], "unsized-" + name), "wb").write(bytes([2 | 1, 0]) + data)
PY

# keep what adds coverage
for harness_dir in "$candidates"/fuzz_*; do
  harness=$(basename "$harness_dir")
  mkdir -p "fuzz/corpus/$harness"
  "$build/fuzz/$harness" -merge=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 "fuzz/corpus/$harness" "$harness_dir" \
    2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
done
