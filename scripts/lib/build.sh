#!/usr/bin/env bash
# Builds the whole tree from source (mvn package, tests skipped), showing a line per module; the full log is
# target/build.log. bin/vswitch and bin/vswitchctl run it when the build tree has no jar yet.
# Usage: scripts/lib/build.sh NAME     (NAME: who asks, for the first line)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
echo "${1:-vswitch}: first run, building (mvn package, tests skipped; about a minute)..." >&2
mkdir -p "$root/target"
log="$root/target/build.log"
# Debian's Maven prints colour resets even in batch mode: strip every escape sequence so logs stay plain text.
if ! (cd "$root" && mvn -B -ntp -DskipTests package 2>&1) | sed -u 's/\x1b\[[0-9;]*[A-Za-z]//g' | tee "$log" \
     | awk -f "$root/scripts/lib/test-progress.awk" >&2 || ! grep -q 'BUILD SUCCESS' "$log"; then
  echo "${1:-vswitch}: build failed; full log: $log" >&2
  exit 1
fi
