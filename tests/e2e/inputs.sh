#!/bin/sh
# e2e: inputs as datasets ship them (docs/inputs.md): damaged tars among
# several inputs, re-sharding that keeps captions and members, one row per
# caption merged with --group-by on real COCO captions, header-less
# CC3M-style lists, absolute paths and --confine, byte-order marks, and
# rejects that name the image they concern.
SUITE=inputs
. tests/e2e/lib.sh
SAMPLE=tests/data/sample
IMG=$SAMPLE/photos/heather-flowers.jpg
COCO=$SHARED/data/paired/coco_val2017_riretta
PY=$(command -v python3 || true)
q() { sqlite3 -separator '|' "$1/catalog.sqlite" "$2"; }

# good.tar: 5 samples (jpg, txt, json with two captions and a uid; sample 1
# also short.txt, long.txt, tags.json and a tag mask); the damaged copies cut
# or break sample 2, big.tar has a 300 KB member in sample 1
make_tars() {
	"$PY" - "$IMG" "$TMP" <<'PYEOF'
import io, json, sys, tarfile
img = open(sys.argv[1], "rb").read()
d = sys.argv[2]
def build(path, extra=None, fmt=tarfile.USTAR_FORMAT, longname_at=None):
    with tarfile.open(path, "w", format=fmt) as tf:
        def add(name, data):
            ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
        for i in range(5):
            k = "%06d" % i
            if longname_at == i:
                k = "d/" + "y" * 5000 + "/" + k
            add(k + ".jpg", img)
            add(k + ".txt", ("caption %d" % i).encode())
            add(k + ".json", json.dumps({"key": k, "captions": ["caption %d" % i, "second %d" % i],
                                         "uid": "u%d" % i}).encode())
            if i == 1:
                add(k + ".short.txt", b"short one")
                add(k + ".long.txt", b"a long caption for one")
                add(k + ".tags.json", b'{"tags": [{"tag": "flower", "mask": "000001.0.tagmask.png"}]}')
                add(k + ".0.tagmask.png", img)
            if extra and i == extra[0]:
                add(k + ".bin", b"z" * extra[1])
def fix_cksum(b, off):
    h = bytearray(b[off:off + 512]); h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h); b[off:off + 512] = h
build(d + "/good.tar")
with tarfile.open(d + "/good.tar") as tf:
    third = [m for m in tf.getmembers() if m.name == "000002.jpg"][0]
