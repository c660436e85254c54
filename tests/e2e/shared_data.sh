#!/bin/sh
# e2e on the real data in ../shared/data: every image of the shared corpus
# (about 200 files from Debian packages and image-library test suites,
# broken ones included) and the COCO val2017 pairs with their human captions.
SUITE=shared_data
. tests/e2e/lib.sh
IMAGES=$SHARED/data/images
PAIRED=$SHARED/data/paired/coco_val2017_riretta
PY=$(command -v python3 || true)

# Files whose outcome here legitimately differs from the MANIFEST's
# "decodes" column (Pillow's verdict when the corpus was made):
#  - broken_data_stream.png: its zlib stream is damaged inside the image
#    data (libspng: "invalid scanline filter"; Debian's Pillow also fails
#    with "unrecognized data stream contents"), so it is image.corrupt.
EXCEPT="pillow-tests/broken_data_stream.png"

manifest_corpus() {
	# a CSV over the whole corpus, one caption per file (from its path)
	"$PY" - "$IMAGES" "$TMP/corpus.csv" "$TMP/expect" "$EXCEPT" <<'PYEOF'
import csv, json, os, sys
images, out, expect, except_ = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
rows = [json.loads(l) for l in open(os.path.join(images, "MANIFEST.jsonl"))]
with open(out, "w", newline="") as f, open(expect, "w") as e:
    w = csv.writer(f)
    w.writerow(["image", "caption"])
    for i, r in enumerate(rows):
        rel = r["path"][len("images/"):]
        w.writerow([rel, "An image from " + os.path.dirname(rel) + "."])
        ok = r.get("decodes") == "ok"
        if rel in except_:
            ok = not ok
        e.write("%d %s %s\n" % (i, "ok" if ok else "reject", rel))
PYEOF
	ts ingest --no-progress --threads 2 --image-root "$IMAGES" "$TMP/corpus.csv" -o "$TMP/corpus" 2> "$TMP/stderr" || return 1
	sqlite3 "$TMP/corpus/catalog.sqlite" "select record from samples" | sort -n > "$TMP/got_ok"
	awk '$2 == "ok" { print $1 }' "$TMP/expect" | sort -n > "$TMP/want_ok"
	if ! cmp -s "$TMP/got_ok" "$TMP/want_ok"; then
		echo "samples differ from the MANIFEST's verdicts (< got, > want):"
		diff "$TMP/got_ok" "$TMP/want_ok" | while read -r side rec; do
			case "$side" in '<'|'>') echo "$side $(awk -v r="$rec" '$1 == r { print $3 }' "$TMP/expect") $(sqlite3 "$TMP/corpus/catalog.sqlite" "select reason || ': ' || message from rejects where record = $rec")" ;; esac
		done
		return 1
	fi
	# every reject named its source on stderr
	n=$(sqlite3 "$TMP/corpus/catalog.sqlite" "select count(*) from rejects")
	check "$(grep -c "^tessera: rejected '" "$TMP/stderr")" -eq "$n" || return 1
	"$PY" tests/e2e/check_dataset.py "$TMP/corpus"
}

manifest_sizes() {  # stored originals match the MANIFEST's size, orientation applied
	"$PY" - "$IMAGES" "$TMP/corpus/catalog.sqlite" <<'PYEOF'
import json, os, sqlite3, sys
images, cat = sys.argv[1], sys.argv[2]
db = sqlite3.connect(cat)
bad = 0
for i, l in enumerate(open(os.path.join(images, "MANIFEST.jsonl"))):
    r = json.loads(l)
    row = db.execute("select orig_width, orig_height from samples where record=?", (i,)).fetchone()
    if row is None or r.get("w") is None:
        continue
    w, h = r["w"], r["h"]
    if r.get("exif_orientation", 1) in (5, 6, 7, 8):
        w, h = h, w
    if tuple(row) != (w, h):
        print("%s: %s, MANIFEST %dx%d orientation %s" % (r["path"], row, r["w"], r["h"], r.get("exif_orientation")))
        bad += 1
sys.exit(1 if bad else 0)
PYEOF
}

coco_pairs_jsonl() {  # 55 human captions of 11 COCO images, one record per caption line
	ts ingest -q --resize center-crop --size 224 "$PAIRED/captions.jsonl" -o "$TMP/pairs" || return 1
	check "$(sqlite3 "$TMP/pairs/catalog.sqlite" "select count(*) from samples")" -eq "$(wc -l < "$PAIRED/captions.jsonl")" || return 1
	check "$(sqlite3 "$TMP/pairs/catalog.sqlite" "select count(*) from samples where width=224 and height=224")" -eq 55 || return 1
	"$PY" tests/e2e/check_dataset.py "$TMP/pairs"
}

if [ ! -d "$IMAGES" ]; then
	skip all "$IMAGES not found (../shared is absent)"
elif [ -z "$PY" ]; then
	skip all "python3 not found"
else
	t manifest_corpus manifest_corpus
	t manifest_sizes manifest_sizes
	if [ -d "$PAIRED" ]; then t coco_pairs_jsonl coco_pairs_jsonl; else skip coco_pairs_jsonl "$PAIRED not found"; fi
fi
finish
