#!/usr/bin/env bash
# `make bench`: runs every benchmark script in hack/bench/ (each engineer
# adds theirs as hack/bench/<area>*.sh), one after the other, and prints a
# summary. Benchmarks print numbers; they assert nothing. The run continues
# when one fails and exits non-zero at the end if any failed.
#
# usage: hack/bench/run.sh [NAME_PATTERN]   e.g. hack/bench/run.sh 'operator*'
set -uo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
pattern=${1:-*}
failed=()
summary=()
for script in hack/bench/$pattern.sh; do
  [ -e "$script" ] || continue
  [ "$(basename "$script")" = run.sh ] && continue
  [ -x "$script" ] || { echo "bench: skipping $script (not executable)" >&2; continue; }
  echo "==== $script" >&2
  start=$(date +%s)
  if "$script"; then
    summary+=("ok     $script ($(( $(date +%s) - start ))s)")
  else
    summary+=("FAILED $script ($(( $(date +%s) - start ))s)")
    failed+=("$script")
  fi
done
echo
echo "==== benchmarks"
printf '%s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ]
