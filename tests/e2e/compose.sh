#!/bin/sh
# e2e: tessera compose on a dataset of solid-colour images: each region of a
# composite holds its source's colour (exact with --encode png), cutmix
# boxes and mixup weights hold, captions are joined by the rule, the same
# seed gives the same bytes at any thread count, no self-pairs, partners
# change across epochs and stay within their window, a source that no
# longer decodes is rejected and its partner re-drawn, fewer than 2
# samples is an error, and --help matches the man page.
SUITE=compose
. tests/e2e/lib.sh
PY=$(command -v python3 || true)

# N solid-colour PNGs with captions, ingested
make_dataset() {  # dir n
	d=$1; n=$2
	mkdir -p "$d/in" || return 1
	"$PY" - "$d/in" "$n" <<'PYEOF' || return 1
import struct, sys, zlib
out, n = sys.argv[1], int(sys.argv[2])
caps = ["A dog runs on the beach.", "NASA rocket on the pad.", "Two children play in the snow!",
        "Is this a red car?", "A man rides a bike ."]
def png(path, w, h, rgb):
    raw = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for i in range(n):
    rgb = ((i * 37) % 256, (i * 91 + 40) % 256, (i * 53 + 90) % 256)
    png("%s/img%03d.png" % (out, i), 64 + (i % 3) * 16, 48 + (i % 2) * 32, rgb)
    open("%s/img%03d.txt" % (out, i), "w").write(caps[i % len(caps)] + "\n")
PYEOF
	"$TESSERA" ingest -q --encode png "$d/in" -o "$d/ds"
}

# every composite's pixels against its sources' colours (from their images)
check_pixels() {  # outdir srcdir
	/usr/bin/python3 -c 'import PIL' 2>/dev/null || { echo "SKIPPED pixel check: Debian python3-pil not installed"; return 0; }
	/usr/bin/python3 - "$1" "$2" <<'PYEOF'
import glob, io, json, sqlite3, sys, tarfile
from PIL import Image
out, src = sys.argv[1:3]
def images(d):
    r = {}
    for f in sorted(glob.glob(d + "/shards/*.tar")):
        with tarfile.open(f) as tf:
            for m in tf.getmembers():
                if m.name.endswith(".png"):
                    r[m.name.split(".")[0]] = Image.open(io.BytesIO(tf.extractfile(m).read())).convert("RGB")
    return r
si, oi = images(src), images(out)
db = sqlite3.connect(out + "/catalog.sqlite")
n = 0
for key, mode, sources, regions in db.execute("select key, mode, sources, regions from compositions"):
    srcs = json.loads(sources)
    assert len(set(srcs)) == len(srcs) == (4 if mode == "grid" else 2), srcs
    col = [si[k].getpixel((0, 0)) for k in srcs]
    im = oi[key]
    regs = json.loads(regions)
    assert [r["source"] for r in regs] == srcs
    w, h = im.size
    for y in range(0, h, 3):
        for x in range(0, w, 3):
            p = im.getpixel((x, y))
            if mode == "mixup":
                lam = regs[0]["weight"]
                want = tuple(round(lam * u + (1 - lam) * v) for u, v in zip(col[0], col[1]))
                assert all(abs(q - r) <= 1 for q, r in zip(p, want)), (key, x, y, p, want)
                continue
            want = None
            for k, r in enumerate(regs):    # the last region holding the pixel (cutmix: the box)
                x0, y0, x1, y1 = r["rect"]
                if x0 <= x < x1 and y0 <= y < y1:
                    want = col[k]
            assert p == want, (key, mode, x, y, p, want, regs)
    n += 1
assert n > 0
PYEOF
}

