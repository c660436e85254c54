#!/bin/sh
# e2e: every --json output is valid JSON, also when the paths in it hold
# quotes, backslashes, a newline and non-ASCII (all JSON goes through
# jansson, never printf).
SUITE=json
. tests/e2e/lib.sh
SAMPLE=tests/data/sample
PY=$(command -v python3 || true)

# a directory name that breaks hand-made JSON
Q="$TMP/q\"uo\\te
d-é"
mkdir -p "$Q" || exit 1

valid() {  # NAME FILE [KEY]: FILE holds one JSON document (or one per line) with KEY
	"$PY" - "$2" "${3:-}" <<'EOF' || { echo "$1: not valid JSON:"; head -c 600 "$2"; return 1; }
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    docs = [json.loads(text)]
except ValueError:
    docs = [json.loads(l) for l in text.splitlines() if l.strip()]
assert docs, "no output"
if sys.argv[2]:
    assert any(sys.argv[2] in json.dumps(d, ensure_ascii=False) for d in docs), "no " + sys.argv[2]
EOF
}

every_json_output() {
	ds="$Q/ds"
	ts ingest -q --json --shard-samples 8 "$SAMPLE" -o "$ds" > "$TMP/j" || return 1
	valid ingest "$TMP/j" 'd-é' || return 1
	ts compose -q --json --rate 0.5 "$ds" -o "$Q/comp" > "$TMP/j" || return 1
	valid compose "$TMP/j" 'd-é' || return 1
	ts captions split -q --json --rule longclip "$ds" -o "$Q/split" > "$TMP/j" || return 1
	valid "captions split" "$TMP/j" 'd-é' || return 1
	ts captions stats --json "$ds" > "$TMP/j" || return 1
	valid "captions stats" "$TMP/j" || return 1
	ts shards verify --json "$ds" > "$TMP/j" || return 1
	valid "shards verify" "$TMP/j" || return 1
	ts shards ls --json "$ds" > "$TMP/j" || return 1
	valid "shards ls" "$TMP/j" || return 1
	ts ingest -q --part 0/2 "$SAMPLE" -o "$Q/parts" && "$TESSERA" ingest -q --part 1/2 "$SAMPLE" -o "$Q/parts" || return 1
	ts shards merge -q --json "$Q/parts/part-00000" "$Q/parts/part-00001" -o "$Q/merged" > "$TMP/j" || return 1
	valid "shards merge" "$TMP/j" 'd-é' || return 1
	ts tags -q --json "$ds" -o "$Q/tags" > "$TMP/j" || return 1
	valid tags "$TMP/j" 'd-é' || return 1
	ts tags stats --json "$Q/tags" > "$TMP/j" || return 1
	valid "tags stats" "$TMP/j" || return 1
	(cd "$SAMPLE" && find more -name '*.jpg' | sort | head -4 | awk '{ print $0 "\tword" NR }') > "$Q/gt.txt"
	ts str ingest -q --json "$Q/gt.txt" --image-root "$SAMPLE" --store wds -o "$Q/str" > "$TMP/j" || return 1
	valid "str ingest" "$TMP/j" 'd-é'
}

if [ -z "$PY" ]; then
	skip every_json_output "python3 not found"
else
	t every_json_output every_json_output
fi
finish
