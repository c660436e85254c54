#!/bin/sh
# Run the whole suite: every unit test binary, then every e2e script.
# Each prints "<suite>: N passed, N failed, N skipped"; this adds them up and
# ends with the total on a line of its own.  Exit 1 if anything failed.
: "${TESSERA:?set TESSERA to the tessera binary}"
: "${UNIT_DIR:?set UNIT_DIR to the unit test binaries}"
export TESSERA
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
log=$(mktemp)
status=0
for t in "$UNIT_DIR"/test_*; do
	[ -x "$t" ] || continue
	"$t" 2>&1 | tee -a "$log" || status=1
done
for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	sh "$t" 2>&1 | tee -a "$log"
	[ "$(tail -n 1 "$log" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')" = "0" ] || status=1
done
p=0; f=0; s=0
for n in $(sed -n 's/^[a-z0-9_.-]*: \([0-9]*\) passed, [0-9]* failed, [0-9]* skipped$/\1/p' "$log"); do p=$((p + n)); done
for n in $(sed -n 's/^[a-z0-9_.-]*: [0-9]* passed, \([0-9]*\) failed, [0-9]* skipped$/\1/p' "$log"); do f=$((f + n)); done
for n in $(sed -n 's/^[a-z0-9_.-]*: [0-9]* passed, [0-9]* failed, \([0-9]*\) skipped$/\1/p' "$log"); do s=$((s + n)); done
grep '^SKIPPED' "$log" | sed 's/^/  /'
rm -f "$log"
[ "$f" -ne 0 ] && status=1
echo "$p passed, $f failed, $s skipped"
exit $status
