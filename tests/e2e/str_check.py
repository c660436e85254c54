#!/usr/bin/python3
"""Cross-checks for `tessera str`, run with Debian's python3 and its lmdb
module (python3-lmdb): the LMDB side is read and written by Python's own
binding, never by tessera's code.

The label filter here is a transcription of the CLIP4STR / PARSeq loader
(whitespace split and join, unicodedata NFKD, ASCII, the length limit,
the CharsetAdapter's case rule and regex), the ids one of its Tokenizer.
Subcommands (each exits 1 with a message on the first mismatch):

  gtlist SHARED OUT.txt             gt list: the shared crops and labels, then
                                    tricky labels on shared crops
  gtrandom SHARED OUT.txt N SEED    gt list of N random labels drawn from a pool of
                                    accents, ligatures, full-width forms, spaces,
                                    emoji, punctuation (seeded), on one shared crop
  write-env DIR SHARED N0 N1 [raw]  an LMDB written by python-lmdb: shared crops
                                    N0..N1-1 (raw: labels with Unicode), plus a
                                    cut JPEG
  check GT|ENV OUTENV CHARSET MAXLEN MINDIM [--no-filter] [--resize N]
                                    tessera's LMDB output against the reference
  ids CHARSET LABEL                 print the reference ids
  outside GT CHARSET                print {char: count} outside the charset
  dims FILE                         print WxH of a JPEG/PNG
"""
import json
import os
import re
import struct
import sys
import unicodedata

C36 = "0123456789abcdefghijklmnopqrstuvwxyz"
C62 = C36 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
C94 = C62 + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

# labels that exercise every step, each paired with a shared crop
TRICKY = [
    "Caf\u00e9", "\u00c5ngstr\u00f6m", "\ufb01sh", "\uff12\uff10\uff12\uff13",
    "I\u2764NY", "\U0001F600", "New York", "New\tYork\u3000City", "rock'n'roll",
    "a" * 25, "b" * 26, "abcdefghij klmnopqrstuvwxy", "abcdefghijkl\U0001F355mnopqrstuvwxy",
    "abcdefghijklmnopqrstuvwx\ufb01", "abcdefghijkl-mnopqrstuvwxy", "abcdefghijklmnopqrstuvwx\u00a8",
    "ab\u200bcd", "\u00a0\u2003", "HELLO-World!", "3rd\u00a0Ave.",
]


def charset_of(spec):
    return {"94": C94, "36": C36, "62": C62}.get(spec) or open(spec, encoding="utf-8").read().rstrip("\r\n")


def ref_filter(label, charset, max_len):
    label = "".join(label.split())
    label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    if len(label) > max_len:
        return None, "label.too_long"
    if charset == charset.lower():
        label = label.lower()
    elif charset == charset.upper():
        label = label.upper()
    label = re.sub("[^%s]" % re.escape(charset), "", label)
    if not label:
        return None, "label.empty_after_filter"
    return label, None


def ref_ids(label, charset):
    itos = ("[E]",) + tuple(charset) + ("[B]", "[P]")
    stoi = {s: i for i, s in enumerate(itos)}
    return [stoi["[B]"]] + [stoi[c] for c in label] + [stoi["[E]"]]


