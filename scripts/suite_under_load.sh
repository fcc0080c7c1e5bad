#!/usr/bin/env bash
# Issue 7's flakiness check: the full test suite N times in a row (default 5) while two busy
# loops keep both cores busy. Prints one line per run; exits non-zero if any run failed.
#   bash scripts/suite_under_load.sh [N]
set -u
cd "$(dirname "$0")/.."
python3 -c "while True: pass" & B1=$!
python3 -c "while True: pass" & B2=$!
trap 'kill $B1 $B2 2>/dev/null' EXIT
failed=0
for i in $(seq 1 "${1:-5}"); do
  start=$(date +%s)
  python -m pytest -q -p no:cacheprovider > "/tmp/suite-under-load-$i.log" 2>&1 || failed=1
  echo "run $i: $(grep -aE '[0-9]+ (passed|failed)' "/tmp/suite-under-load-$i.log" | tail -1)" \
       "($(( $(date +%s) - start )) s; log /tmp/suite-under-load-$i.log)"
done
exit $failed
