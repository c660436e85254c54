# bench/report_catalog.py OUTDIR DEMO N - a synthetic N-sample dataset for
# timing `tessera report`: the catalog (schema of the demo dataset DEMO, made
# by `make demo`) with N samples whose captions are the real captions of
# ../shared/data/captions (flickr8k, one in ten a long IIW caption), an
# image and a text member each, a reject every 83 records (six reasons),
# shards of 10,000 samples that are hard links of DEMO's shard, so the
# contact sheet's members are real images.
import json, os, random, sqlite3, sys

out, demo, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
shared = os.environ.get("TS_SHARED", "../shared")
short = [json.loads(l)["caption"] for l in open(shared + "/data/captions/flickr8k.jsonl")]
long_ = [json.loads(l)["caption"] for l in open(shared + "/data/captions/long_iiw_model.jsonl")]
src = sqlite3.connect(demo + "/catalog.sqlite")
schema = [r[0] for r in src.execute("select sql from sqlite_master where sql is not null")]
version = src.execute("pragma user_version").fetchone()[0]
mem = src.execute("select m.offset, m.size, m.hash from members m join samples s using (key)"
                  " where m.name = s.key || '.jpg' order by s.key").fetchall()
os.makedirs(out + "/shards")
db = sqlite3.connect(out + "/catalog.sqlite")
for sql in schema:
    db.execute(sql)
db.execute("pragma user_version = %d" % version)
rnd = random.Random(1)
reasons = ["image.corrupt", "image.truncated", "source.missing", "caption.empty", "image.too_small", "duplicate"]
sizes = [(640, 480), (480, 640), (1024, 768), (800, 800), (1920, 1080), (300, 200), (4000, 3000)]
rec = 0
samples, members, rejects = [], [], []
for i in range(n):
    if i % 83 == 0:
        rejects.append((rec, "list.jsonl:%d" % (rec + 1), "image", rnd.choice(reasons), "cannot decode 'img/%d.jpg'" % rec))
        rec += 1
    c = long_[i % len(long_)] if i % 10 == 0 else short[i % len(short)]
    off, size, h = mem[i % len(mem)]
    k = "%09d" % rec
    w, hh = rnd.choice(sizes)
    samples.append((k, rec, i // 10000, 256, 256, w, hh, "jpeg", h, h, "img/%d.jpg" % i, c, json.dumps([c])))
    members.append((k, i // 10000, k + ".jpg", off, size, h))
    members.append((k, i // 10000, k + ".txt", 0, len(c.encode()), None))
    rec += 1
db.executemany("insert into samples(key, record, shard, width, height, orig_width, orig_height, format,"
               " content_hash, image_hash, source, caption, captions) values(?,?,?,?,?,?,?,?,?,?,?,?,?)", samples)
db.executemany("insert into members(key, shard, name, offset, size, hash) values(?,?,?,?,?,?)", members)
db.executemany("insert into rejects(record, source, stage, reason, message) values(?,?,?,?,?)", rejects)
nshards = (n + 9999) // 10000
for s in range(nshards):
    name = "%06d.tar" % s
    os.link(demo + "/shards/000000.tar", out + "/shards/" + name)
    db.execute("insert into shards(idx, name, samples, bytes, hash, complete, first_record, end_record)"
               " values(?, ?, ?, ?, '', 1, ?, ?)", (s, name, min(10000, n - s * 10000),
                                                    os.path.getsize(out + "/shards/" + name), s * 10000, (s + 1) * 10000))
db.execute("insert into runs(command, version, options, started, ended, status, summary)"
           " values('bench/report_catalog.py', '', '{}', '', '', 'ok', '{}')")
db.commit()