halves() {
	make_dataset "$TMP/a" 20 || return 1
	ts compose -q --encode png --rate 1 --seed 3 -j 1 "$TMP/a/ds" -o "$TMP/h1" || return 1
	ts compose -q --encode png --rate 1 --seed 3 -j 2 "$TMP/a/ds" -o "$TMP/h2" || return 1
	same_dataset "$TMP/h1" "$TMP/h2" || return 1
	check_pixels "$TMP/h1" "$TMP/a/ds" || return 1
	ts compose -q --encode png --rate 1 --axis horizontal --fit stretch "$TMP/a/ds" -o "$TMP/hz" || return 1
	check_pixels "$TMP/hz" "$TMP/a/ds" || return 1
	"$PY" - "$TMP/h1" "$TMP/hz" <<'PYEOF'
import json, sqlite3, sys
for d, axis in ((sys.argv[1], "vertical"), (sys.argv[2], "horizontal")):
    db = sqlite3.connect(d + "/catalog.sqlite")
    rows = db.execute("select c.key, c.sources, c.regions, s.caption, s.width from compositions c join samples s using (key)").fetchall()
    assert len(rows) == 20, len(rows)          # --rate 1: one per source
    for key, sources, regions, caption, w in rows:
        a, b = json.loads(sources)
        assert a != b
        r = json.loads(regions)
        want = [[0, 0, 224, 112], [0, 112, 224, 224]] if axis == "vertical" else [[0, 0, 112, 224], [112, 0, 224, 224]]
        assert [x["rect"] for x in r] == want and w == 224, (key, r)
PYEOF
}

captions_and_provenance() {
	[ -d "$TMP/h1" ] || halves || return 1
	"$PY" - "$TMP/h1" "$TMP/a/ds" <<'PYEOF'
import glob, json, sqlite3, sys, tarfile
out, src = sys.argv[1:3]
s = sqlite3.connect(src + "/catalog.sqlite")
cap = dict(s.execute("select key, caption from samples"))
h = dict(s.execute("select key, content_hash from samples"))
db = sqlite3.connect(out + "/catalog.sqlite")
sys.path.insert(0, "tests/e2e")
from join_rule import merge
for key, sources, caption in db.execute("select c.key, c.sources, s.caption from compositions c join samples s using (key)"):
    a, b = json.loads(sources)
    assert caption == merge(cap[a], cap[b]), (caption, merge(cap[a], cap[b]))
    assert h[a] != h[b]
for f in glob.glob(out + "/shards/*.tar"):
    with tarfile.open(f) as tf:
        for m in tf.getmembers():
            if m.name.endswith(".json"):
                j = json.loads(tf.extractfile(m).read())
                assert j["mode"] == "halves" and j["axis"] == "vertical" and j["seed"] == 3 and j["epoch"] == 0
                assert [r["source"] for r in j["regions"]] == j["sources"]
                assert j["captions"] == [cap[j["sources"][0]], cap[j["sources"][1]]]
PYEOF
}

epochs_windows() {
	make_dataset "$TMP/w" 23 || return 1
	ts compose -q --encode png --rate 1 --epochs 3 --window 5 --include-originals "$TMP/w/ds" -o "$TMP/ew" || return 1
	"$PY" - "$TMP/ew" <<'PYEOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/catalog.sqlite")
rows = db.execute("select sources, epoch from compositions").fetchall()
assert len(rows) == 23 * 3, len(rows)
orig = db.execute("select count(*) from samples where key not in (select key from compositions)").fetchone()[0]
assert orig == 23 * 3, orig                    # every source once per epoch
partners = {}
for sources, epoch in rows:
    a, b = [int(k) for k in json.loads(sources)]
    assert a != b
    assert a // 5 == b // 5, (a, b)            # windows 0-4, ..., 15-19, 20-22: the anchor's
    partners.setdefault(a, []).append(b)
changed = sum(len(set(p)) > 1 for p in partners.values())
assert changed >= 15, changed                  # partners change across epochs
PYEOF
}

