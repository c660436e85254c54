#!/usr/bin/python3
"""Reference for `tessera compose` (halves, vertical, S = 224 or argv[4],
JPEG q95) with Pillow, on the same pairs: for each composite in tessera's
output catalog, decode both sources from the input dataset's shards, bring
each to S x S (center crop), paste the center half of each into one frame,
encode JPEG q95, join the captions, and write a tar."""
import io
import json
import sqlite3
import sys
import tarfile

from PIL import Image

src, composed, out = sys.argv[1], sys.argv[2], sys.argv[3]
S = int(sys.argv[4]) if len(sys.argv) > 4 else 224
db = sqlite3.connect(src + "/catalog.sqlite")
where = {k: (shard, off, size) for k, shard, off, size in db.execute(
    "select m.key, s.name, m.offset, m.size from members m join shards s on s.idx = m.shard"
    " where m.name like '%.jpg'")}
caption = dict(db.execute("select key, caption from samples"))
pairs = [json.loads(s) for (s,) in sqlite3.connect(composed + "/catalog.sqlite").execute(
    "select sources from compositions order by key")]


def load(key):
    shard, off, size = where[key]
    with open(src + "/shards/" + shard, "rb") as f:
        f.seek(off)
        im = Image.open(io.BytesIO(f.read(size)))
    im.draft("RGB", (S, S))
    im = im.convert("RGB")
    w, h = im.size
    k = S / min(w, h)
    nw, nh = max(S, round(w * k)), max(S, round(h * k))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    l, t = (nw - S) // 2, (nh - S) // 2
    return im.crop((l, t, l + S, t + S))


def merge(a, b):
    a = a.rstrip()
    if a.endswith("."):
        a = a[:-1]
    b = b.strip()
    first = b.split(" ")[0]
    if not (sum(c.isupper() for c in first) >= 2 and not any(c.islower() for c in first)):
        b = b[:1].lower() + b[1:]
    return a + " and " + b


with tarfile.open(out, "w") as tf:
    for i, (a, b) in enumerate(pairs):
        A, B = load(a), load(b)
        frame = Image.new("RGB", (S, S))
        frame.paste(A.crop((0, S // 4, S, S // 4 + S // 2)), (0, 0))
        frame.paste(B.crop((0, S // 4, S, S // 4 + S - S // 2)), (0, S // 2))
        buf = io.BytesIO()
        frame.save(buf, "JPEG", quality=95)
        for name, data in (("%09d.jpg" % i, buf.getvalue()), ("%09d.txt" % i, merge(caption[a], caption[b]).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
