#!/bin/sh
# e2e: tessera tags on a dataset of real captions: KEY.tags.json members
# whose spans hold (caption[char span] == text, token spans against the
# tokenizer), the catalog's tags table equal to the members, stats that add
# up, in-place rewrite killed and resumed, tags extract, the command line.
SUITE=tags
. tests/e2e/lib.sh
PY=$(command -v python3 || true)
VEC=$SHARED/tokenizer

dataset() {
	[ -d "$TMP/ds" ] && return 0
	mkdir -p "$TMP/in/img" && cp tests/data/sample/photos/*.jpg "$TMP/in/img/" || return 1
	# flickr8k captions (several per image, five captions per record) on the sample photos
	"$PY" - "$SHARED/data/captions/flickr8k.jsonl" "$TMP/in" <<'PYEOF' || return 1
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
imgs = sorted(os.listdir(out + "/img"))
caps = [json.loads(l)["caption"] for l in open(src)][:200]
with open(out + "/list.jsonl", "w") as f:
    for i in range(40):
        f.write(json.dumps({"image": "img/" + imgs[i % len(imgs)], "captions": caps[i * 5:i * 5 + 5]}) + "\n")
PYEOF
	"$TESSERA" ingest -q --shard-samples 16 "$TMP/in/list.jsonl" -o "$TMP/ds"
}

members_and_table() {
	dataset || return 1
	ts tags -q "$TMP/ds" -o "$TMP/tg" || return 1
	"$PY" - "$TMP/tg" "$TMP/spans.jsonl" <<'PYEOF' || return 1
import glob, json, sqlite3, sys, tarfile
d, spans = sys.argv[1], sys.argv[2]
db = sqlite3.connect(d + "/catalog.sqlite")
caps = {k: json.loads(c) for k, c in db.execute("select key, captions from samples")}
rows = {}
for r in db.execute("select key, caption, idx, lemma, text, char_start, char_end, byte_start, byte_end,"
                    " tok_start, tok_end, truncated, region from tags order by key, caption, idx"):
    rows.setdefault(r[0], []).append(r[1:])
n = 0
out = open(spans, "w")
for shard in sorted(glob.glob(d + "/shards/*.tar")):
    with tarfile.open(shard) as tf:
        for m in tf.getmembers():
            if not m.name.endswith(".tags.json"):
                continue
            key = m.name.split(".")[0]
            j = json.loads(tf.extractfile(m).read())
            assert j["key"] == key and j["weak"] is True and j["regions"][0]["region"] == 1, j
            assert len(j["captions"]) == len(caps[key]) == 5, key
            got = []
            for c in j["captions"]:
                text = caps[key][c["caption"]]
                b = text.encode()
                for i, t in enumerate(c["tags"]):
                    cs, ce = t["char"]
                    bs, be = t["bytes"]
                    assert text[cs:ce] == t["text"] == b[bs:be].decode(), (key, t)
                    assert t["region"] == 1 and t["truncated"] is False
                    got.append((c["caption"], i, t["lemma"], t["text"], cs, ce, bs, be,
                                t["tokens"][0], t["tokens"][1], 0, 1))
                    out.write(json.dumps({"text": text, "tag": t["text"], "tokens": t["tokens"]}) + "\n")
            assert got == rows.get(key, []), (key, got, rows.get(key))
            n += 1
assert n == 40, n
assert sum(len(v) for v in rows.values()) > 300
PYEOF
	# token spans: the ids at [start, end) of the caption's tokens are the
	# ids of the tag's text on its own (checked with captions tokenize)
	"$PY" -c "
import json
with open('$TMP/a.jsonl', 'w') as a, open('$TMP/b.jsonl', 'w') as b:
    for l in open('$TMP/spans.jsonl'):
        r = json.loads(l)
        a.write(json.dumps({'caption': r['text']}) + '\n')
        b.write(json.dumps({'caption': r['tag']}) + '\n')
" || return 1
	ts captions tokenize --jsonl "$TMP/a.jsonl" > "$TMP/a.ids" || return 1
	ts captions tokenize --jsonl "$TMP/b.jsonl" > "$TMP/b.ids" || return 1
	"$PY" - "$TMP/spans.jsonl" "$TMP/a.ids" "$TMP/b.ids" <<'PYEOF'
import json, sys
for s, a, b in zip(open(sys.argv[1]), open(sys.argv[2]), open(sys.argv[3])):
    t0, t1 = json.loads(s)["tokens"]
    whole, part = json.loads(a), json.loads(b)[1:-1]
    assert whole[t0:t1] == part, (s, whole, part)
PYEOF
}

stats_add_up() {
	[ -d "$TMP/tg" ] || members_and_table || return 1
	ts tags stats --json --top 5 "$TMP/tg" > "$TMP/st.json" || return 1
	"$PY" - "$TMP/tg" "$TMP/st.json" <<'PYEOF'
import json, sqlite3, sys
from collections import Counter
db = sqlite3.connect(sys.argv[1] + "/catalog.sqlite")
j = json.load(open(sys.argv[2]))
c = Counter(l for (l,) in db.execute("select lemma from tags"))
per = Counter()
for k, n in db.execute("select key, count(*) from tags group by key, caption"):
    per[n] += 1
captions = 40 * 5
per[0] = captions - sum(per.values())
assert j["captions"] == captions and j["tags"] == sum(c.values()) and j["distinct"] == len(c), j
assert [t["count"] for t in j["top"]] == [n for _, n in c.most_common(5)], j["top"]
assert j["histogram"] == {str(k): v for k, v in sorted(per.items()) if v}, (j["histogram"], per)
assert abs(j["share_0_tags"] - per[0] / captions) < 1e-9 and abs(j["share_1_tag"] - per[1] / captions) < 1e-9
PYEOF
	check $? -eq 0 || return 1
	ts tags stats "$TMP/tg" | has "top 20 tags" || return 1
	# a dataset never tagged: a clear error
	"$TESSERA" tags stats "$TMP/ds" 2> "$TMP/err"; [ $? -eq 1 ] && grep -q "no tags yet" "$TMP/err"
}

in_place() {
	dataset || return 1
	[ -d "$TMP/tg" ] || "$TESSERA" tags -q "$TMP/ds" -o "$TMP/tg" || return 1
	cp -r "$TMP/ds" "$TMP/ip" || return 1
	TESSERA_CRASH_AT=rewrite-moved:1 "$TESSERA" tags -q "$TMP/ip" 2>/dev/null
	check $? -ne 0 || return 1
	ts tags stats "$TMP/ip" > /dev/null 2>&1; check $? -eq 1 || return 1
	ts tags -q "$TMP/ip" || return 1
	for f in "$TMP/tg/shards/"*; do cmp "$f" "$TMP/ip/shards/${f##*/}" || return 1; done
	# tagging again gives the same bytes; split after tags keeps the tags
	ts tags -q "$TMP/ip" || return 1
	for f in "$TMP/tg/shards/"*; do cmp "$f" "$TMP/ip/shards/${f##*/}" || return 1; done
	ts captions split -q "$TMP/ip" || return 1
	[ "$(sqlite3 "$TMP/ip/catalog.sqlite" 'select count(*) from tags')" = \
	  "$(sqlite3 "$TMP/tg/catalog.sqlite" 'select count(*) from tags')" ] || return 1
	tar tf "$TMP/ip/shards/000000.tar" | grep -q '000000000.tags.json' &&
	tar tf "$TMP/ip/shards/000000.tar" | grep -q '000000000.short.txt'
}


