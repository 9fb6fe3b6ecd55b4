#!/usr/bin/env bash
# Summarises the surefire reports of every module after a run: each failing test first, with the cause (exception
# type and message) and where its full output is, then the counts, and last a plain "N passed, N failed" line.
# Usage: scripts/lib/test-summary.sh REPO_ROOT MAVEN_LOG MAVEN_EXIT_CODE
set -uo pipefail
root="$1"; log="$2"; mvn_rc="$3"
cd "$root" || exit 2

shopt -s nullglob
reports=(*/target/surefire-reports/TEST-*.xml)
tests=0; failed=0; errors=0; skipped=0
failures_txt=""
for xml in "${reports[@]}"; do
  # Counts from the <testsuite> element.
  read -r t f e s < <(awk 'match($0, /<testsuite [^>]*>/) {
      h = substr($0, RSTART, RLENGTH)
      split("tests failures errors skipped", k, " ")
      for (i = 1; i <= 4; i++) { v[i] = 0; if (match(h, " " k[i] "=\"[0-9]+\"")) { x = substr(h, RSTART, RLENGTH); gsub(/[^0-9]/, "", x); v[i] = x } }
      print v[1], v[2], v[3], v[4]; exit }' "$xml")
  tests=$((tests + ${t:-0})); failed=$((failed + ${f:-0})); errors=$((errors + ${e:-0})); skipped=$((skipped + ${s:-0}))
  if [ "$((${f:-0} + ${e:-0}))" -gt 0 ]; then
    module="${xml%%/*}"
    cls="$(basename "$xml" .xml)"; cls="${cls#TEST-}"
    out="$module/target/surefire-reports/$cls-output.txt"
    [ -f "$out" ] || out="(the class printed nothing)"
    failures_txt+="$(awk -v out="$out" '
      function attr(s, name,   r) { if (match(s, " " name "=\"[^\"]*\"")) { r = substr(s, RSTART + length(name) + 3, RLENGTH - length(name) - 4); return r } return "" }
      function unxml(s) { gsub(/&#10;/, " / ", s); gsub(/&quot;/, "\"", s); gsub(/&apos;/, "\047", s); gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&amp;/, "\\&", s); return s }
      /<testcase / { name = attr($0, "name"); cls = attr($0, "classname") }
      /<(failure|error)[ >]/ {
        kind = ($0 ~ /<failure/) ? "FAILED" : "ERROR "
        msg = unxml(attr($0, "message")); type = attr($0, "type")
        if (length(msg) > 400) msg = substr(msg, 1, 400) "..."
        printf "  %s %s.%s\n         %s: %s\n         output: %s\n", kind, cls, name, type, msg, out
      }' "$xml")"$'\n'
  fi
done

echo
echo "==================== summary ===================="
if [ -n "$failures_txt" ]; then
  echo "Failures (cause first; full output in the file named):"
  printf '%s' "$failures_txt"
  echo
elif [ "$mvn_rc" != 0 ]; then
  echo "The build failed outside the tests; Maven said:"
  grep -E '^\[ERROR\]' "$log" | grep -vE '^\[ERROR\] *(->|$|Re-run Maven|To see the full|For more information|\[Help)' | head -n 15 | sed 's/^/  /'
  echo
fi
echo "Modules' reports: ${#reports[@]} test classes; full Maven log: $log"
echo "Tests run: $tests, Failures: $failed, Errors: $errors, Skipped: $skipped"
echo "$((tests - failed - errors - skipped)) passed, $((failed + errors)) failed, $skipped skipped"
