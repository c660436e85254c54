#!/usr/bin/python3
"""img2dataset's way of fetching, for the fetch benchmark: urllib.request.urlopen
in a pool of 64 threads, then OpenCV imdecode, INTER_AREA resize of the short
side to 224, center crop, imencode JPEG q95, written to a tar in list order.
Usage: urllib_fetch.py LIST.csv OUT.tar [THREADS]  (LIST has url,caption)."""
import csv
import sys
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

cv2.setNumThreads(1)
S = 224
lst, out = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 64
rows = list(csv.DictReader(open(lst, newline="")))


def one(row):
    try:
        with urllib.request.urlopen(row["url"], timeout=30) as r:
            data = r.read()
    except Exception:
        return None
    im = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if im is None:
        return None
    h, w = im.shape[:2]
    k = S / min(w, h)
    nw, nh = max(S, round(w * k)), max(S, round(h * k))
    im = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_AREA)
    l, t = (nw - S) // 2, (nh - S) // 2
    ok, enc = cv2.imencode(".jpg", im[t:t + S, l:l + S], [cv2.IMWRITE_JPEG_QUALITY, 95])
    return enc.tobytes() if ok else None


with ThreadPoolExecutor(threads) as pool, tarfile.open(out, "w") as tf:
    for i, (row, jpg) in enumerate(zip(rows, pool.map(one, rows))):
        if jpg is None:
            continue
        for name, data in (("%09d.jpg" % i, jpg), ("%09d.txt" % i, row["caption"].encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, __import__("io").BytesIO(data))
