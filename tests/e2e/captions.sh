#!/bin/sh
# e2e: tessera captions tokenize against the reference vectors, with the
# context rule, --count, --jsonl, and its usage errors.
SUITE=captions
. tests/e2e/lib.sh
VEC=$SHARED/tokenizer
PY=$(command -v python3 || true)

vectors() {
	"$PY" - "$VEC" "$TMP" <<'PYEOF'
import json, sys
vec, tmp = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for f in ("vectors-flickr8k.jsonl", "vectors-long.jsonl") for l in open("%s/%s" % (vec, f))]
rows = [r for r in rows if "\n" not in r["text"] and "\r" not in r["text"]][:1500]
open(tmp + "/in.txt", "w").write("".join(r["text"] + "\n" for r in rows))
with open(tmp + "/in.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps({"caption": r["text"]}) + "\n")
def ctx(ids, n=77):
    t = [49406] + ids + [49407]
    if len(t) > n:
        t = t[:n]; t[-1] = 49407
    return t + [0] * (n - len(t))
open(tmp + "/want.txt", "w").write("".join(json.dumps([49406] + r["ids"] + [49407]) + "\n" for r in rows))
open(tmp + "/want77.txt", "w").write("".join(json.dumps(ctx(r["ids"])) + "\n" for r in rows))
open(tmp + "/count.txt", "w").write("".join("%d\n" % (len(r["ids"]) + 2) for r in rows))
PYEOF
	"$TESSERA" captions tokenize "$TMP/in.txt" > "$TMP/got.txt" || return 1
	cmp "$TMP/got.txt" "$TMP/want.txt" || return 1
	"$TESSERA" captions tokenize --context 77 --truncate --pad < "$TMP/in.txt" > "$TMP/got77.txt" || return 1
	cmp "$TMP/got77.txt" "$TMP/want77.txt" || return 1
	"$TESSERA" captions tokenize --count --jsonl "$TMP/in.jsonl" > "$TMP/gotc.txt" || return 1
	cmp "$TMP/gotc.txt" "$TMP/count.txt"
}

cli() {
	"$TESSERA" captions --help | grep -q 'captions tokenize' || return 1
	"$TESSERA" help captions | grep -q -- '--truncate' || return 1
	"$TESSERA" captions 2>/dev/null; [ $? -eq 2 ] || return 1
	"$TESSERA" captions frob 2>/dev/null; [ $? -eq 2 ] || return 1
	"$TESSERA" captions tokenize --context 1 /dev/null 2>/dev/null; [ $? -eq 2 ] || return 1
	"$TESSERA" captions tokenize --vocab /nonexistent.gz /dev/null 2> "$TMP/err"; [ $? -eq 1 ] || return 1
	grep -q "cannot open the CLIP vocabulary" "$TMP/err" || return 1
	printf 'ok line\n{not json\n' | "$TESSERA" captions tokenize --jsonl > /dev/null 2>&1; [ $? -eq 1 ] || return 1
	"$TESSERA" captions --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-captions.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts"
}

if [ ! -f "$VEC/bpe_simple_vocab_16e6.txt.gz" ]; then
	skip all "$VEC not found (../shared is absent)"
elif [ -z "$PY" ]; then
	skip all "python3 not found"
else
	t vectors vectors
	t cli cli
fi
finish
