# Reads Maven's output and prints a progress line per module and per test class, the build's own errors
# (compilation, plugin failures), and its result. Everything else stays in the full log.
function flush_line(s) { print s; fflush() }

/^\[INFO\] Building .*\[[0-9]+\/[0-9]+\]$/ {
  flush_line(sprintf("== %s %s", $3, $NF))
  next
}
/Tests run: [0-9]+, .* -- in / {
  cls = $NF
  line = $0
  sub(/^.*Tests run: /, "", line)
  split(line, f, /, /)
  run = f[1]; failures = f[2]; errors = f[3]; skipped = f[4]
  sub(/^Failures: /, "", failures); sub(/^Errors: /, "", errors); sub(/^Skipped: /, "", skipped)
  elapsed = $0
  sub(/^.*Time elapsed: /, "", elapsed); sub(/ s.*$/, "", elapsed)
  status = (failures + errors > 0) ? "FAILED" : "ok"
  extra = (skipped > 0) ? sprintf(" (%d skipped)", skipped) : ""
  flush_line(sprintf("   %-6s %-66s %3d tests %7.1f s%s", status, cls, run, elapsed, extra))
  next
}
/^\[ERROR\] .*\.java:\[[0-9]+,[0-9]+\]/ { flush_line($0); next }
/^\[ERROR\] (COMPILATION ERROR|Failed to execute goal|The forked VM terminated|Crashed tests)/ { flush_line($0); next }
/^\[ERROR\] ExecutionException/ { flush_line($0); next }
/BUILD (SUCCESS|FAILURE)/ { flush_line($0); next }
/^\[INFO\] Total time:/ { flush_line($0); next }
