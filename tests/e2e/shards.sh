#!/bin/sh
# e2e: partitions (--part, Slurm, Kubernetes) merged back equal a single run;
# shards ls/cat/verify; the loader sidecars against their formats; the end of
# a run reads no shard back (the MD5 of shardindex.json is streamed).
SUITE=shards
. tests/e2e/lib.sh
SAMPLE=tests/data/sample
PY=$(command -v python3 || true)
OPTS="-q --threads 2 --shard-samples 4"

# fixtures, made by the first case that needs them (every case runs alone)
single() { [ -f "$TMP/single/catalog.sqlite" ] || ts ingest $OPTS "$SAMPLE" -o "$TMP/single"; }
parts() {
	[ -f "$TMP/parts/part-00002/catalog.sqlite" ] && return 0
	for i in 0 1 2; do
		ts ingest $OPTS --part $i/3 "$SAMPLE" -o "$TMP/parts" || return 1
	done
}
merged() { [ -f "$TMP/merged/catalog.sqlite" ] || { parts && ts shards merge -q "$TMP"/parts/part-* -o "$TMP/merged"; }; }

parts_merge() {
	parts || return 1
	exists -d "$TMP/parts/part-00000" && exists -d "$TMP/parts/part-00002" || return 1
	# the partitions split the samples: r % 3 == i
	for i in 0 1 2; do
		bad=$(sqlite3 "$TMP/parts/part-0000$i/catalog.sqlite" "select count(*) from samples where record % 3 != $i")
		check "$bad" -eq 0 || return 1
	done
	merged && single || return 1
	same_dataset "$TMP/merged" "$TMP/single"
}

slurm_env() {
	parts || return 1
	SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 "$TESSERA" ingest $OPTS --json "$SAMPLE" -o "$TMP/slurm" > "$TMP/slurm.json" || return 1
	has '"source": "slurm"' "$TMP/slurm.json" || return 1
	same_dataset "$TMP/slurm/part-00001" "$TMP/parts/part-00001" || return 1
	# MIN/MAX form: tasks 5..7, task 7 is partition 2
	SLURM_ARRAY_TASK_ID=7 SLURM_ARRAY_TASK_MIN=5 SLURM_ARRAY_TASK_MAX=7 "$TESSERA" ingest $OPTS "$SAMPLE" -o "$TMP/slurm2" || return 1
	same_dataset "$TMP/slurm2/part-00002" "$TMP/parts/part-00002"
}

kubernetes_env() {
	parts || return 1
	JOB_COMPLETION_INDEX=2 "$TESSERA" ingest $OPTS --parts 3 --json "$SAMPLE" -o "$TMP/k8s" > "$TMP/k8s.json" || return 1
	has '"source": "kubernetes"' "$TMP/k8s.json" || return 1
	same_dataset "$TMP/k8s/part-00002" "$TMP/parts/part-00002" || return 1
	JOB_COMPLETION_INDEX=2 "$TESSERA" ingest $OPTS "$SAMPLE" -o "$TMP/k8s-bad" 2>/dev/null
	check $? -eq 2
}

merge_refuses() {
	parts && merged || return 1
	"$TESSERA" shards merge -q "$TMP/parts/part-00000" "$TMP/parts/part-00001" -o "$TMP/m2" 2>/dev/null
	check $? -eq 1 || return 1
	"$TESSERA" shards merge -q "$TMP/parts/part-00000" "$TMP/parts/part-00000" "$TMP/parts/part-00001" -o "$TMP/m3" 2>/dev/null
	check $? -eq 1 || return 1
	# the same merge again resumes a finished dataset: nothing changes
	(cd "$TMP/merged/shards" && md5sum *) > "$TMP/m.before"
	"$TESSERA" shards merge -q "$TMP"/parts/part-* -o "$TMP/merged" || { echo "re-run of a finished merge failed"; return 1; }
	(cd "$TMP/merged/shards" && md5sum *) | cmp -s - "$TMP/m.before" || { echo "a re-run changed the merged shards"; return 1; }
	# a merge of other partitions into it is refused
	"$TESSERA" shards merge -q "$TMP/parts/part-00001" "$TMP/parts/part-00000" "$TMP/parts/part-00002" -o "$TMP/merged" 2> "$TMP/err"
	[ $? -eq 1 ] || { echo "merge of other partitions into a merged dataset was not refused"; return 1; }
	grep -q "other inputs or options" "$TMP/err" || { echo "message: $(cat "$TMP/err")"; return 1; }
}

