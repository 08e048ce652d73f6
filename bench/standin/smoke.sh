#!/bin/sh
# Smoke check of reelay-fal-standin: start it on a free port with a 2-second test MP4, submit with curl,
# read the JWKS, poll the status to COMPLETED, read the result, fetch the video (whole and a Range), cancel a finished
# job, and check the key is required; a receiver (webhook_receiver.py) checks the one signed webhook of the job
# (four headers, Ed25519 signature under the JWKS key, body), a cancelled job sends none and a webhook outside
# 127.0.0.1 is refused. Usage: bench/standin/smoke.sh [path/to/reelay-fal-standin]
# (default build/reelay-fal-standin). Exits non-zero with a message on the first failure.
set -eu
BIN=${1:-build/reelay-fal-standin}
WORK=$(mktemp -d)
HERE=$(dirname "$0")
PID=
RECEIVER=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    [ -n "$RECEIVER" ] && kill "$RECEIVER" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25:duration=2 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$WORK/result.mp4"
"$BIN" --media "$WORK/result.mp4" --port 0 --queue-ms 100 --run-ms 300 --user-id user_smoke \
    --report "$WORK/report" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 50); do grep -q listening "$WORK/out" && break; sleep 0.1; done
ORIGIN=$(sed -n 's/^listening on //p' "$WORK/out")
[ -n "$ORIGIN" ] || fail "no 'listening on' line: $(cat "$WORK/err")"
KEY="Authorization: Key fal_test_key"

# the webhook key must be the Python emulator's (Ed25519 from seed bytes 0..31), so reelay trusts both
curl -sf "$ORIGIN/.well-known/jwks.json" | grep -q '"x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"' || fail "jwks is not the emulator's key"

/usr/bin/python3 "$HERE/webhook_receiver.py" "$ORIGIN/.well-known/jwks.json" 1 >"$WORK/hooks" 2>"$WORK/hooks_err" &
RECEIVER=$!
for _ in $(seq 50); do grep -q receiving "$WORK/hooks" && break; sleep 0.1; done
HOOK_PORT=$(sed -n 's/^receiving on //p' "$WORK/hooks")
[ -n "$HOOK_PORT" ] || fail "webhook receiver did not start: $(cat "$WORK/hooks_err")"

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"prompt":"x"}' "$ORIGIN/fal-ai/sora-2/text-to-video")
[ "$code" = 401 ] || fail "submit without a key answered $code, not 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$KEY" -X POST -d '{}' "$ORIGIN/fal-ai/sora-2/text-to-video")
[ "$code" = 422 ] || fail "submit without prompt answered $code, not 422"

SUBMIT=$(curl -sf -H "$KEY" -H 'Content-Type: application/json' -X POST -d '{"prompt":"a cat"}' \
    "$ORIGIN/fal-ai/sora-2/text-to-video?fal_webhook=http%3A%2F%2F127.0.0.1%3A$HOOK_PORT%2Fhook%3Fx%3D1")
echo "submit: $SUBMIT"
REQUEST_ID=$(echo "$SUBMIT" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')
CANCELLED=$(curl -sf -H "$KEY" -X POST -d '{"prompt":"a dog"}' \
    "$ORIGIN/fal-ai/sora-2/text-to-video?fal_webhook=http%3A%2F%2F127.0.0.1%3A$HOOK_PORT%2Fhook")
CANCEL_URL=$(echo "$CANCELLED" | sed -n 's/.*"cancel_url":"\([^"]*\)".*/\1/p')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$KEY" -X PUT "$CANCEL_URL")
[ "$code" = 202 ] || fail "cancel of a queued job answered $code, not 202"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$KEY" -X POST -d '{"prompt":"x"}' \
    "$ORIGIN/fal-ai/sora-2/text-to-video?fal_webhook=http%3A%2F%2Fexample.com%2Fhook")
[ "$code" = 422 ] || fail "a webhook outside 127.0.0.1 answered $code, not 422"
STATUS_URL=$(echo "$SUBMIT" | sed -n 's/.*"status_url":"\([^"]*\)".*/\1/p')
RESPONSE_URL=$(echo "$SUBMIT" | sed -n 's/.*"response_url":"\([^"]*\)".*/\1/p')
echo "$SUBMIT" | grep -q '"status":"IN_QUEUE"' || fail "submit is not IN_QUEUE"
[ -n "$STATUS_URL" ] && [ -n "$RESPONSE_URL" ] || fail "submit has no status_url/response_url"

code=$(curl -s -o /dev/null -w '%{http_code}' -H "$KEY" "$RESPONSE_URL")
[ "$code" = 400 ] || fail "result while queued answered $code, not 400"
seen=
for _ in $(seq 40); do
    STATUS=$(curl -s -H "$KEY" "$STATUS_URL")
    phase=$(echo "$STATUS" | sed -n 's/.*"status":"\([A-Z_]*\)".*/\1/p')
    case " $seen " in *" $phase "*) ;; *) seen="$seen $phase"; echo "status: $STATUS" ;; esac
    [ "$phase" = COMPLETED ] && break
    sleep 0.05