modes() {
	[ -d "$TMP/a/ds" ] || make_dataset "$TMP/a" 20 || return 1
	ts compose -q --encode png --mode cutmix --rate 1 "$TMP/a/ds" -o "$TMP/cm" || return 1
	check_pixels "$TMP/cm" "$TMP/a/ds" || return 1
	ts compose -q --encode png --mode mixup --alpha 0.4 --rate 1 "$TMP/a/ds" -o "$TMP/mx" || return 1
	check_pixels "$TMP/mx" "$TMP/a/ds" || return 1
	ts compose -q --encode png --mode grid --size 64 --rate 1 "$TMP/a/ds" -o "$TMP/gr" || return 1
	check_pixels "$TMP/gr" "$TMP/a/ds" || return 1
	ts compose -q --mode grid --size 63 "$TMP/a/ds" -o "$TMP/gr2" 2>/dev/null; check $? -eq 2 || return 1
	check "$(sqlite3 "$TMP/gr/catalog.sqlite" "select caption from samples where key = '000000000'" | grep -o ', ' | wc -l)" -ge 2 || return 1
	"$PY" - "$TMP/cm" "$TMP/mx" <<'PYEOF'
import glob, json, sys, tarfile
for d, mode in ((sys.argv[1], "cutmix"), (sys.argv[2], "mixup")):
    vals = []
    for f in glob.glob(d + "/shards/*.tar"):
        with tarfile.open(f) as tf:
            for m in tf.getmembers():
                if m.name.endswith(".json"):
                    j = json.loads(tf.extractfile(m).read())
                    assert j["mode"] == mode
                    if mode == "cutmix":
                        x0, y0, x1, y1 = j["box"]
                        assert abs(j["area_ratio"] - (x1 - x0) * (y1 - y0) / 224.0 ** 2) < 1e-9
                        assert j["regions"][1]["rect"] == j["box"]
                        vals.append(j["area_ratio"])
                    else:
                        lam = j["lambda"]
                        assert 0 <= lam <= 1 and abs(j["regions"][0]["weight"] + j["regions"][1]["weight"] - 1) < 1e-9
                        assert j["soft"] is True
                        vals.append(lam)
    assert len(vals) == 20 and len(set(vals)) > 10, vals   # drawn afresh
PYEOF
}

bad_sources() {
	make_dataset "$TMP/b" 12 || return 1
	# damage one stored image in place (its PNG data): it no longer decodes
	"$PY" - "$TMP/b/ds" <<'PYEOF' || return 1
import sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect(d + "/catalog.sqlite")
off, size = db.execute("select offset, size from members where name = '000000004.png'").fetchone()
with open(d + "/shards/000000.tar", "r+b") as f:
    f.seek(off + 40)
    f.write(b"\xff" * (size - 60))
PYEOF
	ts compose --encode png --rate 2 "$TMP/b/ds" -o "$TMP/bo" 2> "$TMP/bo.err" || return 1
	has "000000004" "$TMP/bo.err" || return 1
	"$PY" - "$TMP/bo" <<'PYEOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/catalog.sqlite")
rej = db.execute("select source, stage, reason from rejects").fetchall()
assert rej and all(r == ("000000004", "compose", r[2]) and r[2].startswith("image.") for r in rej), rej
used = [k for (s,) in db.execute("select sources from compositions") for k in json.loads(s)]
assert "000000004" not in used
assert db.execute("select count(*) from compositions").fetchone()[0] == 2 * 12 - len(rej)
PYEOF
}


short_long_and_rerun() {
	[ -f "$SHARED/tokenizer/bpe_simple_vocab_16e6.txt.gz" ] || { echo "SKIPPED: ../shared/tokenizer not found"; return 0; }
	[ -d "$TMP/a/ds" ] || make_dataset "$TMP/a" 20 || return 1
	ts captions split -q --rule longclip "$TMP/a/ds" -o "$TMP/sp" || return 1
	ts compose -q --encode png --rate 1 --seed 9 "$TMP/sp" -o "$TMP/sl1" || return 1
	ts compose -q --encode png --rate 1 --seed 9 "$TMP/sp" -o "$TMP/sl2" || return 1
	same_dataset "$TMP/sl1" "$TMP/sl2" || return 1          # a re-run gives the same bytes
	"$PY" - "$TMP/sl1" "$TMP/sp" <<'PYEOF'
import glob, json, sqlite3, sys, tarfile
out, src = sys.argv[1:3]
def members(d):
    r = {}
    for f in glob.glob(d + "/shards/*.tar"):
        with tarfile.open(f) as tf:
            for m in tf.getmembers():
                if m.name.endswith(".txt"):
                    r[m.name] = tf.extractfile(m).read().decode()
    return r
sys.path.insert(0, "tests/e2e")
from join_rule import merge
sm, om = members(src), members(out)
db = sqlite3.connect(out + "/catalog.sqlite")
n = 0
for key, sources in db.execute("select key, sources from compositions"):
    a, b = json.loads(sources)
    for kind in ("short", "long"):
        assert om["%s.%s.txt" % (key, kind)] == merge(sm["%s.%s.txt" % (a, kind)], sm["%s.%s.txt" % (b, kind)]), key
    n += 1
assert n == 20
PYEOF
}