ls_cat() {
	single || return 1
	ts shards ls "$TMP/single" > "$TMP/ls" || return 1
	n=$(ls "$TMP/single/shards/"*.tar | wc -l)
	check "$(grep -c 'complete' "$TMP/ls")" -eq "$n" || return 1
	key=$(sqlite3 "$TMP/single/catalog.sqlite" "select key from samples order by key limit 1 offset 5")
	[ "$("$TESSERA" shards cat "$TMP/single" "$key" --member txt)" = \
	  "$(sqlite3 "$TMP/single/catalog.sqlite" "select caption from samples where key='$key'")" ] || return 1
	ts shards cat "$TMP/single" "$key" > "$TMP/img" || return 1
	shard=$(sqlite3 "$TMP/single/catalog.sqlite" "select s.name from samples x join shards s on s.idx = x.shard where x.key='$key'")
	tar xOf "$TMP/single/shards/$shard" "$key.jpg" | cmp - "$TMP/img" || return 1
	"$TESSERA" shards cat "$TMP/single" 999999999 > /dev/null 2>&1; [ $? -eq 1 ]
}

verify_ok_and_flip() {
	single || return 1
	"$TESSERA" shards verify "$TMP/single" > "$TMP/v0" || { cat "$TMP/v0"; return 1; }
	for ext in jpg txt json; do
		cp -r "$TMP/single" "$TMP/flip-$ext"
		row=$(sqlite3 -separator ' ' "$TMP/single/catalog.sqlite" \
		  "select m.key, s.name, m.offset + m.size / 2 from members m join shards s on s.idx = m.shard where m.name like '%.$ext' order by m.key limit 1 offset 7")
		set -- $row
		key=$1 shard=$2 off=$3
		b=$(od -An -tu1 -j "$off" -N1 "$TMP/flip-$ext/shards/$shard" | tr -d ' ')
		printf "$(printf '\\%03o' $(( (b + 1) % 256 )))" | dd of="$TMP/flip-$ext/shards/$shard" bs=1 seek="$off" conv=notrunc 2>/dev/null
		"$TESSERA" shards verify "$TMP/flip-$ext" > "$TMP/v-$ext"
		[ $? -eq 1 ] || { echo "verify did not fail for a flipped byte in .$ext"; return 1; }
		grep -q "sample $key" "$TMP/v-$ext" || { echo "verify did not name $key:"; cat "$TMP/v-$ext"; return 1; }
	done
}