scores_select_mask() {
	[ -d "$TMP/tg" ] || members_and_table || return 1
	cp -r "$TMP/tg" "$TMP/sc" || return 1
	# a mask the model "made": a region mask from tessera itself, and one of the wrong size
	ts tags mask "$TMP/sc" 000000000 "$(sqlite3 "$TMP/sc/catalog.sqlite" "select lemma from tags where key = '000000000' limit 1")" -o "$TMP/m.png" || return 1
	"$PY" - "$TMP/sc" "$TMP/scores.jsonl" "$TMP/m.png" "$TMP/small.png" <<'PYEOF' || return 1
import json, random, sqlite3, struct, sys, zlib
d, out, good, small = sys.argv[1:5]
# an 8x8 grey PNG, written by hand
raw = b"".join(b"\0" + b"\xff" * 8 for _ in range(8))
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
open(small, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
db = sqlite3.connect(d + "/catalog.sqlite")
rng = random.Random(7)
lines = []
for key, lemma in db.execute("select distinct key, lemma from tags order by key, lemma"):
    lines.append({"key": key, "tag": lemma, "score": round(rng.random(), 3)})
lines[0]["mask"] = good
lines[1]["mask"] = small
lines.append({"key": lines[2]["key"], "tag": "no-such-tag", "score": 0.9})
lines.append({"key": "999999999", "tag": "dog", "score": 0.9})
with open(out, "w") as f:
    for i, l in enumerate(lines):
        f.write(json.dumps(l) + "\n")
        if i == 5:
            f.write("{\"key\": \"000000001\", \"tag\": \"dog\"}\n")   # no score
PYEOF
	ts tags import-scores --json "$TMP/sc" "$TMP/scores.jsonl" > "$TMP/imp.json" 2> "$TMP/imp.err" || return 1
	has 'scores.jsonl:7: expected' "$TMP/imp.err" || return 1
	has "has no tag 'no-such-tag'" "$TMP/imp.err" || return 1
	has "key '999999999', which is not a sample" "$TMP/imp.err" || return 1
	has "is not a PNG the size of the image" "$TMP/imp.err" || return 1
	"$PY" - "$TMP/sc" "$TMP/scores.jsonl" "$TMP/imp.json" <<'PYEOF' || return 1
import json, sqlite3, sys, tarfile, glob
d, sc, imp = sys.argv[1:4]
db = sqlite3.connect(d + "/catalog.sqlite")
want = [json.loads(l) for l in open(sc) if '"score"' in l]
want = [w for w in want if w["tag"] != "no-such-tag" and w["key"] != "999999999"]
got = {(k, t): (s, m) for k, t, s, m in db.execute("select key, tag, score, mask from tag_scores")}
assert len(got) == len(want), (len(got), len(want))
for w in want:
    s, m = got[(w["key"], w["tag"])]
    assert s == w["score"], w
    assert (m is not None) == (w.get("mask", "").endswith("m.png")), (w, m)
j = json.load(open(imp))
assert j == {"command": "tags import-scores", "imported": len(want), "malformed_lines": 1,
             "unknown_keys": 1, "unknown_tags": 1, "bad_masks": 1}, j
names = [m.name for f in sorted(glob.glob(d + "/shards/*.tar")) for m in tarfile.open(f).getmembers()]
masks = [n for n in names if n.endswith(".tagmask.png")]
assert len(masks) == 1 and masks[0].startswith("000000000."), masks
PYEOF
	ts shards verify -q "$TMP/sc" || return 1
	# select keeps exactly the tags scored >= T, with the image, caption and masks
	ts tags select -q --threshold 0.5 "$TMP/sc" -o "$TMP/sel" || return 1
	"$PY" - "$TMP/sc" "$TMP/sel" <<'PYEOF' || return 1
import glob, json, sqlite3, sys, tarfile
src, sel = sys.argv[1:3]
a = sqlite3.connect(src + "/catalog.sqlite")
b = sqlite3.connect(sel + "/catalog.sqlite")
score = {(k, t): s for k, t, s in a.execute("select key, tag, score from tag_scores")}
want = sorted(r for r in a.execute("select key, caption, idx, lemma from tags") if score.get((r[0], r[3]), -1) >= 0.5)
got = sorted(b.execute("select key, caption, idx, lemma from tags"))
assert got == want and len(got) > 10, (len(got), len(want))
for f in sorted(glob.glob(sel + "/shards/*.tar")):
    with tarfile.open(f) as tf:
        for m in tf.getmembers():
            ext = m.name.split(".", 1)[1]
            assert ext in ("jpg", "txt", "json", "tags.json") or ext.endswith("tagmask.png"), (m.name, ext)
            if ext == "tags.json":
                j = json.loads(tf.extractfile(m).read())
                key = j["key"]
                for c in j["captions"]:
                    for t in c["tags"]:
                        assert score[(key, t["lemma"])] >= 0.5, (key, t)
PYEOF
	# a per-tag mask: the image's size, 255 over the tag's region (the whole
	# image for an ordinary one)
	"$PY" - "$TMP/m.png" "$(sqlite3 "$TMP/sc/catalog.sqlite" "select width, height from samples where key = '000000000'")" <<'PYEOF' || return 1
import sys
sys.path.insert(0, "tests/e2e")
import gray_png
data = open(sys.argv[1], "rb").read()
assert data[24] == 8 and data[25] == 0, "8-bit grey"
w, h, rows = gray_png.rows(data)
want_w, want_h = map(int, sys.argv[2].split("|"))
assert (w, h) == (want_w, want_h), (w, h, want_w, want_h)
assert all(row == b"\xff" * w for row in rows)
PYEOF
	"$TESSERA" tags mask "$TMP/sc" 000000000 no-such-tag -o "$TMP/x.png" 2>/dev/null; [ $? -eq 1 ]
}


composite_masks() {
	dataset || return 1
	ts compose -q --rate 1 --mode halves "$TMP/ds" -o "$TMP/co" || return 1
	ts compose -q --rate 1 --mode cutmix "$TMP/ds" -o "$TMP/cc" || return 1
	ts tags -q "$TMP/co" && "$TESSERA" tags -q "$TMP/cc" || return 1
	for d in "$TMP/co" "$TMP/cc"; do
	"$PY" - "$d" <<'PYEOF' || return 1
import glob, json, sys, tarfile
sys.path.insert(0, "tests/e2e")
import gray_png
d = sys.argv[1]
n = 0
for f in sorted(glob.glob(d + "/shards/*.tar")):
    with tarfile.open(f) as tf:
        m = {x.name: tf.extractfile(x).read() for x in tf.getmembers()}
    for name in m:
        if not name.endswith(".tags.json"):
            continue
        key = name.split(".")[0]
        tj, kj = json.loads(m[name]), json.loads(m[key + ".json"])
        cap = m[key + ".txt"].decode()
        assert tj["weak"] is False and tj["regions"] == kj["regions"] and tj["mask"] == key + ".mask.png"
        w, h, rows = gray_png.rows(m[key + ".mask.png"])
        assert (w, h) == (kj["width"], kj["height"]) == (224, 224)
        # every pixel: the region whose rectangle holds it (cutmix: B's box wins)
        for y in range(0, h, 7):
            for x in range(0, w, 7):
                want = 0
                for r in kj["regions"]:
                    x0, y0, x1, y1 = r["rect"]
                    inside = x0 <= x < x1 and y0 <= y < y1
                    if "minus" in r:
                        a0, b0, a1, b1 = r["minus"]
                        inside = inside and not (a0 <= x < a1 and b0 <= y < b1)
                    if inside:
                        want = r["region"]
                assert rows[y][x] == want, (key, x, y, rows[y][x], want)
        (a0, a1), (b0, b1) = kj["join"]
        for t in tj["captions"][0]["tags"]:
            bs, be = t["bytes"]
            assert t["region"] == (1 if be <= a1 else 2) and (be <= a1 or bs >= b0), (key, t)
            assert cap.encode()[bs:be].decode() == t["text"]
        n += 1
assert n == 40, n
PYEOF
	done
	# a tag's mask from the composite: 255 exactly on its source's half
	key=000000000
	lemma=$(sqlite3 "$TMP/co/catalog.sqlite" "select lemma from tags where key = '$key' and region = 2 limit 1")
	ts tags mask "$TMP/co" $key "$lemma" -o "$TMP/cm.png" || return 1
	"$PY" - "$TMP/cm.png" <<'PYEOF'
import sys
sys.path.insert(0, "tests/e2e")
import gray_png
data = open(sys.argv[1], "rb").read()
w, h, rows = gray_png.rows(data)
for r in range(h):
    row = rows[r]
    assert row == (b"\xff" * w if r >= 112 else b"\0" * w), r
PYEOF
}

# tags reads a composite's mode, regions and caption spans from its
# compositions row: every row carries KEY.json's join as join_spans, and a
# row edited by hand (regions of halves on a cutmix image) is what the
# annotation and the region map follow
composite_from_catalog() {
	dataset || return 1
	[ -d "$TMP/cr" ] || ts compose -q --rate 1 --mode cutmix "$TMP/ds" -o "$TMP/cr" || return 1
	check "$(sqlite3 "$TMP/cr/catalog.sqlite" "pragma user_version")" = 6 || return 1
	"$PY" - "$TMP/cr" <<'PYEOF' || return 1
import glob, json, sqlite3, sys, tarfile
d = sys.argv[1]
rows = {k: (r, j) for k, r, j in sqlite3.connect(d + "/catalog.sqlite").execute(
    "select key, regions, join_spans from compositions")}
n = 0
for f in sorted(glob.glob(d + "/shards/*.tar")):
    with tarfile.open(f) as tf:
        for m in tf.getmembers():
            if m.name.count(".") == 1 and m.name.endswith(".json"):
                raw = tf.extractfile(m).read().decode()
                r, j = rows[m.name.split(".")[0]]
                assert j is not None and json.loads(j) == json.loads(raw)["join"], ("join_spans", m.name, j)
                assert '"regions":' + r + ',' in raw, ("regions not KEY.json's bytes", m.name, r)
                n += 1
assert n == len(rows) == 40, ("expected 40 composites with rows", n, len(rows))
PYEOF
	rm -rf "$TMP/ce" "$TMP/cet" && cp -a "$TMP/cr" "$TMP/ce" || return 1
	sqlite3 "$TMP/ce/catalog.sqlite" "update compositions set regions = '[{\"source\":\"a\",\"region\":1,\"rect\":[0,0,224,112]},{\"source\":\"b\",\"region\":2,\"rect\":[0,112,224,224]}]' where key = '000000000'" || return 1
	ts tags -q "$TMP/ce" -o "$TMP/cet" || return 1
	"$PY" - "$TMP/cet" <<'PYEOF'
import glob, json, sys, tarfile
sys.path.insert(0, "tests/e2e")
import gray_png
d = sys.argv[1]
with tarfile.open(sorted(glob.glob(d + "/shards/*.tar"))[0]) as tf:
    m = {x.name: tf.extractfile(x).read() for x in tf.getmembers()}
tj, kj = json.loads(m["000000000.tags.json"]), json.loads(m["000000000.json"])
want = [{"source": "a", "region": 1, "rect": [0, 0, 224, 112]}, {"source": "b", "region": 2, "rect": [0, 112, 224, 224]}]
assert tj["regions"] == want, ("expected the row's regions", want, "got", tj["regions"])
assert kj["regions"] != want, "KEY.json was edited too"
data = m["000000000.mask.png"]
w, h, rows = gray_png.rows(data)
for r in range(h):
    row = rows[r]
    assert row == bytes([1 if r < 112 else 2]) * w, ("expected the row's halves in the region map", r, row[:8])
PYEOF
}

# a dataset composed before catalog version 6 (no join_spans, or NULL):
# tags reads its KEY.json instead and writes the same bytes.  A version 5
# catalog opens read-only as it is (shards verify, captions stats); tags,
# which checkpoints its input for writing, adds the column in place.
same_shards() {  # A B
	(cd "$1/shards" && ls) > "$TMP/sa" && (cd "$2/shards" && ls) > "$TMP/sb" || return 1
	cmp "$TMP/sa" "$TMP/sb" > /dev/null || { echo "shard lists differ: $(cat "$TMP/sa") vs $(cat "$TMP/sb")"; return 1; }
	for f in $(cat "$TMP/sa"); do
		cmp "$1/shards/$f" "$2/shards/$f" || return 1
	done
	for q in "select * from tags order by key, caption, idx" "select * from samples order by key"; do
		[ "$(sqlite3 "$1/catalog.sqlite" "$q")" = "$(sqlite3 "$2/catalog.sqlite" "$q")" ] ||
			{ echo "rows differ between $1 and $2: $q"; return 1; }
	done
}
composite_old_catalog() {
	dataset || return 1
	[ -d "$TMP/cr" ] || ts compose -q --rate 1 --mode cutmix "$TMP/ds" -o "$TMP/cr" || return 1
	rm -rf "$TMP/crt" && ts tags -q "$TMP/cr" -o "$TMP/crt" || return 1
	# the rewrite carries the rows over, join_spans included
	check_eq "compositions rows after tags" "$(sqlite3 "$TMP/crt/catalog.sqlite" "select * from compositions order by key")" \
		"$(sqlite3 "$TMP/cr/catalog.sqlite" "select * from compositions order by key")" || return 1
	# join_spans NULL
	rm -rf "$TMP/cn" "$TMP/cnt" && cp -a "$TMP/cr" "$TMP/cn" || return 1
	sqlite3 "$TMP/cn/catalog.sqlite" "update compositions set join_spans = null" || return 1
	ts tags -q "$TMP/cn" -o "$TMP/cnt" || return 1
	same_shards "$TMP/crt" "$TMP/cnt" || return 1
	# a version 5 catalog: no column at all
	rm -rf "$TMP/c5" "$TMP/c5t" && cp -a "$TMP/cr" "$TMP/c5" || return 1
	sqlite3 "$TMP/c5/catalog.sqlite" "alter table compositions drop column join_spans; pragma user_version = 5" || return 1
	before=$(sha256sum < "$TMP/c5/catalog.sqlite")
	ts shards verify -q "$TMP/c5" > /dev/null || return 1
	ts captions stats "$TMP/c5" > /dev/null || return 1
	check_eq "version 5 catalog after reading it" "$(sha256sum < "$TMP/c5/catalog.sqlite")" "$before" || return 1
	check "$(sqlite3 "$TMP/c5/catalog.sqlite" "pragma user_version")" = 5 || return 1
	ts tags -q "$TMP/c5" -o "$TMP/c5t" || return 1
	same_shards "$TMP/crt" "$TMP/c5t" || return 1
	check "$(sqlite3 "$TMP/c5t/catalog.sqlite" "select count(*) from compositions where join_spans is null")" = 40 || return 1
	# with -o the input is only read: still version 5, byte for byte
	check_eq "version 5 input after tags -o" "$(sha256sum < "$TMP/c5/catalog.sqlite")" "$before" || return 1
	# tags in place upgrades it: the column added, the rows kept
	ts tags -q "$TMP/c5" || return 1
	check "$(sqlite3 "$TMP/c5/catalog.sqlite" "pragma user_version")" = 6 || return 1
	check "$(sqlite3 "$TMP/c5/catalog.sqlite" "select count(*) from compositions where join_spans is null")" = 40 || return 1
	same_shards "$TMP/crt" "$TMP/c5" || return 1
	check_eq "rows after the upgrade" \
		"$(sqlite3 "$TMP/c5/catalog.sqlite" "select key, shard, mode, sources, regions, epoch, seed, path from compositions order by key")" \
		"$(sqlite3 "$TMP/cr/catalog.sqlite" "select key, shard, mode, sources, regions, epoch, seed, path from compositions order by key")"
}

extract() {
	printf 'A black dog is running through the grass .\nTwo dogs play near a fire hydrant.\nis and the of\n{"caption": "x"}\n' |
		ts tags extract > "$TMP/x.out" || return 1
	[ "$(sed -n 1p "$TMP/x.out")" = '[{"lemma":"dog","text":"dog","char":[8,11],"bytes":[8,11],"tokens":[3,4],"truncated":false},{"lemma":"grass","text":"grass","char":[35,40],"bytes":[35,40],"tokens":[8,9],"truncated":false}]' ] || { cat "$TMP/x.out"; return 1; }
	sed -n 2p "$TMP/x.out" | has '"lemma":"fire hydrant","text":"fire hydrant"' || return 1
	check "$(sed -n 3p "$TMP/x.out")" = '[]' || return 1
	printf '{"caption": "A cat on a mat"}\nnot json\n' | "$TESSERA" tags extract --jsonl > "$TMP/y.out" 2>/dev/null
	check $? -eq 1 && has '"lemma":"cat"' "$TMP/y.out"
}

# tags, import-scores and select at -j 1, 2 and 4, into -o and in place,
# on ordinary images and on cutmix composites (region maps): the same
# shards, sidecars, catalog rows (tags and tag_scores too) and warnings
same_tag_rows() {  # A B
	for q in "select * from tags order by key, caption, idx" "select * from tag_scores order by key, tag" \
		 "select name, value from meta order by name"; do
		[ "$(sqlite3 "$1/catalog.sqlite" "$q")" = "$(sqlite3 "$2/catalog.sqlite" "$q")" ] ||
			{ echo "rows differ between $1 and $2: $q"; return 1; }
	done
}
threads_same_bytes() {
	[ -f "$TMP/scores.jsonl" ] || scores_select_mask || return 1
	[ -d "$TMP/jc" ] || ts compose -q --rate 1 --mode cutmix "$TMP/ds" -o "$TMP/jc" || return 1
	for j in 1 2 4; do
		ts tags -q -j $j "$TMP/ds" -o "$TMP/j$j" || return 1
		ts tags -q --threads $j "$TMP/jc" -o "$TMP/jc$j" || return 1
		ts tags import-scores -j $j "$TMP/j$j" "$TMP/scores.jsonl" -o "$TMP/ji$j" 2> "$TMP/ji$j.err" || return 1
		sed "s|$TMP/j$j|DS|g" "$TMP/ji$j.err" > "$TMP/ji$j.msg"
		ts tags select -q -j $j --threshold 0.5 "$TMP/ji$j" -o "$TMP/js$j" || return 1
		rm -rf "$TMP/jp$j"; cp -a "$TMP/ds" "$TMP/jp$j" && ts tags -q -j $j "$TMP/jp$j" || return 1
	done
	check "$(grep -c 'warning:' "$TMP/ji1.msg")" -ge 3 || return 1
	for j in 2 4; do
		for d in j jc ji js jp; do
			same_dataset "$TMP/${d}1" "$TMP/$d$j" && same_tag_rows "$TMP/${d}1" "$TMP/$d$j" ||
				{ echo "$d at -j $j differs from -j 1"; return 1; }
		done
		cmp "$TMP/ji1.msg" "$TMP/ji$j.msg" || { echo "import-scores -j $j said other things than -j 1"; diff "$TMP/ji1.msg" "$TMP/ji$j.msg"; return 1; }
	done
	# the composites got their region maps; in place is the -o dataset
	check "$(sqlite3 "$TMP/jc4/catalog.sqlite" "select count(*) from members where name like '%.mask.png'")" -eq 40 || return 1
	same_dataset "$TMP/j1" "$TMP/jp1"
}

cli() {
	ts tags --help | has 'tessera tags stats' || return 1
	ts tags 2>/dev/null; check $? -eq 2 || return 1
	ts tags --wordnet /nonexistent "$TMP" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "wordnet-base" "$TMP/err" || return 1
	ts tags /nonexistent-dataset 2> "$TMP/err"; check $? -eq 1 || return 1
	"$TESSERA" tags --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-tags.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts"
}

if [ ! -f /usr/share/wordnet/index.noun ]; then
	skip all "WordNet not found in /usr/share/wordnet (Debian wordnet-base)"
elif [ ! -f "$VEC/bpe_simple_vocab_16e6.txt.gz" ] || [ ! -f "$SHARED/data/captions/flickr8k.jsonl" ]; then
	skip all "$SHARED not found (../shared is absent)"
elif [ -z "$PY" ]; then
	skip all "python3 not found"
else
	t members_and_table members_and_table
	t stats_add_up stats_add_up
	t in_place in_place
	t scores_select_mask scores_select_mask
	t composite_masks composite_masks
	t composite_from_catalog composite_from_catalog
	t composite_old_catalog composite_old_catalog
	t threads_same_bytes threads_same_bytes
	t extract extract
	t cli cli
fi
finish
