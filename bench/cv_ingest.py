#!/usr/bin/python3
"""Reference pipeline with OpenCV, as img2dataset does it: imdecode,
resize the short side to 224 with INTER_AREA, center crop, imencode JPEG
q95, write a tar.  Single-threaded (cv2.setNumThreads(1)) for a per-core figure."""
import csv
import io
import os
import sys
import tarfile

import cv2
import numpy as np

cv2.setNumThreads(1)
S = 224
root, lst, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(lst, newline="") as f, tarfile.open(out, "w") as tf:
    for i, row in enumerate(csv.DictReader(f)):
        buf = np.fromfile(os.path.join(root, row["image"]), dtype=np.uint8)
        im = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        h, w = im.shape[:2]
        k = S / min(w, h)
        nw, nh = max(S, round(w * k)), max(S, round(h * k))
        im = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_AREA)
        l, t = (nw - S) // 2, (nh - S) // 2
        im = im[t:t + S, l:l + S]
        ok, enc = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 95])
        for name, data in (("%09d.jpg" % i, enc.tobytes()), ("%09d.txt" % i, row["caption"].encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
