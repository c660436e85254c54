#!/usr/bin/env python3
"""Check a tessera dataset the way its users' readers see it.

Reads every shard with Python's tarfile, groups members by key exactly as
webdataset does (key = member name up to the first dot of its basename),
and checks against catalog.sqlite:
  - every shard file listed in `shards` exists, with its byte count and
    sample count, and no other .tar file is present;
  - every sample has exactly one image member (.jpg/.png/.webp), a .txt
    and a .json, adjacent in the tar;
  - each `members` row's offset/size points at exactly the bytes tarfile
    extracts for that member;
  - KEY.txt equals samples.caption; KEY.json parses and agrees with the row;
  - the catalog has no sample that the tars lack and vice versa.
Prints one line per problem and exits 1 if there is any.  Used by
tests/e2e/*.sh; needs only the Python standard library.
"""
import json
import os
import sqlite3
import sys
import tarfile


def main(outdir):
    problems = []
    db = sqlite3.connect(os.path.join(outdir, "catalog.sqlite"))
    shards = db.execute(
        "select idx, name, samples, bytes, complete from shards order by idx").fetchall()
    on_disk = sorted(f for f in os.listdir(os.path.join(outdir, "shards"))
                     if f.endswith(".tar"))
    if on_disk != [s[1] for s in shards]:
        problems.append("shard files %s != catalog %s" % (on_disk, [s[1] for s in shards]))
    seen_keys = set()
    for idx, name, nsamples, nbytes, complete in shards:
        path = os.path.join(outdir, "shards", name)
        if not os.path.exists(path):
            continue
        if complete != 1:
            problems.append("%s: not complete" % name)
        if os.path.getsize(path) != nbytes:
            problems.append("%s: %d bytes, catalog says %d" % (name, os.path.getsize(path), nbytes))
        raw = open(path, "rb").read()
        groups = []
        with tarfile.open(path) as tf:
            for m in tf.getmembers():
                if not m.isfile():
                    problems.append("%s: member %s is not a regular file" % (name, m.name))
                    continue
                base = os.path.basename(m.name)
                key = base.split(".", 1)[0]
                ext = base.split(".", 1)[1] if "." in base else ""
                data = tf.extractfile(m).read()
                if not groups or groups[-1][0] != key:
                    groups.append((key, {}))
                if ext in groups[-1][1]:
                    problems.append("%s: %s twice" % (name, m.name))
                groups[-1][1][ext] = (m, data)
        keys = [g[0] for g in groups]
        if len(set(keys)) != len(keys):
            problems.append("%s: members of one sample are not adjacent" % name)
        if len(groups) != nsamples:
            problems.append("%s: %d samples in tar, catalog says %d" % (name, len(groups), nsamples))
        for key, members in groups:
            seen_keys.add(key)
            row = db.execute(
                "select shard, width, height, format, caption, content_hash, source"
                " from samples where key=?", (key,)).fetchone()
            if row is None:
                problems.append("%s: key %s not in catalog" % (name, key))
                continue
            if row[0] != idx:
                problems.append("%s: key %s catalogued in shard %s" % (name, key, row[0]))
            imgs = [e for e in members if e in ("jpg", "png", "webp")]
            if len(imgs) != 1 or "txt" not in members or "json" not in members:
                problems.append("%s: key %s has members %s" % (name, key, sorted(members)))
                continue
            if members["txt"][1].decode("utf-8") != row[4]:
                problems.append("%s: %s.txt differs from catalog caption" % (name, key))
            meta = json.loads(members["json"][1])
            if (meta.get("key"), meta.get("width"), meta.get("height"), meta.get("format")) != \
                    (key, row[1], row[2], row[3]):
                problems.append("%s: %s.json disagrees with catalog row" % (name, key))
            if meta.get("content_hash") != row[5] or meta.get("captions", [None])[0] != row[4]:
                problems.append("%s: %s.json hash/caption disagree" % (name, key))
            for ext, (m, data) in members.items():
                mrow = db.execute("select offset, size from members where key=? and name=?",
                                  (key, m.name)).fetchone()
                if mrow is None:
                    problems.append("%s: member %s not in catalog" % (name, m.name))
                    continue
                off, size = mrow
                if size != len(data) or raw[off:off + size] != data:
                    problems.append("%s: member %s offset/size wrong" % (name, m.name))
    cat_keys = {r[0] for r in db.execute("select key from samples")}
    if cat_keys != seen_keys:
        problems.append("catalog keys not in tars: %s; tar keys not in catalog: %s" % (
            sorted(cat_keys - seen_keys)[:5], sorted(seen_keys - cat_keys)[:5]))
    for p in problems:
        print(p)
    print("checked %d shards, %d samples, %d problems" % (len(shards), len(seen_keys), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
