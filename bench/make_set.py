#!/usr/bin/python3
"""Synthesize the benchmark set from the real photographs in ../shared/data:
N JPEGs (default 1000) whose long side runs from 300 to 4000 px, each a
re-encoding (quality 90, baseline) of a real photo at one of those sizes.
Writes OUT/img/NNNNN.jpg and OUT/list.csv (image,caption).  Deterministic."""
import csv
import json
import os
import sys

from PIL import Image

shared, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(os.path.join(shared, "data/images/MANIFEST.jsonl"))]
photos = [r for r in rows if r.get("format") == "JPEG" and r.get("decodes") == "ok"
          and r.get("mode") == "RGB" and min(r["w"], r["h"]) >= 400
          and not r["path"].startswith(("images/imagemagick-doc", "images/pillow-tests"))]
photos.sort(key=lambda r: r["path"])
os.makedirs(os.path.join(out, "img"), exist_ok=True)
cache = {}
with open(os.path.join(out, "list.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["image", "caption"])
    for i in range(n):
        r = photos[i % len(photos)]
        long_side = 300 + (3700 * ((i * 7919) % n)) // max(n - 1, 1)
        name = "img/%05d.jpg" % i
        path = os.path.join(out, name)
        if not os.path.exists(path):
            src = cache.get(r["path"])
            if src is None:
                src = Image.open(os.path.join(shared, "data", r["path"])).convert("RGB")
                cache.clear()
                cache[r["path"]] = src
            scale = long_side / max(src.size)
            im = src.resize((max(1, round(src.size[0] * scale)), max(1, round(src.size[1] * scale))),
                            Image.BICUBIC)
            im.save(path, quality=90)
        w.writerow([name, "A photograph number %d." % i])
print("benchmark set: %d images in %s" % (n, out))