sidecars() {
	single || return 1
	[ -n "$PY" ] || { echo "python3 missing"; return 1; }
	"$PY" - "$TMP/single" <<'PYEOF'
import hashlib, json, os, sqlite3, sys, tarfile
out = sys.argv[1]
sd = os.path.join(out, "shards")
db = sqlite3.connect(os.path.join(out, "catalog.sqlite"))
shards = db.execute("select idx, name, samples, bytes, first_record, end_record from shards order by idx").fetchall()
sizes = json.load(open(os.path.join(sd, "sizes.json")))
assert sizes == {s[1]: s[2] for s in shards}, sizes
wids = json.load(open(os.path.join(sd, "shardindex.json")))
assert wids["__kind__"] == "wids-shard-index-v1" and wids["wids_version"] == 1
assert [e["url"] for e in wids["shardlist"]] == [s[1] for s in shards]
for e, s in zip(wids["shardlist"], shards):
    raw = open(os.path.join(sd, s[1]), "rb").read()
    assert e["nsamples"] == s[2] and e["filesize"] == len(raw) == s[3], e
    assert e["md5sum"] == hashlib.md5(raw).hexdigest(), e
    base = s[1][:-4]
    # DALI index: "v1.2 N", then per sample: ext offset size name, repeated
    lines = open(os.path.join(sd, base + ".idx")).read().splitlines()
    assert lines[0] == "v1.2 %d" % s[2], lines[0]
    assert len(lines) == 1 + s[2]
    with tarfile.open(os.path.join(sd, s[1])) as tf:
        members = {m.name: m for m in tf.getmembers()}
    for line in lines[1:]:
        f = line.split(" ")
        assert len(f) % 4 == 0, line
        keys = set()
        for i in range(0, len(f), 4):
            ext, off, size, name = f[i], int(f[i + 1]), int(f[i + 2]), f[i + 3]
            m = members[name]
            assert name.split(".", 1)[1] == ext and m.offset_data == off and m.size == size, line
            keys.add(name.split(".", 1)[0])
        assert len(keys) == 1, line
    st = json.load(open(os.path.join(sd, base + "_stats.json")))
    for k in ("count", "successes", "failed_to_download", "failed_to_resize", "duration",
              "start_time", "end_time", "status_dict"):
        assert k in st, k
    nrej = db.execute("select count(*) from rejects where record >= ? and record < ?", (s[4], s[5])).fetchone()[0]
    assert st["successes"] == s[2] and st["count"] == s[5] - s[4] == s[2] + nrej, st
    assert st["failed_to_download"] + st["failed_to_resize"] == nrej, st
    assert sum(st["status_dict"].values()) == st["count"], st
PYEOF
}

index_regenerates() {
	single || return 1
	cp -r "$TMP/single" "$TMP/reindex"
	rm "$TMP/reindex/shards/"*.idx "$TMP/reindex/shards/sizes.json" "$TMP/reindex/shards/shardindex.json" "$TMP/reindex/shards/"*_stats.json
	ts shards index "$TMP/reindex" || return 1
	same_dataset "$TMP/reindex" "$TMP/single"
}

cli() {
	ts shards --help | has 'tessera shards verify' || return 1
	# each subcommand has its own usage and options
	ts shards cat --help | head -1 | has '^usage: tessera shards cat' || return 1
	ts shards merge -h | has -- '--output' || return 1
	ts shards verify --help | lacks -- '--member' || return 1
	ts shards verify -m json "$TMP" 2>/dev/null; check $? -eq 2 || return 1
	ts help shards | has 'merge' || return 1
	ts shards 2>/dev/null; check $? -eq 2 || return 1
	ts shards frob "$TMP" 2>/dev/null; check $? -eq 2 || return 1
	ts shards verify 2>/dev/null; check $? -eq 2 || return 1
	ts shards merge "$TMP/x" 2>/dev/null; check $? -eq 2 || return 1
	ts shards ls "$TMP/not-a-dataset" 2>/dev/null; check $? -eq 1 || return 1
	"$TESSERA" shards --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-shards.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts"
}

