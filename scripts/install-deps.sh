#!/usr/bin/env bash
# Installs the Debian packages lakepipe needs to build and test, and only the missing ones.
# Idempotent and quiet when everything is present.
# Usage: scripts/install-deps.sh [build|test|demo|bench|fuzz] (bench: test's, plus kcat for
# bench/kafka_bench.mjs's drain baseline and GNU time for peak RSS; fuzz: clang with libFuzzer and the sanitizers)
set -euo pipefail

build_pkgs=(
  cmake ninja-build g++ pkg-config make
  libgtest-dev libgmock-dev libbenchmark-dev
  libzstd-dev libsnappy-dev liblz4-dev zlib1g-dev libbrotli-dev
  libpg-query-dev libsimdjson-dev nlohmann-json3-dev libfast-float-dev
  librocksdb-dev librdkafka-dev libpq-dev libcpp-httplib-dev libssl-dev
  libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev uuid-dev tzdata
)
test_pkgs=(postgresql chromium)
bench_pkgs=(kcat time)
fuzz_pkgs=(clang libclang-rt-dev)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  test|demo) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  fuzz) want+=("${fuzz_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js may come from Debian (nodejs + npm) or from NodeSource (nodejs with npm inside,
# which conflicts with Debian's npm): ask for the commands, not the packages. Every mode
# needs them: the build embeds the dashboard's chart library from node_modules.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