b = bytearray(open(d + "/good.tar", "rb").read())
open(d + "/trunc.tar", "wb").write(b[:third.offset_data + third.size // 2])
c = bytearray(b); c[third.offset + 148] ^= 0x11
open(d + "/cksum.tar", "wb").write(c)
h = bytearray(b); h[third.offset + 124:third.offset + 136] = b"77777777777\0"; fix_cksum(h, third.offset)
open(d + "/huge.tar", "wb").write(h)
open(d + "/third_offset", "w").write(str(third.offset))
build(d + "/longpax.tar", fmt=tarfile.PAX_FORMAT, longname_at=2)
build(d + "/big.tar", extra=(1, 300000))
with tarfile.open(d + "/big.tar") as tf:
    open(d + "/big_offset", "w").write(str([m for m in tf.getmembers() if m.name == "000001.bin"][0].offset))
PYEOF
}

damaged_tars() {  # each damage is a reject with the tar and the offset; the run goes on, exit 0
	[ -n "$PY" ] || { echo "python3 missing"; return 1; }
	make_tars || return 1
	off=$(cat "$TMP/third_offset"); boff=$(cat "$TMP/big_offset")
	"$TESSERA" ingest -j2 --no-progress --max-member-bytes 200K "$TMP/trunc.tar" "$TMP/cksum.tar" \
	  "$TMP/huge.tar" "$TMP/big.tar" "$TMP/longpax.tar" "$TMP/good.tar" -o "$TMP/dmg" 2> "$TMP/dmg.err"
	rc=$?
	[ $rc -eq 0 ] || { echo "exit $rc, expected 0"; cat "$TMP/dmg.err"; return 1; }
	# 2 + 2 + 2 samples before the damage, 4 of big.tar, all 5 of longpax and good
	got=$(q "$TMP/dmg" "select count(*) from samples")
	[ "$got" = 20 ] || { echo "samples: $got, expected 20"; return 1; }
	got=$(q "$TMP/dmg" "select source, reason, detail from rejects order by record" | sed "s|$TMP/||g")
	want="trunc.tar:000002|record.truncated_tar|{\"offset\":$off}
cksum.tar@$off|record.bad_tar|{\"offset\":$off}
huge.tar:000002|record.truncated_tar|{\"offset\":$off}
big.tar:000001|record.member_too_large|{\"offset\":$boff}"
	[ "$got" = "$want" ] || { printf 'rejects:\n%s\nexpected:\n%s\n' "$got" "$want"; return 1; }
	grep -q "cannot read '$TMP/cksum.tar' at byte $off" "$TMP/dmg.err" ||
	  { echo "no message with the tar and the offset:"; cat "$TMP/dmg.err"; return 1; }
	# the long pax path kept its key in source
	check "$(q "$TMP/dmg" "select count(*) from samples where source like '%longpax.tar:d/yyy%/000002'")" = 1
}

reshard_keeps() {  # all captions of KEY.json, source_meta, short/long members; old pixels' members dropped
	[ -f "$TMP/good.tar" ] || make_tars || return 1
	ts ingest -q --size 64 "$TMP/good.tar" -o "$TMP/rs" || return 1
	sh_tar="$TMP/rs/shards/000000.tar"
	"$PY" - "$sh_tar" <<'PYEOF' || return 1
import json, sys, tarfile
tf = tarfile.open(sys.argv[1])
names = tf.getnames()
def get(n): return tf.extractfile(n).read()
ok = True
for i in range(5):
    k = "%09d" % i
    j = json.loads(get(k + ".json"))
    if j["captions"] != ["caption %d" % i, "second %d" % i]:
        print("%s: captions %r" % (k, j["captions"])); ok = False
    sm = j.get("source_meta", {})
    if sm.get("uid") != "u%d" % i or sm.get("key") != "%06d" % i:
        print("%s: source_meta %r" % (k, sm)); ok = False
    if get(k + ".txt") != b"caption %d" % i:
        print("%s: txt %r" % (k, get(k + ".txt"))); ok = False
k = "000000001"
for ext, want in ((".short.txt", b"short one"), (".long.txt", b"a long caption for one")):
    if k + ext not in names or get(k + ext) != want:
        print("missing or wrong " + k + ext); ok = False
for n in names:
    if "tagmask" in n or n.endswith(".tags.json"):
        print("carried a member of the old pixels: " + n); ok = False
sys.exit(0 if ok else 1)
PYEOF
	# the catalog has every caption too
	check "$(q "$TMP/rs" "select captions from samples where key = '000000003'")" = '["caption 3","second 3"]'
}

group_by_coco() {  # real COCO captions, one row per caption, shuffled: 11 images, 5 captions each, in row order
	"$PY" - "$COCO/captions.jsonl" "$TMP/gb" <<'PYEOF' || return 1
import csv, json, os, random, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
os.makedirs(sys.argv[2], exist_ok=True)
order = list(range(len(rows)))
random.Random(7).shuffle(order)
with open(sys.argv[2] + "/list.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["image", "caption", "coco_ann_id"])
    for i in order:
        w.writerow([rows[i]["image"], rows[i]["caption"], rows[i]["coco_ann_id"]])
# the captions of each image in list order, the images in first-row order
want, seen = {}, []
for i in order:
    r = rows[i]
    if r["image"] not in want:
        want[r["image"]] = []; seen.append(r["image"])
    want[r["image"]].append(r["caption"])
with open(sys.argv[2] + "/want", "w") as f:
    for im in seen:
        f.write(im + "|" + json.dumps(want[im], separators=(",", ":")) + "\n")
PYEOF
	ts ingest -q --group-by image --dedup exact --image-root "$COCO" "$TMP/gb/list.csv" -o "$TMP/gbo" || return 1
	[ "$(q "$TMP/gbo" "select count(*) from rejects")" = 0 ] || { q "$TMP/gbo" "select reason, count(*) from rejects group by 1"; return 1; }
	q "$TMP/gbo" "select replace(path, rtrim(path, replace(path, '/', '')), ''), captions from samples order by key" > "$TMP/gb/got"
	cmp "$TMP/gb/got" "$TMP/gb/want" || { diff "$TMP/gb/got" "$TMP/gb/want" | head; return 1; }
	check "$(wc -l < "$TMP/gb/got")" = 11
}

cc3m_list() {  # fixture: a header-less CC3M-style TSV with quotes
	[ -f "$TMP/cc/cc3m.tsv" ] && return 0
	mkdir -p "$TMP/cc/img" && cp "$IMG" "$TMP/cc/img/a.jpg" && cp "$IMG" "$TMP/cc/img/b.jpg" || return 1
	printf '"Hello" sign on a door\timg/a.jpg\na 6" pipe, and a "quote\timg/b.jpg\nlast one\timg/a.jpg\n' > "$TMP/cc/cc3m.tsv"
}

cc3m_no_header() {  # a header-less CC3M-style TSV with quotes: every line is a sample, captions literal
	cc3m_list || return 1
	ts ingest -q --preset cc3m "$TMP/cc/cc3m.tsv" -o "$TMP/cco" || return 1
	got=$(q "$TMP/cco" "select caption from samples order by key")
	want='"Hello" sign on a door
a 6" pipe, and a "quote
last one'
	[ "$got" = "$want" ] || { printf 'got:\n%s\n' "$got"; return 1; }
	# the same with names and positions
	ts ingest -q --no-header --image-col 2 --caption-col 1 "$TMP/cc/cc3m.tsv" -o "$TMP/cco2" || return 1
	check "$(q "$TMP/cco2" "select count(*) from samples")" = 3
}

paths_and_rejects() {  # absolute paths read as given, --confine refuses them; a reject names the list line and the image
	mkdir -p "$TMP/ab/list" && cp "$IMG" "$TMP/ab/photo.jpg" || return 1
	printf 'image,caption\n%s,absolute\nnot/here.jpg,missing one\n../photo.jpg,climbs out\n' "$TMP/ab/photo.jpg" > "$TMP/ab/list/l.csv"
	"$TESSERA" ingest --no-progress "$TMP/ab/list/l.csv" -o "$TMP/abo" 2> "$TMP/ab/err" || { cat "$TMP/ab/err"; return 1; }
	check "$(q "$TMP/abo" "select caption from samples")" = absolute || return 1
	check "$(q "$TMP/abo" "select reason from rejects order by record" | tr '\n' ' ')" = "source.missing source.escapes_root " || return 1
	grep -q "rejected '$TMP/ab/list/l.csv:3' ('$TMP/ab/list/not/here.jpg') (source.missing)" "$TMP/ab/err" ||
	  { echo "the reject line does not name the image:"; cat "$TMP/ab/err"; return 1; }
	check "$(q "$TMP/abo" "select path from rejects where record = 1")" = "$TMP/ab/list/not/here.jpg" || return 1
	# every record rejected: exit 3 (docs/formats.md)
	"$TESSERA" ingest -q --confine "$TMP/ab/list/l.csv" -o "$TMP/abc" 2> /dev/null; rc=$?
	[ $rc -eq 3 ] || { echo "--confine run: exit $rc, want 3 (every record rejected)"; return 1; }
	check "$(q "$TMP/abc" "select reason from rejects order by record" | tr '\n' ' ')" = "source.escapes_root source.missing source.escapes_root "
}

bom_sidecar() {  # a sidecar's byte-order mark does not land in KEY.txt; a BOM'd JSONL keeps its first record
	mkdir -p "$TMP/bom/f" && cp "$IMG" "$TMP/bom/f/a.jpg" || return 1
	printf '\357\273\277a caption' > "$TMP/bom/f/a.txt"
	ts ingest -q "$TMP/bom/f" -o "$TMP/bomo" || return 1
	check "$(tar -xOf "$TMP/bomo/shards/000000.tar" 000000000.txt | od -An -c | head -1 | tr -s ' ')" = " a c a p t i o n" || return 1
	printf '\357\273\277{"image": "f/a.jpg", "caption": "first"}\n{"image": "f/a.jpg", "caption": "second"}\n' > "$TMP/bom/l.jsonl"
	ts ingest -q "$TMP/bom/l.jsonl" -o "$TMP/bomj" || return 1
	check "$(q "$TMP/bomj" "select caption from samples order by key" | tr '\n' ' ')" = "first second "
}

options_fingerprint() {  # a reader option that changes the output changes the fingerprint: no silent resume
	cc3m_list || return 1
	ts ingest -q --preset cc3m "$TMP/cc/cc3m.tsv" -o "$TMP/fp" || return 1
	if "$TESSERA" ingest -q --preset cc3m --quoting csv "$TMP/cc/cc3m.tsv" -o "$TMP/fp" 2> /dev/null; then
		echo "resumed a dataset made with other quoting"; return 1
	fi
}

if [ -n "$PY" ]; then
	t damaged_tars damaged_tars
	t reshard_keeps reshard_keeps
else
	skip damaged_tars "python3 not found"
	skip reshard_keeps "python3 not found"
fi
if [ -f "$COCO/captions.jsonl" ] && [ -n "$PY" ]; then
	t group_by_coco group_by_coco
else
	skip group_by_coco "$COCO/captions.jsonl not found"
fi
t cc3m_no_header cc3m_no_header
t paths_and_rejects paths_and_rejects
t bom_sidecar bom_sidecar
t options_fingerprint options_fingerprint
finish
