#!/bin/sh
# Run every e2e case on its own (E2E_ONLY=suite.case), to find cases that
# lean on state an earlier case left behind.  Prints the ones that fail
# alone; exit 1 if any did.  Usage: TESSERA=build/tessera sh tools/e2e_alone.sh [SUITE...]
: "${TESSERA:?set TESSERA to the tessera binary}"
cd "$(dirname "$0")/.." || exit 1
suites=${*:-$(for f in tests/e2e/*.sh; do b=$(basename "$f" .sh); [ "$b" = lib ] || echo "$b"; done)}
bad=0
for s in $suites; do
	# the case names the suite reported when run whole
	for c in $(sh "tests/e2e/$s.sh" 2>/dev/null | sed -n 's/^\(ok\|FAIL\) \([^ ]*\)$/\2/p'); do
		out=$(E2E_ONLY="$c" sh "tests/e2e/$s.sh" 2>&1)
		last=$(printf '%s\n' "$out" | tail -n 1)
		case $last in
		*" 0 failed,"*) ;;
		*) echo "FAIL alone: $c"; printf '%s\n' "$out" | sed 's/^/    /' | tail -n 8; bad=1 ;;
		esac
	done
done
exit $bad
