#!/usr/bin/env bash
# Installs, from Debian's packages, every program the test suite (and, with --bench, the benchmark harness) runs.
# Idempotent: packages already installed are left alone, and nothing is fetched when all are present.
# Usage: scripts/install-deps.sh [--bench]        as root, on Debian 12 (bookworm)
#
# The package list is the single source of truth: scripts/preflight.sh names the package of each program it checks
# from the same pairs (scripts/lib/deps.sh). A package is listed for what it provides, not what it recommends:
# everything is installed with --no-install-recommends, so a program that comes only as a recommendation is missing
# on a fresh machine (Debian's `dpdk` package, for one, has no dpdk-testpmd: that lives in `dpdk-dev`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/deps.sh
. "$here/lib/deps.sh"

with_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) with_bench=1 ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown argument '$arg' (usage: install-deps.sh [--bench])" >&2; exit 2 ;;
  esac
done

packages=("${SUITE_PACKAGES[@]}")
[ "$with_bench" = 1 ] && packages+=("${BENCH_PACKAGES[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX.log")"
# A fresh machine's package lists are empty; update once, then install. The output goes to a log and only its
# tail is shown when apt fails, so a normal run prints one line.
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "install-deps: apt-get failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
echo "install-deps: installed ${#missing[@]} package(s)"