done
[ "$phase" = COMPLETED ] || fail "never COMPLETED (saw$seen)"
case "$seen" in *IN_PROGRESS*) ;; *) fail "never saw IN_PROGRESS (saw$seen)" ;; esac

RESULT=$(curl -sf -H "$KEY" "$RESPONSE_URL")
echo "result: $RESULT"
VIDEO_URL=$(echo "$RESULT" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
[ -n "$VIDEO_URL" ] || fail "result has no video url"
curl -sf -o "$WORK/fetched.mp4" "$VIDEO_URL" || fail "cannot fetch $VIDEO_URL"
cmp -s "$WORK/fetched.mp4" "$WORK/result.mp4" || fail "fetched video differs from the served file"
curl -sf -r 4-11 -o "$WORK/range" -D "$WORK/range_headers" "$VIDEO_URL"
grep -qi '^HTTP/1.1 206' "$WORK/range_headers" || fail "Range request was not answered 206"
[ "$(cat "$WORK/range")" = ftyp"$(dd if="$WORK/result.mp4" bs=1 skip=8 count=4 2>/dev/null)" ] ||
    fail "Range bytes 4-11 are not the file's"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$KEY" -X PUT "${RESPONSE_URL}/cancel")
[ "$code" = 400 ] || fail "cancel of a finished job answered $code, not 400"

wait "$RECEIVER" || fail "webhook receiver failed: $(cat "$WORK/hooks_err")"
RECEIVER=
echo "webhook: $(sed -n 2p "$WORK/hooks")"
[ "$(sed -n 2p "$WORK/hooks")" = "ok $REQUEST_ID user_smoke" ] || fail "webhook not as expected: $(cat "$WORK/hooks")"
# a burst: 600 jobs finish together; at most 256 webhook connections open at once, the rest wait their turn
/usr/bin/python3 "$HERE/webhook_receiver.py" "$ORIGIN/.well-known/jwks.json" 600 >"$WORK/burst" 2>"$WORK/burst_err" &
RECEIVER=$!
for _ in $(seq 50); do grep -q receiving "$WORK/burst" && break; sleep 0.1; done
BURST_PORT=$(sed -n 's/^receiving on //p' "$WORK/burst")
[ -n "$BURST_PORT" ] || fail "burst receiver did not start: $(cat "$WORK/burst_err")"
for i in $(seq 600); do
    printf 'url = "%s/fal-ai/sora-2/text-to-video?fal_webhook=http%%3A%%2F%%2F127.0.0.1%%3A%s%%2Fhook"\n' "$ORIGIN" "$BURST_PORT"
    printf 'output = "/dev/null"\n'
done >"$WORK/burst_config"
curl -sf --parallel --parallel-max 64 -H "$KEY" -H 'Content-Type: application/json' -d '{"prompt":"burst"}' \
    -K "$WORK/burst_config" 2>"$WORK/burst_curl" || fail "burst submits failed: $(cat "$WORK/burst_curl")"
wait "$RECEIVER" || fail "burst receiver failed: $(cat "$WORK/burst_err")"
RECEIVER=
[ "$(grep -c '^ok ' "$WORK/burst")" = 600 ] || fail "burst: $(grep -vc '^ok ' "$WORK/burst") webhooks not ok"
echo "burst: 600 webhooks verified"
sleep 0.3 # past the cancelled job's deadline: a webhook for it would now fail (the receiver has stopped)
kill "$PID"
wait "$PID" || fail "stand-in exited with $?"
PID=
grep -q '^webhooks: 601 delivered, 0 failed, 0 cut short, 0 not yet due$' "$WORK/err" ||
    fail "webhook totals: $(cat "$WORK/err")"
# --report: one line per job (602); the first job's webhook went out and a status answered COMPLETED, both
# at least queue + run (400 ms) after its submit; the cancelled job sent none
[ "$(wc -l <"$WORK/report")" = 602 ] || fail "report: $(wc -l <"$WORK/report") lines, not 602"
CANCELLED_ID=$(echo "$CANCELLED" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')
awk -v id="$REQUEST_ID" -v cancelled="$CANCELLED_ID" '
    $1 == id { found = 1; if ($3 < $2 + 400 || $4 < $2 + 400 || $2 < 1600000000000) bad = "times of " id ": " $0 }
    $1 == cancelled && $3 != 0 { bad = "the cancelled job has a webhook time: " $0 }
    END { if (!found) bad = "no line for " id; if (bad) { print bad; exit 1 } }' "$WORK/report" ||
    fail "report: $(head -3 "$WORK/report")"
echo "smoke: OK ($ORIGIN)"
