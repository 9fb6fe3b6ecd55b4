#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root:
#   1. scripts/install-deps.sh   installs the Debian packages the suite runs (idempotent)
#   2. scripts/preflight.sh      checks every program the suite calls; stops with one line naming what is missing
#   3. scripts/build-guest.sh    builds the tiny QEMU test guest into build/guest (cached)
#   4. mvn verify                builds and tests every module
# Output: a line per module and per test class, then a summary with every failure's cause first. The full Maven
# log is target/test-logs/maven.log and each test class's own output is in
# <module>/target/surefire-reports/<class>-output.txt. VERBOSE=1 prints everything to the terminal instead.
# Usage: scripts/test.sh [extra mvn args]      e.g. scripts/test.sh -Dtest='Testpmd*'
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
scripts/preflight.sh

# Guest kernel + initramfs for the QEMU tests (cached in build/guest, rebuilt when the scripts change).
mkdir -p target/test-logs
if ! scripts/build-guest.sh "$root/build/guest" >target/test-logs/build-guest.log 2>&1; then
  tail -n 20 target/test-logs/build-guest.log >&2
  echo "test.sh: building the test guest failed (log: target/test-logs/build-guest.log)" >&2
  exit 1
fi
echo "guest image: build/guest ($(ls build/guest | grep -cE '^(vmlinux|vmlinuz|initramfs.cpio.gz)$') files; log: target/test-logs/build-guest.log)"

if [ "${VERBOSE:-0}" = 1 ]; then
  exec mvn -B -ntp -Dsurefire.redirect=false verify "$@"
fi

# Reports of an earlier run must not be summarised as this one's.
rm -rf ./*/target/surefire-reports
log="$root/target/test-logs/maven.log"
start=$(date +%s)
set +e
mvn -B -ntp -Dstyle.color=never verify "$@" 2>&1 | tee "$log" | awk -f scripts/lib/test-progress.awk
rc=${PIPESTATUS[0]}
set -e
scripts/lib/test-summary.sh "$root" "$log" "$rc"
echo "test.sh: $(( $(date +%s) - start )) s, exit $rc"
exit "$rc"