def dims(b):
    if b[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", b[16:24])
    if b[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(b):
            if b[i] != 0xFF:
                return None
            m = b[i + 1]
            if m == 0xFF:
                i += 1
                continue
            if m in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                h, w = struct.unpack(">HH", b[i + 5:i + 9])
                return w, h
            i += 2 + struct.unpack(">H", b[i + 2:i + 4])[0]
    return None


def shared_rows(shared):
    return [json.loads(l) for l in open(os.path.join(shared, "data/str/labels.jsonl"), encoding="utf-8")]


def gtlist(shared, out):
    rows = shared_rows(shared)
    root = os.path.join(shared, "data/str")
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write("%s %s\n" % (r["image"], r["label"]))
        for i, t in enumerate(TRICKY):
            f.write("%s\t%s\n" % (rows[i % len(rows)]["image"], t))
    return root


POOL = ("abcXYZ019-'.!~ \t\u00a0\u2003\u3000\u200b\u00e9\u00c5\u00f6\u00df\u00e6\u0153"
        "\ufb01\ufb02\ufb03\uff11\uff21\uff41\uff01\u2460\u00bd\u2122\u00a8\u00b4\u0301"
        "\u2764\u4e2d\u0416\u03a9\u00aa\u00b2\u2075\u2103\u212b\u01c4\u1e9e")
EMOJI = ("\U0001F600", "\U0001F355", "\U0001D400")   # emoji, MATHEMATICAL BOLD CAPITAL A


def gtrandom(shared, out, n, seed):
    import random
    rnd = random.Random(seed)
    rows = shared_rows(shared)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            k = rnd.choice((1, 3, 8, 20, 24, 25, 26, 27, 30))
            lab = "".join(rnd.choice(EMOJI) if rnd.random() < 0.03 else rnd.choice(POOL) for _ in range(k))
            lab = lab.strip() or "x"          # the list format cannot carry edge whitespace
            f.write("%s %s\n" % (rows[i % len(rows)]["image"], lab.replace("\n", "")))
    return os.path.join(shared, "data/str")


def read_gt(gt, root):
    """(label, image bytes or None) per record, as the reference reads a list."""
    recs = []
    for line in open(gt, encoding="utf-8"):
        line = line.strip("\n")
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) < 2:
            recs.append((None, None))
            continue
        p = os.path.join(root, parts[0])
        recs.append((parts[1], open(p, "rb").read() if os.path.exists(p) else None))
    return recs


def read_env(d):
    import lmdb
    env = lmdb.open(d, readonly=True, lock=False)
    with env.begin() as t:
        n = int(t.get(b"num-samples"))
        recs = []
        for i in range(1, n + 1):
            lab = t.get(b"label-%09d" % i)
            img = t.get(b"image-%09d" % i)
            recs.append((lab.decode() if lab is not None else None, bytes(img) if img is not None else None))
        keys = sum(1 for _ in t.cursor())
    env.close()
    return recs, keys


def write_env(d, shared, n0, n1, raw):
    import lmdb
    rows = shared_rows(shared)[n0:n1]
    os.makedirs(d, exist_ok=True)
    env = lmdb.open(d, map_size=1 << 26)
    cnt = 1
    with env.begin(write=True) as t:
        for k, r in enumerate(rows):
            img = open(os.path.join(shared, "data/str", r["image"]), "rb").read()
            label = r["label"] if not raw else TRICKY[k % len(TRICKY)]
            t.put(b"image-%09d" % cnt, img)
            t.put(b"label-%09d" % cnt, label.encode())
            cnt += 1
        img = open(os.path.join(shared, "data/str", rows[0]["image"]), "rb").read()
        t.put(b"image-%09d" % cnt, img[:len(img) // 3])     # a cut JPEG/PNG
        t.put(b"label-%09d" % cnt, b"cut")
        t.put(b"num-samples", str(cnt).encode())
    env.close()


def check(src, out, cs_spec, max_len, min_dim, no_filter, resize):
    charset = charset_of(cs_spec)
    if os.path.isdir(src):
        recs, _ = read_env(src)
    else:
        recs = read_gt(src, os.environ["STR_ROOT"])
    got, keys = read_env(out)
    report = [json.loads(l) for l in open(os.path.join(out, "str-report.jsonl"), encoding="utf-8")]
    rejects = {r["record"]: r for r in report if r["type"] == "reject"}
    changed = {r["record"]: r for r in report if r["type"] == "changed"}
    want = []
    for i, (label, img) in enumerate(recs):
        if label is None or img is None:
            if i not in rejects:
                sys.exit("record %d: no label or image, not rejected" % i)
            continue
        if no_filter:
            lab, why = label, None
        else:
            lab, why = ref_filter(label, charset, max_len)
        if why is None and ((img[:2] == b"\xff\xd8" and b"\xff\xd9" not in img[-4:]) or
                            (img[:4] == b"\x89PNG" and b"IEND" not in img[-12:])):
            why = "image."              # a cut JPEG or PNG: any image.* reason
        if why is None and min_dim:
            w, h = dims(img)
            if w < min_dim or h < min_dim:
                why = "image.too_small"
        if why:
            if i not in rejects or not rejects[i]["reason"].startswith(why):
                sys.exit("record %d (%r): want reject %s, got %r" % (i, label, why, rejects.get(i)))
            continue
        if i in rejects:
            sys.exit("record %d (%r): rejected %r, the reference keeps %r" % (i, label, rejects[i], lab))
        if (lab != label) != (i in changed) or (i in changed and changed[i]["original_label"] != label):
            sys.exit("record %d: changed-label record wrong: %r" % (i, changed.get(i)))
        want.append((lab, img))
    if len(got) != len(want):
        sys.exit("num-samples %d, want %d" % (len(got), len(want)))
    if keys != 2 * len(want) + 1:
        sys.exit("%d keys, want %d" % (keys, 2 * len(want) + 1))
    for k, ((wl, wi), (gl, gi)) in enumerate(zip(want, got)):
        if wl != gl:
            sys.exit("label-%09d: %r, want %r" % (k + 1, gl, wl))
        if resize:
            if dims(gi) != (resize, resize):
                sys.exit("image-%09d: %r, want %dx%d" % (k + 1, dims(gi), resize, resize))
            if gi[:4] != wi[:4]:
                sys.exit("image-%09d: format changed by the resize" % (k + 1))
        elif gi != wi:
            sys.exit("image-%09d: bytes differ from the input" % (k + 1))
    print("%d records, %d kept, %d rejected" % (len(recs), len(want), len(rejects)))


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "gtlist":
        print(gtlist(a[0], a[1]))
    elif cmd == "gtrandom":
        print(gtrandom(a[0], a[1], int(a[2]), int(a[3])))
    elif cmd == "write-env":
        write_env(a[0], a[1], int(a[2]), int(a[3]), len(a) > 4)
    elif cmd == "check":
        resize = int(a[a.index("--resize") + 1]) if "--resize" in a else 0
        check(a[0], a[1], a[2], int(a[3]), int(a[4]), "--no-filter" in a, resize)
    elif cmd == "ids":
        lab, why = ref_filter(a[1], charset_of(a[0]), 25)
        print(json.dumps(ref_ids(lab, charset_of(a[0]))) if lab else why)
    elif cmd == "outside":
        charset = charset_of(a[1])
        adapt = (lambda c: c.lower()) if charset == charset.lower() else \
                (lambda c: c.upper()) if charset == charset.upper() else (lambda c: c)
        counts = {}
        for label, img in read_gt(a[0], os.environ["STR_ROOT"]):
            for c in label or "":
                if not c.isspace() and c not in charset and adapt(c) not in charset:
                    counts[c] = counts.get(c, 0) + 1
        print(json.dumps(counts, sort_keys=True))
    elif cmd == "dims":
        print("%dx%d" % dims(open(a[0], "rb").read()))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