resume() {
	[ -d "$TMP/a/ds" ] || make_dataset "$TMP/a" 20 || return 1
	ts compose -q --encode png --rate 1.5 --shard-samples 4 --seed 5 "$TMP/a/ds" -o "$TMP/ru" || return 1
	# killed at several moments, then the same command: the same bytes
	for point in sample:9 shard-renamed:3 shard-committed:2; do
		rm -rf "$TMP/rk"
		TESSERA_CRASH_AT=$point "$TESSERA" compose -q --encode png --rate 1.5 --shard-samples 4 --seed 5 "$TMP/a/ds" -o "$TMP/rk" 2>/dev/null
		[ $? -ne 0 ] || { echo "$point: not killed"; return 1; }
		ts compose -q --encode png --rate 1.5 --shard-samples 4 --seed 5 "$TMP/a/ds" -o "$TMP/rk" || return 1
		same_dataset "$TMP/ru" "$TMP/rk" || { echo "$point: differs"; return 1; }
	done
	# a finished composition run again: nothing changes
	ts compose -q --encode png --rate 1.5 --shard-samples 4 --seed 5 "$TMP/a/ds" -o "$TMP/rk" || return 1
	same_dataset "$TMP/ru" "$TMP/rk"
}

errors_and_cli() {
	make_dataset "$TMP/one" 1 || return 1
	ts compose "$TMP/one/ds" -o "$TMP/one/out" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "at least 2" "$TMP/err" || return 1
	ts compose "$TMP/one/ds" 2>/dev/null; check $? -eq 2 || return 1
	ts compose --mode tiles "$TMP/one/ds" -o x 2>/dev/null; check $? -eq 2 || return 1
	[ -d "$TMP/h1" ] || halves || return 1
	ts compose -q "$TMP/a/ds" -o "$TMP/h1" 2> "$TMP/err"; check $? -eq 1 && has "other inputs or options" "$TMP/err" || return 1
	ts compose -q "$TMP/a/ds" -o "$TMP/a/ds" 2> "$TMP/err"; check $? -eq 1 && has "lies inside the output" "$TMP/err" || return 1
	"$TESSERA" compose --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-compose.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts"
}

budget() {
	[ -f "$SHARED/tokenizer/bpe_simple_vocab_16e6.txt.gz" ] || { echo "SKIPPED: ../shared/tokenizer not found"; return 0; }
	[ -d "$TMP/a/ds" ] || make_dataset "$TMP/a" 20 || return 1
	ts compose -q --rate 1 --max-tokens 14 --tries 4 "$TMP/a/ds" -o "$TMP/bt" || return 1
	"$PY" - "$TMP/bt" <<'PYEOF'
import glob, json, sqlite3, sys, tarfile
db = sqlite3.connect(sys.argv[1] + "/catalog.sqlite")
rows = db.execute("select s.tokens, s.key from samples s join compositions using (key)").fetchall()
over = {}
for f in glob.glob(sys.argv[1] + "/shards/*.tar"):
    with tarfile.open(f) as tf:
        for m in tf.getmembers():
            if m.name.endswith(".json"):
                j = json.loads(tf.extractfile(m).read())
                over[j["key"]] = j["over_budget"]
assert len(rows) == 20
for tokens, key in rows:
    assert (tokens > 14) == over[key], (key, tokens, over[key])
assert sum(1 for t, _ in rows if t <= 14) >= 5
PYEOF
}

