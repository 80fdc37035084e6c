#!/usr/bin/env bash
# Fuzzes one target of the `fuzz` preset at the lowest priority, one process:
#   tests/fuzz/run_fuzz.sh <target> [seconds=300]
# New inputs go to build-fuzz/fuzz-work/<target>/ (the committed seeds are read, not written);
# a crash is saved under build-fuzz/fuzz-artifacts/<target>/ and the log in build-fuzz/fuzz-logs/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="$1"
seconds="${2:-300}"
bin="$root/build-fuzz/tests/fuzz/fuzz_$target"
work="$root/build-fuzz/fuzz-work/$target"
art="$root/build-fuzz/fuzz-artifacts/$target"
logs="$root/build-fuzz/fuzz-logs"
mkdir -p "$work" "$art" "$logs"
[ -x "$bin" ] || { echo "no $bin: cmake --preset fuzz && cmake --build --preset fuzz" >&2; exit 2; }
# -rss_limit_mb: a parser that allocates past 2 GiB on a small input is a finding.
exec nice -n 19 "$bin" "$work" "$root/tests/fuzz/corpus/$target" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$art/" 2>&1 | tee "$logs/$target.log" | grep -E "^#[0-9]+.*(DONE|pulse)|ERROR|FINDING|SUMMARY|stat::" || true
