#!/usr/bin/python3
"""Reference pipeline with Pillow: the same job as
`tessera ingest --resize center-crop --size 224 --encode jpeg --quality 95`:
open, draft() (Pillow's DCT scaling), resize the short side to 224 with an
antialiased bicubic filter, center crop, save JPEG q95, write a tar."""
import csv
import io
import os
import sys
import tarfile

from PIL import Image

S = 224
root, lst, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(lst, newline="") as f, tarfile.open(out, "w") as tf:
    for i, row in enumerate(csv.DictReader(f)):
        im = Image.open(os.path.join(root, row["image"]))
        im.draft("RGB", (S, S))
        im = im.convert("RGB")
        w, h = im.size
        k = S / min(w, h)
        nw, nh = max(S, round(w * k)), max(S, round(h * k))
        im = im.resize((nw, nh), Image.BICUBIC)
        l, t = (nw - S) // 2, (nh - S) // 2
        im = im.crop((l, t, l + S, t + S))
        b = io.BytesIO()
        im.save(b, "JPEG", quality=95)
        for name, data in (("%09d.jpg" % i, b.getvalue()), ("%09d.txt" % i, row["caption"].encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
