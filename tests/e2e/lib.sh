# tests/e2e/lib.sh - helpers for e2e scripts: `t NAME CMD...` runs one case,
# counting it passed when CMD exits 0; `skip NAME REASON`; `finish SUITE`.
# E2E_ONLY=substring (matched against SUITE.NAME) runs only those cases.
# A failing case prints what it expected and what came: `check GOT OP WANT`
# and `check_eq NAME GOT WANT` say it, and `ts ARGS...` (tessera) names
# the command and its exit status, even when the case sends its stderr
# elsewhere (fd 3 is the case's report).
: "${TESSERA:?set TESSERA}"
SHARED=${TS_SHARED:-../shared}
T_PASS=0; T_FAIL=0; T_SKIP=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
t() {
	name=$1; shift
	# E2E_ONLY=substring runs only the matching cases (like T_ONLY for units)
	case "$SUITE.$name" in *"${E2E_ONLY:-}"*) ;; *) return 0 ;; esac
	if out=$("$@" 2>&1 3>&1); then
		T_PASS=$((T_PASS + 1)); echo "ok $SUITE.$name"
	else
		T_FAIL=$((T_FAIL + 1)); echo "FAIL $SUITE.$name"; printf '%s\n' "$out" | sed 's/^/    /' | tail -n 30
	fi
}
# check GOT OP WANT: `[ GOT OP WANT ]`, and when it does not hold, what came
check() {
	[ "$1" "$2" "$3" ] && return 0
	echo "expected $2 '$3', got '$1'"
	return 1
}
# has [GREP-OPTIONS] PATTERN [FILE]: grep -q PATTERN in FILE (or stdin);
# when no line matches, says so and shows the first lines there were.
# lacks: the opposite, showing the lines that matched.
has() { _grep_expect 0 "$@"; }
lacks() { _grep_expect 1 "$@"; }
_grep_expect() {
	_neg=$1; shift; _o=
	while [ $# -gt 0 ]; do
		case $1 in --) shift; break ;; -?*) _o="$_o $1"; shift ;; *) break ;; esac
	done
	_p=$1; shift
	if [ $# -gt 0 ]; then _f=$1; _w="in $1"; else _f=$TMP/.has.$$; cat > "$_f"; _w="in the output"; fi
	# shellcheck disable=SC2086
	if grep -q $_o -- "$_p" "$_f"; then _m=0; else _m=1; fi
	[ $_m = "$_neg" ] && return 0
	if [ "$_neg" = 0 ]; then
		echo "expected a line matching '$_p' $_w; it has:"; head -n 15 "$_f" | sed 's/^/  | /'
	else
		echo "expected no line matching '$_p' $_w; these match:"; grep $_o -- "$_p" "$_f" | head -n 15 | sed 's/^/  | /'
	fi
	return 1
}
# exists -f|-d|-e|-s PATH, absent PATH: the file test, saying what was there
exists() { [ "$1" "$2" ] && return 0; echo "expected $2 to exist ($1): $(ls -ld "$2" 2>&1)"; return 1; }
absent() { [ ! -e "$1" ] && [ ! -L "$1" ] && return 0; echo "expected $1 not to exist: $(ls -ld "$1")"; return 1; }
check_eq() {  # NAME GOT WANT
	[ "$2" = "$3" ] || { echo "$1: expected '$3', got '$2'"; return 1; }
}
# ts ARGS...: "$TESSERA" ARGS...; a failure is reported with its exit status
ts() {
	"$TESSERA" "$@"
	_ts_rc=$?
	[ $_ts_rc -eq 0 ] || { echo "tessera $*: exit $_ts_rc" >&3; } 2> /dev/null
	return $_ts_rc
}
skip() { T_SKIP=$((T_SKIP + 1)); echo "SKIPPED $SUITE.$1: $2"; }
finish() { echo "$SUITE: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"; }

dump() {  # the catalog rows that must not depend on threads or crashes
	sqlite3 "$1/catalog.sqlite" \
	  "select * from samples order by key;" \
	  "select * from members order by key, name;" \
	  "select record, source, stage, reason, message from rejects order by record;" \
	  "select idx, name, samples, bytes, hash, complete, first_record, end_record from shards order by idx;"
}

same_dataset() {  # same shard files (tars and sidecars) and same catalog rows
	a=$1; b=$2
	(cd "$a/shards" && ls) > "$TMP/la" && (cd "$b/shards" && ls) > "$TMP/lb" &&
	cmp "$TMP/la" "$TMP/lb" || { echo "shard lists differ"; diff "$TMP/la" "$TMP/lb"; return 1; }
	for f in $(cat "$TMP/la"); do
		cmp "$a/shards/$f" "$b/shards/$f" || return 1
	done
	dump "$a" > "$TMP/da"; dump "$b" > "$TMP/db"
	cmp "$TMP/da" "$TMP/db" || { diff "$TMP/da" "$TMP/db" | head -20; return 1; }
}