t cli cli
sqlite_store() {  # same samples as the tar store, deterministic, resumable, mergeable
	single || return 1
	ts ingest $OPTS --store sqlite "$SAMPLE" -o "$TMP/sq" || return 1
	ls "$TMP/sq/shards" | has '^000000\.sqlite$' || return 1
	ls "$TMP/sq/shards" | lacks '\.tar$' || return 1
	ts shards verify "$TMP/sq" > /dev/null || return 1
	check "$PY" != "" && { "$PY" - "$TMP/sq" "$TMP/single" <<'PYEOF' || return 1
import os, sqlite3, sys, tarfile
sq, tr = sys.argv[1], sys.argv[2]
tar_members = {}
for f in sorted(os.listdir(os.path.join(tr, "shards"))):
    if f.endswith(".tar"):
        with tarfile.open(os.path.join(tr, "shards", f)) as tf:
            for m in tf.getmembers():
                tar_members[m.name] = tf.extractfile(m).read()
sq_members = {}
cat = sqlite3.connect(os.path.join(sq, "catalog.sqlite"))
for (name,) in cat.execute("select name from shards order by idx"):
    db = sqlite3.connect(os.path.join(sq, "shards", name))
    for mname, key, data in db.execute("select name, key, data from members order by rowid"):
        assert mname.split(".", 1)[0] == key
        sq_members[mname] = bytes(data)
    # the catalog's offset is the rowid
    for mname, off in cat.execute("select m.name, m.offset from members m join shards s on s.idx = m.shard where s.name = ?", (name,)):
        assert db.execute("select name from members where rowid = ?", (off,)).fetchone()[0] == mname
assert sq_members == tar_members, (len(sq_members), len(tar_members))
PYEOF
	}
	# threads and a kill change nothing
	ts ingest -q --threads 1 --shard-samples 4 --store sqlite "$SAMPLE" -o "$TMP/sq1" || return 1
	same_dataset "$TMP/sq1" "$TMP/sq" || return 1
	TESSERA_CRASH_AT=shard-committed:2 "$TESSERA" ingest $OPTS --store sqlite "$SAMPLE" -o "$TMP/sqk" 2>/dev/null
	ts ingest $OPTS --store sqlite "$SAMPLE" -o "$TMP/sqk" || return 1
	same_dataset "$TMP/sqk" "$TMP/sq" || return 1
	# partitions merge back to the same files
	for i in 0 1; do "$TESSERA" ingest $OPTS --store sqlite --part $i/2 "$SAMPLE" -o "$TMP/sqp" || return 1; done
	ts shards merge -q "$TMP"/sqp/part-* -o "$TMP/sqm" || return 1
	same_dataset "$TMP/sqm" "$TMP/sq" || return 1
	# a damaged blob is named by verify
	cp -r "$TMP/sq" "$TMP/sqbad"
	sqlite3 "$TMP/sqbad/shards/000001.sqlite" "update members set data = x'00' || substr(data, 2) where name like '%.txt' and rowid = (select min(rowid) from members where name like '%.txt')"
	key=$(sqlite3 "$TMP/sqbad/shards/000001.sqlite" "select key from members where name like '%.txt' order by rowid limit 1")
	"$TESSERA" shards verify "$TMP/sqbad" > "$TMP/sqv"
	check $? -eq 1 && has "sample $key" "$TMP/sqv"
}

# ---- the end of a run reads no shard back (docs/formats.md, "Sidecars") ------
io_reads() {  # FILE: the read count TESSERA_FAULT=count printed there
	sed -n 's/^tessera: io calls: .* read=\([0-9]*\).*/\1/p' "$1"
}

md5_recorded() {  # DIR: for every tar shard, catalog md5 = md5sum of the file = shardindex.json
	d=$1
	sqlite3 "$d/catalog.sqlite" "select name || ' ' || ifnull(md5, 'NULL') from shards order by idx" > "$TMP/md5.cat"
	(cd "$d/shards" && for f in $(ls | grep '^[0-9]*\.tar$'); do echo "$f $(md5sum < "$f" | cut -d' ' -f1)"; done) > "$TMP/md5.file"
	cmp -s "$TMP/md5.cat" "$TMP/md5.file" || { echo "$d: catalog md5 (<) against md5sum (>):"; diff "$TMP/md5.cat" "$TMP/md5.file"; return 1; }
	"$PY" -c 'import json, sys
idx = json.load(open(sys.argv[1]))
print("\n".join(s["url"] + " " + s["md5sum"] for s in idx["shardlist"]))' "$d/shards/shardindex.json" > "$TMP/md5.idx" || return 1
	cmp -s "$TMP/md5.idx" "$TMP/md5.file" || { echo "$d: shardindex.json md5sum (<) against md5sum (>):"; diff "$TMP/md5.idx" "$TMP/md5.file"; return 1; }
}