# JPEG sources of the bundled photographs at --size S (ingest's own
# encoder: the lossless path's case)
photo_dataset() {  # dir size [ingest options...]
	d=$1; s=$2; shift 2
	[ -d "$d" ] || "$TESSERA" ingest -q --size "$s" "$@" tests/data/sample/photos -o "$d"
}

# For composites made by the DCT path: decoding gives, farther than one MCU
# from the seam and from the two cut edges, exactly the decoded source's
# pixel; the file is a baseline JPEG (SOF0) that Pillow and djpeg read;
# the catalog's path column and KEY.json agree.  $3: the path every
# composite must have, or "" to skip that check.
check_dct() {  # outdir srcdir want_path
	/usr/bin/python3 -c 'import PIL' 2>/dev/null || { echo "SKIPPED dct pixel check: Debian python3-pil not installed"; return 0; }
	/usr/bin/python3 - "$1" "$2" "$3" <<'PYEOF' || return 1
import glob, io, json, sqlite3, subprocess, sys, tarfile
from PIL import Image
out, src, want = sys.argv[1:4]
def jpegs(d):
    r = {}
    for f in sorted(glob.glob(d + "/shards/*.tar")):
        with tarfile.open(f) as tf:
            for m in tf.getmembers():
                if m.name.endswith((".jpg", ".json")):
                    r[m.name] = tf.extractfile(m).read()
    return r
si, oi = jpegs(src), jpegs(out)
db = sqlite3.connect(out + "/catalog.sqlite")
n = 0
for key, sources, path in db.execute("select key, sources, path from compositions"):
    meta = json.loads(oi[key + ".json"])
    assert meta["path"] == path, (key, meta["path"], path)
    assert want == "" or path == want, (key, path, want)
    if path != "dct":
        continue
    data = oi[key + ".jpg"]
    # SOF0 (baseline) and no other frame type before the first scan
    i, sof = 2, None
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] != 0xDA:
        if 0xC0 <= data[i + 1] <= 0xCF and data[i + 1] not in (0xC4, 0xC8, 0xCC):
            sof = data[i + 1]
        i += 2 + (data[i + 2] << 8 | data[i + 3])
    assert sof == 0xC0, (key, sof)
    ppm = subprocess.run(["djpeg", "-ppm"], input=data, capture_output=True)
    assert ppm.returncode == 0 and ppm.stdout.startswith(b"P6") and not ppm.stderr, (key, ppm.stderr)
    c = Image.open(io.BytesIO(data))
    assert c.format == "JPEG" and not c.info.get("progressive") and not c.info.get("progression"), (key, c.info)
    c = c.convert("RGB")
    a, b = json.loads(sources)
    A = Image.open(io.BytesIO(si[a + ".jpg"])).convert("RGB")
    B = Image.open(io.BytesIO(si[b + ".jpg"])).convert("RGB")
    S = c.size[0]
    assert c.size == (S, S) == A.size == B.size, (key, c.size, A.size)
    vertical = meta["axis"] == "vertical"
    h1 = S // 2; a0 = (S - h1) // 2; b0 = (S - (S - h1)) // 2
    mcu = 16 if Image.open(io.BytesIO(data)).layer[0][1:3] == (2, 2) else 8
    cp, ap, bp = c.load(), A.load(), B.load()
    checked = 0
    for y in range(S):
        for x in range(S):
            u = y if vertical else x        # across the seam
            if min(abs(u - h1), u, S - 1 - u) < mcu:
                continue
            if vertical:
                s = ap[x, a0 + y] if y < h1 else bp[x, b0 + y - h1]
            else:
                s = ap[a0 + x, y] if x < h1 else bp[b0 + x - h1, y]
            assert cp[x, y] == s, (key, x, y, cp[x, y], s)
            checked += 1
    assert checked >= S * (S - 4 * mcu), checked
    n += 1
