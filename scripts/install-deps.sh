#!/usr/bin/env bash
# Installs the Debian packages reelay needs to build, run and test, skipping those already present.
# Used by `make run`, `make test` and .ci/run. Needs root (or sudo) only when something is missing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libh2o-evloop-dev libssl-dev zlib1g-dev
  libcurl4-openssl-dev libjansson-dev libsqlite3-dev libsodium-dev libpq-dev
  postgresql  # the throwaway cluster of the store tests (scripts/pg-test-cluster.sh); Debian 12: 15
  libavformat-dev libavcodec-dev libavutil-dev
  ffmpeg fonts-dejavu-core
  libcmocka-dev python3-pytest python3-requests python3-cryptography
  python3-botocore  # tests/s3/sigv4_proxy.py checks every S3 request's signature with botocore's signer
  clang libclang-rt-14-dev
  clang-format-14  # pinned: scripts/check-format.sh runs this version (another formats differently)
  universal-ctags
  chromium  # the console's browser tests (tests/browser, driven by playwright-core: no browser download)
)
if [ "${1:-}" = "--bench" ]; then packages+=(wrk nginx-light linux-perf); fi
# Node.js runs the providers' official clients in the tests; any node ≥ 18 will do (Debian's, or one
# already installed from elsewhere).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