no_reread() {
	single && parts || return 1
	rm -rf "$TMP/nr" "$TMP/nrk" "$TMP/nrm" "$TMP/nrs"
	TESSERA_FAULT=count "$TESSERA" ingest $OPTS "$SAMPLE" -o "$TMP/nr" 2> "$TMP/nr.err" || { cat "$TMP/nr.err"; return 1; }
	check_eq "shard files ingest read back" "$(io_reads "$TMP/nr.err")" 0 || return 1
	md5_recorded "$TMP/nr" || return 1
	same_dataset "$TMP/nr" "$TMP/single" || return 1
	# killed after two shards and resumed: the kept shards keep the MD5 the
	# catalog has, and the resumed run reads none of them
	TESSERA_CRASH_AT=shard-committed:2 "$TESSERA" ingest $OPTS "$SAMPLE" -o "$TMP/nrk" 2>/dev/null
	check_eq "killed ingest" "$?" 137 || return 1
	sqlite3 "$TMP/nrk/catalog.sqlite" "select idx || ' ' || md5 from shards where complete = 1 order by idx" > "$TMP/nrk.before"
	check_eq "shards the kill left" "$(wc -l < "$TMP/nrk.before")" 2 || return 1
	TESSERA_FAULT=count "$TESSERA" ingest $OPTS "$SAMPLE" -o "$TMP/nrk" 2> "$TMP/nrk.err" || { cat "$TMP/nrk.err"; return 1; }
	check_eq "shard files the resumed ingest read back" "$(io_reads "$TMP/nrk.err")" 0 || return 1
	sqlite3 "$TMP/nrk/catalog.sqlite" "select idx || ' ' || md5 from shards where idx < 2 order by idx" > "$TMP/nrk.after"
	cmp -s "$TMP/nrk.before" "$TMP/nrk.after" || { echo "the kept shards' MD5 changed:"; diff "$TMP/nrk.before" "$TMP/nrk.after"; return 1; }
	md5_recorded "$TMP/nrk" || return 1
	same_dataset "$TMP/nrk" "$TMP/single" || return 1
	# merge and a rewrite read none back either
	TESSERA_FAULT=count "$TESSERA" shards merge -q "$TMP"/parts/part-* -o "$TMP/nrm" 2> "$TMP/nrm.err" || { cat "$TMP/nrm.err"; return 1; }
	check_eq "shard files merge read back" "$(io_reads "$TMP/nrm.err")" 0 || return 1
	md5_recorded "$TMP/nrm" || return 1
	TESSERA_FAULT=count "$TESSERA" captions split -q --rule longclip "$TMP/nr" -o "$TMP/nrs" 2> "$TMP/nrs.err" || { cat "$TMP/nrs.err"; return 1; }
	check_eq "shard files captions split read back" "$(io_reads "$TMP/nrs.err")" 0 || return 1
	md5_recorded "$TMP/nrs" || return 1
	# shards index is the command that reads them: every tar, the same sidecars
	cp "$TMP/nr/shards/shardindex.json" "$TMP/nr.idx"
	TESSERA_FAULT=count "$TESSERA" shards index "$TMP/nr" 2> "$TMP/nri.err" || { cat "$TMP/nri.err"; return 1; }
	check_eq "tar shards shards index read" "$(io_reads "$TMP/nri.err")" "$(ls "$TMP/nr/shards" | grep -c '^[0-9]*\.tar$')" || return 1
	cmp "$TMP/nr/shards/shardindex.json" "$TMP/nr.idx"
}

if [ ! -f "$SAMPLE/EXPECTED.tsv" ]; then
	skip all "tests/data/sample is missing"
else
	t single single
	t parts_merge parts_merge
	t slurm_env slurm_env
	t kubernetes_env kubernetes_env
	t merge_refuses merge_refuses
	t ls_cat ls_cat
	t verify_ok_and_flip verify_ok_and_flip
	if [ -n "$PY" ]; then t sidecars sidecars; else skip sidecars "python3 not found"; fi
	t index_regenerates index_regenerates
	if [ -n "$PY" ]; then t no_reread no_reread; else skip no_reread "python3 not found"; fi
	t sqlite_store sqlite_store
fi
finish