assert want != "dct" or n > 0, "no composite on the dct path"
PYEOF
}

dct_path() {
	photo_dataset "$TMP/p256" 256 || return 1
	for j in 1 2 4; do
		"$TESSERA" compose -q --size 256 --rate 1 --seed 2 -j $j "$TMP/p256" -o "$TMP/d$j" || return 1
	done
	same_dataset "$TMP/d1" "$TMP/d2" && same_dataset "$TMP/d1" "$TMP/d4" || return 1
	check_dct "$TMP/d1" "$TMP/p256" dct || return 1
	"$TESSERA" compose -q --size 256 --rate 1 --seed 2 --axis horizontal "$TMP/p256" -o "$TMP/dh" || return 1
	check_dct "$TMP/dh" "$TMP/p256" dct || return 1
	# forced, or conditions that do not hold: the pixel path
	"$TESSERA" compose --json --size 256 --rate 1 --seed 2 --no-dct "$TMP/p256" -o "$TMP/dn" > "$TMP/dn.json" || return 1
	check_dct "$TMP/dn" "$TMP/p256" pixels || return 1
	"$PY" - "$TMP/dn.json" <<'PYEOF' || return 1
import json, sys
j = json.load(open(sys.argv[1]))
assert j["dct"] == 0 and j["pixels"] == j["composites"] > 0, j
PYEOF
	"$TESSERA" compose -q --size 256 --rate 1 --quality 90 "$TMP/p256" -o "$TMP/dq" || return 1
	check_dct "$TMP/dq" "$TMP/p256" pixels || return 1
	# 224: 4:2:0 MCUs (16) do not divide the cut at 56; 4:4:4 ones (8) do
	photo_dataset "$TMP/p224" 224 || return 1
	"$TESSERA" compose -q --rate 1 "$TMP/p224" -o "$TMP/d224" || return 1
	check_dct "$TMP/d224" "$TMP/p224" pixels || return 1
	photo_dataset "$TMP/p444" 224 --subsampling 444 || return 1
	"$TESSERA" compose -q --rate 1 --subsampling 444 "$TMP/p444" -o "$TMP/d444" || return 1
	check_dct "$TMP/d444" "$TMP/p444" dct || return 1
	"$TESSERA" compose -q --rate 1 "$TMP/p444" -o "$TMP/d444p" || return 1   # 420 asked for
	check_dct "$TMP/d444p" "$TMP/p444" pixels
}

