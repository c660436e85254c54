# tests/e2e/lib.sh - helpers for e2e scripts: `t NAME CMD...` runs one case,
# counting it passed when CMD exits 0; `skip NAME REASON`; `finish SUITE`.
: "${TESSERA:?set TESSERA}"
SHARED=${TS_SHARED:-../shared}
T_PASS=0; T_FAIL=0; T_SKIP=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
t() {
	name=$1; shift
	if out=$("$@" 2>&1); then
		T_PASS=$((T_PASS + 1)); echo "ok $SUITE.$name"
	else
		T_FAIL=$((T_FAIL + 1)); echo "FAIL $SUITE.$name"; printf '%s\n' "$out" | sed 's/^/    /' | tail -n 30
	fi
}
skip() { T_SKIP=$((T_SKIP + 1)); echo "SKIPPED $SUITE.$1: $2"; }
finish() { echo "$SUITE: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"; }
