#!/usr/bin/python3
# Make the crafted LMDB files of tests/data/lmdb/ (run with Debian's
# python3, which has python3-lmdb: /usr/bin/python3 make_crafted.py).
# Each NAME.mdb is a data.mdb; the unit test (test_lmdb.c) and the e2e
# suite copy it into a folder of its own.  The files are committed: liblmdb
# leaves unused page bytes as they were in memory, so a re-run gives the
# same damage in slightly different bytes.
#
# base: 4 records (image-/label-000000001..4, num-samples 4) written by
# python-lmdb with 4 KiB pages; record 3's image takes overflow pages.
# many: 60 records, so the main tree has a branch page over leaf pages.
# What each file is: the names below (main()); what tessera must do with
# each: tests/unit/test_lmdb.c.
import os, shutil, struct, sys, tempfile

import lmdb

HERE = os.path.dirname(os.path.abspath(__file__))
PS = 4096
JPEG = open(os.path.join(HERE, "../../fuzz/corpus/decode/tiny.jpg"), "rb").read()


def write_env(records, num=None):
    d = tempfile.mkdtemp()
    env = lmdb.open(d, map_size=1 << 24, subdir=True, lock=True)
    with env.begin(write=True) as t:
        for i, (img, lab) in enumerate(records, 1):
            t.put(b"image-%09d" % i, img)
            t.put(b"label-%09d" % i, lab)
        t.put(b"num-samples", str(len(records) if num is None else num).encode())
    env.close()
    data = open(os.path.join(d, "data.mdb"), "rb").read()
    shutil.rmtree(d)
    return bytearray(data)


def base_records():
    big = JPEG + bytes((i * 7) & 0xFF for i in range(9000))   # overflow pages
    return [(JPEG, b"CHEWBACCA"), (JPEG, b"rain"), (big, b"Overflow"), (JPEG, b"last")]


def meta_off(page):            # MDB_meta inside meta page 0 or 1
    return page * PS + 16


def newer_meta(b):
    t0 = struct.unpack_from("<Q", b, meta_off(0) + 128)[0]
    t1 = struct.unpack_from("<Q", b, meta_off(1) + 128)[0]
    return 1 if t1 > t0 else 0


def put(b, off, fmt, v):
    struct.pack_into(fmt, b, off, v)
    return b


def both_metas(b, rel, fmt, v):
    for m in (0, 1):
        put(b, meta_off(m) + rel, fmt, v)
    return b


def leaf_find(b, key):         # offset of key in a leaf page (branch pages hold keys too)
    i = b.find(key)
    while i >= 0 and not struct.unpack_from("<H", b, i - i % PS + 10)[0] & 0x02:
        i = b.find(key, i + 1)
    assert i > 8, key
    return i


def node_of(b, key):           # offset of the leaf node whose key is `key`
    return leaf_find(b, key) - 8


def main():
    base = write_env(base_records())
    many = write_env([(JPEG + bytes([i]), b"w%02d" % i) for i in range(60)])
    out = {}
    out["base"] = base
    out["num_huge"] = write_env(base_records(), num=9999999999999999999)
    out["num_text"] = write_env(base_records(), num="four")
    out["bad_magic"] = both_metas(bytearray(base), 0, "<I", 0xDEADBEEF)
    out["bad_version"] = both_metas(bytearray(base), 4, "<I", 7)
    out["psize_zero"] = both_metas(bytearray(base), 24, "<I", 0)
    out["psize_odd"] = both_metas(bytearray(base), 24, "<I", 3000)
    out["mapsize_huge"] = both_metas(bytearray(base), 16, "<Q", 1 << 62)
    out["last_pg_beyond"] = both_metas(bytearray(base), 120, "<Q", 5000)
    m = newer_meta(base)
    out["root_beyond"] = put(bytearray(base), meta_off(m) + 72 + 40, "<Q", 999)
    out["root_meta"] = put(bytearray(base), meta_off(m) + 72 + 40, "<Q", 1)
    out["depth_huge"] = put(bytearray(base), meta_off(m) + 72 + 6, "<H", 200)
    out["entries_huge"] = put(bytearray(base), meta_off(m) + 72 + 32, "<Q", 1 << 60)
    out["dupsort"] = put(bytearray(base), meta_off(m) + 72 + 4, "<H", 0x04)
    out["meta1_zeroed"] = bytearray(base[:PS]) + bytearray(PS) + base[2 * PS:]
    out["truncated"] = bytearray(base[: 2 * PS + 1000])
    out["short"] = bytearray(base[:700])
    # record 3's image: its overflow page number past the end of the file,
    # then past the end of the map
    n = node_of(base, b"image-000000003")
    out["overflow_beyond_file"] = put(bytearray(base), n + 8 + 15, "<Q", len(base) // PS + 2)
    out["overflow_beyond_map"] = put(bytearray(base), n + 8 + 15, "<Q", 1 << 40)
    # record 3's image: a value size of 3 GiB on its overflow page
    out["overflow_size"] = put(bytearray(base), n, "<I", 0xC0000000)
    # record 2's label: a size that runs past its page
    n2 = node_of(base, b"label-000000002")
    out["label_size"] = put(bytearray(base), n2, "<H", 0xFFF0)
    # a leaf page whose lower bound claims 2000 nodes
    leaf = n2 - n2 % PS
    out["leaf_lower"] = put(bytearray(base), leaf + 12, "<H", 4000)
    # many: the branch page's second child pointer past the end, and to itself
    bm = newer_meta(many)
    root = struct.unpack_from("<Q", many, meta_off(bm) + 72 + 40)[0]
    depth = struct.unpack_from("<H", many, meta_off(bm) + 72 + 6)[0]
    assert depth >= 2, depth
    out["many"] = many
    rp = root * PS
    ptr1 = struct.unpack_from("<H", many, rp + 16 + 2)[0]   # second node of the branch
    b = bytearray(many)
    lo, hi = struct.unpack_from("<HH", b, rp + ptr1)
    out["branch_beyond"] = put(bytearray(many), rp + ptr1, "<I", 90000)   # pgno low 32 bits
    out["branch_self"] = put(bytearray(many), rp + ptr1, "<I", root)
    # many: every node pointer of the leaves holding image-000000021..40
    # aimed past the page, past the end of the file (SIGBUS in the mapping)
    b = bytearray(many)
    for rec in range(21, 41):
        i = leaf_find(many, b"image-%09d" % rec)
        lp = i - i % PS
        nkeys = (struct.unpack_from("<H", many, lp + 12)[0] - 16) // 2
        for k in range(nkeys):
            put(b, lp + 16 + 2 * k, "<H", 0xFFF0)
    out["leaf_ptrs_beyond"] = b
    for name, data in out.items():
        with open(os.path.join(HERE, name + ".mdb"), "wb") as f:
            f.write(bytes(data))
    print(len(out), "files")


if __name__ == "__main__":
    main()
