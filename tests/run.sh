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
out=$(mktemp)
# one suite: its output goes to the log; a crash or a missing closing line
# counts as a failure of that suite
suite() {
	name=$1; shift
	"$@" > "$out" 2>&1
	rc=$?
	cat "$out"
	cat "$out" >> "$log"
	if ! tail -n 1 "$out" | grep -q '^[a-z0-9_.-]*: [0-9]* passed, [0-9]* failed, [0-9]* skipped$'; then
		echo "FAIL $name: exit status $rc and no closing line"
		echo "$name: 0 passed, 1 failed, 0 skipped" | tee -a "$log"
		status=1
	elif [ $rc -ne 0 ]; then
		status=1
	fi
}
for t in ${UNIT_BINS:-"$UNIT_DIR"/test_*}; do
	[ -x "$t" ] || { echo "$t: missing"; status=1; continue; }
	suite "$(basename "$t")" "$t"
done
# E2E_SUITES="a b": only those e2e suites (make tsan)
e2e_list=tests/e2e/*.sh
[ -n "${E2E_SUITES:-}" ] && e2e_list=$(for s in $E2E_SUITES; do echo "tests/e2e/$s.sh"; done)
for t in $e2e_list; do
	[ -f "$t" ] && [ "$t" != tests/e2e/lib.sh ] || continue
	suite "$(basename "$t" .sh)" sh "$t"
	[ "$(tail -n 1 "$out" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')" = "0" ] || status=1
done
rm -f "$out"
p=0; f=0; s=0
for n in $(sed -n 's/^[a-z0-9_.-]*: \([0-9]*\) passed, [0-9]* failed, [0-9]* skipped$/\1/p' "$log"); do p=$((p + n)); done
for n in $(sed -n 's/^[a-z0-9_.-]*: [0-9]* passed, \([0-9]*\) failed, [0-9]* skipped$/\1/p' "$log"); do f=$((f + n)); done
for n in $(sed -n 's/^[a-z0-9_.-]*: [0-9]* passed, [0-9]* failed, \([0-9]*\) skipped$/\1/p' "$log"); do s=$((s + n)); done
grep '^SKIPPED' "$log" | sed 's/^/  /'
rm -f "$log"
[ "$f" -ne 0 ] && status=1
echo "$p passed, $f failed, $s skipped"
exit $status
