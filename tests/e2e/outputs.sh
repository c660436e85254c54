#!/bin/sh
# e2e: outputs that used to be wrong: tags select keeps KEY.json and every
# member another member names; tags select without scores is an error with
# a hint; tags mask on a mixup composite is the blend-weighted mask;
# compose's plain summary counts over-budget composites; captions tokenize
# keeps one output line per input line.
SUITE=outputs
. tests/e2e/lib.sh
PY=$(command -v python3 || true)
PHOTOS=tests/data/sample/photos

base() {  # eight photos with their captions
	[ -d "$TMP/ds" ] && return 0
	mkdir -p "$TMP/ph" && for f in $(ls "$PHOTOS"/*.txt | head -8); do cp "$f" "${f%.txt}.jpg" "$TMP/ph/"; done
	"$TESSERA" ingest -q --size 64 "$TMP/ph" -o "$TMP/ds"
}

# halves composites of base, tagged, without scores yet (kept as co0)
composed() {
	[ -d "$TMP/co0" ] && return 0
	base || return 1
	"$TESSERA" compose -q --rate 1 --mode halves "$TMP/ds" -o "$TMP/co0" && "$TESSERA" tags -q "$TMP/co0"
}

# scores for every tag of DATASET (0.9 for the first tag of a sample, 0.1
# for the rest) into DATASET/scores.jsonl
scores() {
	"$PY" - "$1" <<'PYEOF'
import json, sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect(d + "/catalog.sqlite")
seen = set()
with open(d + "/scores.jsonl", "w") as f:
    for key, lemma in db.execute("select distinct key, lemma from tags order by key, lemma"):
        f.write(json.dumps({"key": key, "tag": lemma, "score": 0.1 if key in seen else 0.9}) + "\n")
        seen.add(key)
PYEOF
}

# tags select on composites: every sample keeps KEY.json, and every member
# named by another member (KEY.tags.json's "mask") is in the shard
select_members() {
	composed && cp -r "$TMP/co0" "$TMP/co" && scores "$TMP/co" || return 1
	ts tags import-scores -q "$TMP/co" "$TMP/co/scores.jsonl" || return 1
	ts tags select -q --threshold 0.5 "$TMP/co" -o "$TMP/sel" || return 1
	ts shards verify -q "$TMP/sel" || return 1
	"$PY" - "$TMP/co" "$TMP/sel" <<'PYEOF'
import glob, json, sys, tarfile
src, sel = sys.argv[1:3]
def members(d):
    out = {}
    for f in sorted(glob.glob(d + "/shards/*.tar")):
        with tarfile.open(f) as tf:
            for m in tf.getmembers():
                k, ext = m.name.split(".", 1)
                out.setdefault(k, {})[ext] = tf.extractfile(m).read()
    return out
a, b = members(src), members(sel)
assert sorted(a) == sorted(b), "samples differ"
named = 0
for k, ms in b.items():
    assert "json" in ms, "%s: no KEY.json (members %s)" % (k, sorted(ms))
    assert ms["json"] == a[k]["json"], "%s: KEY.json changed" % k
    tj = json.loads(ms["tags.json"])
    if "mask" in tj:
        named += 1
        ext = tj["mask"].split(".", 1)[1]
        assert tj["mask"] == k + "." + ext and ext in ms, "%s: tags.json names %s, members %s" % (k, tj["mask"], sorted(ms))
assert named == len(b) and named > 5, (named, len(b))
PYEOF
}

select_no_scores() {
	composed && cp -r "$TMP/co0" "$TMP/tg" && cp -r "$TMP/co0" "$TMP/tg0" || return 1
	"$TESSERA" tags select --threshold 0.5 "$TMP/tg" -o "$TMP/tgs" 2> "$TMP/err"
	rc=$?
	[ $rc -eq 1 ] || { echo "exit $rc, want 1"; cat "$TMP/err"; return 1; }
	grep -q "error: '$TMP/tg' has no tag scores" "$TMP/err" && grep -q "hint: .*tessera tags import-scores" "$TMP/err" ||
		{ cat "$TMP/err"; return 1; }
	[ ! -e "$TMP/tgs" ] || { echo "an output was written"; return 1; }
	# the input is untouched, even for an in-place select
	ts tags select -q --threshold 0.5 "$TMP/tg" 2> /dev/null; check $? -eq 1 || return 1
	same_dataset "$TMP/tg0" "$TMP/tg"
}

# a mixup composite has no hard regions: the mask is 255 x the blend weight
# of the tag's source (lambda for A's tags, 1 - lambda for B's), uniform
mask_mixup() {
	base || return 1
	ts compose -q --rate 1 --mode mixup --seed 3 "$TMP/ds" -o "$TMP/mx" || return 1
	ts tags -q "$TMP/mx" || return 1
	key=$(sqlite3 "$TMP/mx/catalog.sqlite" "select key from tags where region = 2 intersect select key from tags where region = 1 order by key limit 1")
	[ -n "$key" ] || { echo "no composite with tags in both regions"; return 1; }
	for reg in 1 2; do
		tag=$(sqlite3 "$TMP/mx/catalog.sqlite" "select lemma from tags where key = '$key' and region = $reg and lemma not in (select lemma from tags where key = '$key' and region != $reg) limit 1")
		[ -n "$tag" ] || continue
		ts tags mask "$TMP/mx" "$key" "$tag" -o "$TMP/mx$reg.png" || return 1
		ts shards cat "$TMP/mx" "$key" --member json > "$TMP/mx.json" || return 1
		"$PY" - "$TMP/mx$reg.png" "$TMP/mx.json" $reg <<'PYEOF' || return 1
import json, sys
sys.path.insert(0, "tests/e2e")
import gray_png
data = open(sys.argv[1], "rb").read()
meta = json.load(open(sys.argv[2]))
reg = int(sys.argv[3])
w, h, rows = gray_png.rows(data)
assert (w, h) == (meta["width"], meta["height"]), (w, h)
weight = [r["weight"] for r in meta["regions"] if r["region"] == reg][0]
want = round(255 * weight)
vals = set(v for row in rows for v in row)
assert vals == {want}, "region %d weight %g: want every pixel %d, got %s" % (reg, weight, want, sorted(vals)[:5])
assert 0 < want < 255
PYEOF
	done
}

compose_over_budget() {
	base || return 1
	"$TESSERA" compose --rate 1 --max-tokens 10 --tries 2 "$TMP/ds" -o "$TMP/ob" 2> "$TMP/err" || { cat "$TMP/err"; return 1; }
	want=$("$PY" -c "
import glob, json, tarfile, sys
n = 0
for f in glob.glob('$TMP/ob/shards/*.tar'):
    with tarfile.open(f) as tf:
        for m in tf.getmembers():
            if m.name.endswith('.json') and not m.name.endswith('.tags.json'):
                n += bool(json.loads(tf.extractfile(m).read()).get('over_budget'))
print(n)")
	[ "$want" -gt 0 ] || { echo "no composite over budget"; return 1; }
	grep -q "compose done: .* $want over budget" "$TMP/err" || { echo "want $want over budget in:"; cat "$TMP/err"; return 1; }
}

# an invalid-UTF-8 line among 1,100 (over 1,024: two threads share them) keeps
# its place: output line N is input line N, empty (plain) or an error
# record (--jsonl), and every other line is what it is on its own
tokenize_lines() {
	"$PY" - "$TMP" <<'PYEOF' || return 1
import json, sys
tmp = sys.argv[1]
lines = [("A photo number %d of a cat." % i).encode() for i in range(1100)]
bad = [3, 1050, 1099]
for i in bad:
    lines[i] = b"caf\xe9 au lait"
open(tmp + "/tok.txt", "wb").write(b"".join(l + b"\n" for l in lines))
with open(tmp + "/tok.jsonl", "wb") as f:
    for i, l in enumerate(lines):
        f.write(b'{"caption": "' + l + b'"}\n')
open(tmp + "/good.txt", "wb").write(b"".join(l + b"\n" for i, l in enumerate(lines) if i not in bad))
PYEOF
	"$TESSERA" captions tokenize -j 2 "$TMP/tok.txt" > "$TMP/tok.out" 2> "$TMP/tok.err"
	[ $? -eq 1 ] || { echo "plain: exit $?, want 1"; return 1; }
	"$TESSERA" captions tokenize -j 2 --jsonl "$TMP/tok.jsonl" > "$TMP/tokj.out" 2> "$TMP/tokj.err"
	[ $? -eq 1 ] || { echo "jsonl: exit $?, want 1"; return 1; }
	ts captions tokenize "$TMP/good.txt" > "$TMP/good.out" || return 1
	[ "$(grep -c 'error: line' "$TMP/tok.err")" = 3 ] || { cat "$TMP/tok.err"; return 1; }
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
bad = [3, 1050, 1099]
good = open(tmp + "/good.out").read().split("\n")[:-1]
for name in ("tok.out", "tokj.out"):
    out = open(tmp + "/" + name).read().split("\n")
    assert out[-1] == "", name
    out = out[:-1]
    assert len(out) == 1100, "%s: %d output lines for 1100 input lines" % (name, len(out))
    g = iter(good)
    for i, l in enumerate(out):
        if i in bad:
            if name == "tok.out":
                assert l == "", (name, i, l)
            else:
                r = json.loads(l)
                assert r["line"] == i + 1 and "error" in r, (name, i, r)
        else:
            want = next(g)
            assert l == want, (name, i, l, want)
PYEOF
}

if [ -z "$PY" ]; then
	skip all "python3 not found"
else
	t select_members select_members
	t select_no_scores select_no_scores
	t mask_mixup mask_mixup
	t compose_over_budget compose_over_budget
	t tokenize_lines tokenize_lines
fi
finish