# A set mixing JPEGs the lossless path takes (baseline 4:2:0 q95, as
# Pillow writes them too) with ones it does not (progressive, 4:4:4,
# another quality), kept as they are by ingest, and one damaged after
# ingest: each composite's path follows its two sources, the damaged one is
# never used, and the summary counts both paths.
dct_mixed() {
	/usr/bin/python3 -c 'import PIL' 2>/dev/null || { echo "SKIPPED: Debian python3-pil not installed"; return 0; }
	mkdir -p "$TMP/mx/in" || return 1
	/usr/bin/python3 - "$TMP/mx/in" tests/data/sample/photos <<'PYEOF' || return 1
import glob, sys
from PIL import Image
out, photos = sys.argv[1:3]
files = sorted(glob.glob(photos + "/*.jpg"))[:12]
kinds = ["ok"] * 8 + ["progressive", "444", "q80", "ok"]
for i, (f, kind) in enumerate(zip(files, kinds)):
    im = Image.open(f).convert("RGB")
    s = min(im.size)
    im = im.crop(((im.size[0] - s) // 2, (im.size[1] - s) // 2, (im.size[0] - s) // 2 + s, (im.size[1] - s) // 2 + s)).resize((256, 256))
    kw = {"quality": 80 if kind == "q80" else 95, "subsampling": 0 if kind == "444" else 2,
          "progressive": kind == "progressive"}
    im.save("%s/%02d-%s.jpg" % (out, i, kind), **kw)
    open("%s/%02d-%s.txt" % (out, i, kind), "w").write("Photo %d, %s.\n" % (i, kind))
PYEOF
	"$TESSERA" ingest -q --encode keep --size 256 "$TMP/mx/in" -o "$TMP/mx/ds" || return 1
	# damage the entropy data of the last one (an "ok" file) in place
	"$PY" - "$TMP/mx/ds" <<'PYEOF' || return 1
import sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect(d + "/catalog.sqlite")
off, size = db.execute("select m.offset, m.size from members m join samples s using (key)"
                       " where s.source like '%11-ok.jpg' and m.name like '%.jpg'").fetchone()
with open(d + "/shards/000000.tar", "r+b") as f:
    f.seek(off + size // 2)
    f.write(b"\xff\x01" * 64)
PYEOF
	for j in 1 2; do
		"$TESSERA" compose --json --size 256 --rate 2 -j $j "$TMP/mx/ds" -o "$TMP/mx/c$j" > "$TMP/mx/c$j.json" 2>/dev/null || return 1
	done
	same_dataset "$TMP/mx/c1" "$TMP/mx/c2" || return 1
	check_dct "$TMP/mx/c1" "$TMP/mx/ds" "" || return 1
	"$PY" - "$TMP/mx/c1" "$TMP/mx/ds" "$TMP/mx/c1.json" <<'PYEOF'
import json, sqlite3, sys
out, src, summ = sys.argv[1:4]
kind = {k: s.rsplit("-", 1)[1].split(".")[0] for k, s in sqlite3.connect(src + "/catalog.sqlite").execute("select key, source from samples")}
bad = [k for k, s in sqlite3.connect(src + "/catalog.sqlite").execute("select key, source from samples") if s.endswith("11-ok.jpg")][0]
db = sqlite3.connect(out + "/catalog.sqlite")
n = {"dct": 0, "pixels": 0}
for sources, path in db.execute("select sources, path from compositions"):
    a, b = json.loads(sources)
    assert bad not in (a, b), (a, b)
    want = "dct" if kind[a] == kind[b] == "ok" else "pixels"
    assert path == want, (a, kind[a], b, kind[b], path)
    n[path] += 1
assert n["dct"] > 0 and n["pixels"] > 0, n
rej = db.execute("select source, reason from rejects").fetchall()
assert rej and all(r[0] == bad and r[1].startswith("image.") for r in rej), rej
j = json.load(open(summ))
assert (j["dct"], j["pixels"]) == (n["dct"], n["pixels"]), (j, n)
PYEOF
}

dct_resume() {
	photo_dataset "$TMP/p256" 256 || return 1
	"$TESSERA" compose -q --size 256 --rate 1.5 --shard-samples 4 --seed 5 "$TMP/p256" -o "$TMP/dru" || return 1
	for point in sample:9 shard-renamed:3 shard-committed:2; do
		rm -rf "$TMP/drk"
		TESSERA_CRASH_AT=$point "$TESSERA" compose -q --size 256 --rate 1.5 --shard-samples 4 --seed 5 "$TMP/p256" -o "$TMP/drk" 2>/dev/null
		[ $? -ne 0 ] || { echo "$point: not killed"; return 1; }
		"$TESSERA" compose -q --size 256 --rate 1.5 --shard-samples 4 --seed 5 "$TMP/p256" -o "$TMP/drk" || return 1
		same_dataset "$TMP/dru" "$TMP/drk" || { echo "$point: differs"; return 1; }
	done
	check "$(sqlite3 "$TMP/drk/catalog.sqlite" "select count(*) from compositions where path = 'dct'")" -gt 0
}

if [ -z "$PY" ]; then
	skip all "python3 not found"
else
	t halves halves
	t captions_and_provenance captions_and_provenance
	t epochs_windows epochs_windows
	t modes modes
	t bad_sources bad_sources
	t budget budget
	t short_long_and_rerun short_long_and_rerun
	t resume resume
	t dct_path dct_path
	t dct_mixed dct_mixed
	t dct_resume dct_resume
	t errors_and_cli errors_and_cli
fi
finish
