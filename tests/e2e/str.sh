#!/bin/sh
# e2e: tessera str ingest|stats|ids on the shared word crops and on LMDB
# environments written by Python's lmdb module (Debian python3-lmdb) at
# test time; tessera's LMDB output is read back by the same module and
# checked against a transcription of the CLIP4STR loader's label filter
# (tests/e2e/str_check.py).  Also: --store wds, --resize stretch,
# --min-image-dim, damaged data.mdb files, and the CLI.
SUITE=str
. tests/e2e/lib.sh
DATA=$SHARED/data/str
PYL=/usr/bin/python3       # Debian's python3, where python3-lmdb lives
CHK="$PYL tests/e2e/str_check.py"
PY=$(command -v python3 || true)

cli() {
	ts str --help | has 'tessera str ingest' || return 1
	# each subcommand has its own usage and options
	ts str ingest --help | head -1 | has '^usage: tessera str ingest' || return 1
	ts str ingest --help | has -- '--threads' || return 1
	ts str stats --help | head -1 | has '^usage: tessera str stats' || return 1
	ts str stats --help | lacks -- '--store' || return 1
	ts str ids -h | head -1 | has '^usage: tessera str ids' || return 1
	ts str stats --store wds x 2>/dev/null; check $? -eq 2 || return 1
	ts help str | has -- '--max-label-length' || return 1
	ts --help | has '^  str ' || return 1
	ts str 2>/dev/null; check $? -eq 2 || return 1
	ts str frob 2>/dev/null; check $? -eq 2 || return 1
	"$TESSERA" str ingest /dev/null 2>/dev/null; check $? -eq 2 || return 1      # no -o
	ts str ingest --store zip x -o y 2>/dev/null; check $? -eq 2 || return 1
	ts str ids --charset /nonexistent ab 2> "$TMP/err"; check $? -eq 2 || return 1
	has "cannot open charset file '/nonexistent'" "$TMP/err" || return 1
	ts str stats "$TMP/nothing-here" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "cannot open '.*nothing-here'" "$TMP/err" || return 1
	mkdir -p "$TMP/empty-tree/a/b"
	ts str ingest "$TMP/empty-tree" -o "$TMP/x" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "no LMDB environment" "$TMP/err" || return 1
	"$TESSERA" str --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-str.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts" || return 1
	has 'tessera-str' docs/man/tessera.1 && has 'tessera str' README.md
}

ids() {
	for cs in 94 36 62; do
		for label in "Caf\303\251 12" "HELLO-World!" "$(printf '\357\254\201sh')" "a1Z~"; do
			label=$(printf "$label")
			want=$($CHK ids $cs "$label") || return 1
			got=$("$TESSERA" str ids --charset $cs "$label") || return 1
			[ "$got" = "$want" ] || { echo "ids $cs '$label': got $got, want $want"; return 1; }
		done
	done
	# a label the filter drops: exit 1 with the reason
	ts str ids "$(printf '\360\237\230\200')" 2> "$TMP/err"; check $? -eq 1 || return 1
	has 'label.empty_after_filter' "$TMP/err"
}

# gt list of the shared crops plus tricky labels -> LMDB, read back by python-lmdb
gt_lmdb() {
	root=$($CHK gtlist "$SHARED" "$TMP/gt.txt") || return 1
	for cs in 94 36; do
		ts str ingest -q --image-root "$root" --charset $cs "$TMP/gt.txt" -o "$TMP/gt-$cs" || return 1
		STR_ROOT=$root $CHK check "$TMP/gt.txt" "$TMP/gt-$cs" $cs 25 0 || return 1
	done
	# the same records with the filter off: labels kept byte for byte
	ts str ingest -q --filter none --image-root "$root" "$TMP/gt.txt" -o "$TMP/gt-raw" || return 1
	STR_ROOT=$root $CHK check "$TMP/gt.txt" "$TMP/gt-raw" 94 25 0 --no-filter || return 1
	# a second run refuses to overwrite, --overwrite replaces
	ts str ingest -q --image-root "$root" "$TMP/gt.txt" -o "$TMP/gt-94" 2> "$TMP/err"; check $? -eq 1 || return 1
	has 'already exists' "$TMP/err" || return 1
	ts str ingest -q --overwrite --max-label-length 26 --image-root "$root" "$TMP/gt.txt" -o "$TMP/gt-94" || return 1
	STR_ROOT=$root $CHK check "$TMP/gt.txt" "$TMP/gt-94" 94 26 0
}

# random labels from a pool of hard characters, against the reference filter
gt_random() {
	root=$($CHK gtrandom "$SHARED" "$TMP/gtrand.txt" 1500 5) || return 1
	for cs in 94 36; do
		ts str ingest -q --image-root "$root" --charset $cs "$TMP/gtrand.txt" -o "$TMP/rand-$cs" || return 1
		STR_ROOT=$root $CHK check "$TMP/gtrand.txt" "$TMP/rand-$cs" $cs 25 0 || return 1
	done
}

# bad records in a gt list: each a reject with source and reason, the run goes on
gt_bad() {
	mkdir -p "$TMP/bad/img"
	cp "$DATA/images/parseq__cute-184.jpg" "$TMP/bad/img/ok.jpg"
	head -c 700 "$DATA/images/parseq__cute-184.jpg" > "$TMP/bad/img/cut.jpg"
	echo '<html>not an image</html>' > "$TMP/bad/img/page.jpg"
	printf 'img/ok.jpg SALMON\nimg/missing.jpg x\n\nimg/ok.jpg\n../../etc/passwd root\nimg/cut.jpg CUT\nimg/page.jpg PAGE\nimg/ok.jpg \360\237\230\200\nimg/ok.jpg caf\351\n' > "$TMP/bad/gt.txt"
	ts str ingest "$TMP/bad/gt.txt" -o "$TMP/bad/out" 2> "$TMP/err" || return 1
	for want in "gt.txt:2' (source.missing)" "gt.txt:4' (record.bad_row)" "gt.txt:5' (source.escapes_root)" \
		"gt.txt:6' (image.truncated)" "gt.txt:7' (image.not_an_image)" "gt.txt:8' (label.empty_after_filter)" \
		"gt.txt:9' (caption.invalid_utf8)"; do
		grep -qF "$want" "$TMP/err" || { echo "missing: $want"; cat "$TMP/err"; return 1; }
	done
	check "$(grep -c '"type":"reject"' "$TMP/bad/out/str-report.jsonl")" -eq 7 || return 1
	$PYL -c "
import lmdb, sys
t = lmdb.open(sys.argv[1], readonly=True, lock=False).begin()
assert t.get(b'num-samples') == b'1' and t.get(b'label-000000001') == b'SALMON', 'bad output'
assert t.get(b'image-000000001') == open(sys.argv[2], 'rb').read()
" "$TMP/bad/out" "$TMP/bad/img/ok.jpg"
}

# a tree of environments written by python-lmdb: each its own dataset,
# names kept; test/ sets keep their labels; a cut image is skipped
tree() {
	for d in train/real/setA:0:12 train/real/setB:12:20:raw test/IIIT5k:20:30:raw; do
		set -- $(echo "$d" | tr ':' ' ')
		$CHK write-env "$TMP/tree/$1" "$SHARED" $2 $3 $4 || return 1
	done
	"$TESSERA" str ingest "$TMP/tree" -o "$TMP/tree-out" 2> "$TMP/err" || { cat "$TMP/err"; return 1; }
	for d in train/real/setA train/real/setB test/IIIT5k; do
		[ -f "$TMP/tree-out/$d/data.mdb" ] || { echo "no $d"; return 1; }
	done
	has "IIIT5k' looks like an evaluation set" "$TMP/err" || return 1
	$CHK check "$TMP/tree/train/real/setA" "$TMP/tree-out/train/real/setA" 94 25 0 || return 1
	$CHK check "$TMP/tree/train/real/setB" "$TMP/tree-out/train/real/setB" 94 25 0 || return 1
	$CHK check "$TMP/tree/test/IIIT5k" "$TMP/tree-out/test/IIIT5k" 94 25 0 --no-filter || return 1
	# --filter clip4str applies to test sets too, here with the test charset
	ts str ingest -q --filter clip4str --charset 36 "$TMP/tree/test" -o "$TMP/test36" || return 1
	$CHK check "$TMP/tree/test/IIIT5k" "$TMP/test36/IIIT5k" 36 25 0
}

# the shared mmocr environments: imgs copied byte for byte, the broken
# one's image rejected, the label-only one's records missing their images
shared_lmdb() {
	ts str ingest --json "$DATA/lmdb" -o "$TMP/mmocr" > "$TMP/sum.json" 2> "$TMP/err" || return 1
	$CHK check "$DATA/lmdb/mmocr_imgs.lmdb" "$TMP/mmocr/mmocr_imgs.lmdb" 94 25 0 || return 1
	has "mmocr_broken.lmdb:000000001' (image\." "$TMP/err" || return 1
	$PYL - "$TMP/sum.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
d = {x["dataset"]: x for x in s["datasets"]}
assert sorted(d) == ["mmocr_broken.lmdb", "mmocr_imgs.lmdb", "mmocr_label.lmdb"], d
assert d["mmocr_imgs.lmdb"]["samples"] == 10 and d["mmocr_broken.lmdb"]["samples"] == 0
assert d["mmocr_label.lmdb"]["rejects_by_reason"] == {"source.missing": 10}, d["mmocr_label.lmdb"]
EOF
}

# under a ulimit -v (usual on clusters) the environments' 1 TiB map sizes do
# not fit the address space: they are read through a map of the file alone,
# and the output map is halved until it fits; the result is the same
lmdb_under_ulimit() {
	ts str ingest -q "$DATA/lmdb" -o "$TMP/ul-ref" 2> /dev/null || return 1
	(ulimit -v 4000000 && exec "$TESSERA" str ingest -q "$DATA/lmdb" -o "$TMP/ul") 2> "$TMP/ul.err"
	rc=$?
	check_eq "str ingest under ulimit -v 4000000 (stderr: $(grep -v rejected "$TMP/ul.err" | head -2))" "$rc" 0 || return 1
	$CHK check "$DATA/lmdb/mmocr_imgs.lmdb" "$TMP/ul/mmocr_imgs.lmdb" 94 25 0 || return 1
	(ulimit -v 4000000 && exec "$TESSERA" str stats "$DATA/lmdb") > "$TMP/ul.stats" 2>/dev/null || return 1
	ts str stats "$DATA/lmdb" 2>/dev/null | cmp - "$TMP/ul.stats"
}

resize() {
	root=$($CHK gtlist "$SHARED" "$TMP/gtr.txt") || return 1
	ts str ingest -q --resize stretch --size 224 --image-root "$root" "$TMP/gtr.txt" -o "$TMP/r224" || return 1
	STR_ROOT=$root $CHK check "$TMP/gtr.txt" "$TMP/r224" 94 25 0 --resize 224
}

min_dim() {
	root=$($CHK gtlist "$SHARED" "$TMP/gtm.txt") || return 1
	ts str ingest -q --min-image-dim 40 --image-root "$root" "$TMP/gtm.txt" -o "$TMP/m40" || return 1
	has '"reason":"image.too_small"' "$TMP/m40/str-report.jsonl" || return 1
	STR_ROOT=$root $CHK check "$TMP/gtm.txt" "$TMP/m40" 94 25 40
}

# --store wds: the dataset contract; changed labels keep their original
wds() {
	root=$($CHK gtlist "$SHARED" "$TMP/gtw.txt") || return 1
	ts str ingest -q --store wds --shard-samples 16 --image-root "$root" "$TMP/gtw.txt" -o "$TMP/w" || return 1
	ts shards verify "$TMP/w" > /dev/null || return 1
	"$PY" tests/e2e/check_dataset.py "$TMP/w" || return 1
	n=$(sqlite3 "$TMP/w/catalog.sqlite" "select count(*) from samples")
	[ "$(wc -l < "$TMP/gtw.txt")" -eq $((n + $(sqlite3 "$TMP/w/catalog.sqlite" "select count(*) from rejects"))) ] || return 1
	check "$(sqlite3 "$TMP/w/catalog.sqlite" "select count(*) from members where name not like '%.jpg' and name not like '%.txt' and name not like '%.json'")" -eq 0 || return 1
	# 'Café' became 'Cafe': the catalog and KEY.json keep the original
	key=$(sqlite3 "$TMP/w/catalog.sqlite" "select key from samples where caption = 'Cafe'")
	check "$key" != "" || return 1
	check "$(sqlite3 "$TMP/w/catalog.sqlite" "select json_extract(captions, '\$[1]') from samples where key = '$key'")" = "$(printf 'Caf\303\251')" || return 1
	ts shards cat "$TMP/w" "$key" --member json | has "\"original_label\":\"Caf" || return 1
	# the same samples, labels and rejects as --store lmdb gives
	ts str ingest -q --image-root "$root" "$TMP/gtw.txt" -o "$TMP/wl" || return 1
	$PYL - "$TMP/w" "$TMP/wl" <<'EOF'
import json, lmdb, sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/catalog.sqlite")
rows = db.execute("select caption from samples order by record").fetchall()
t = lmdb.open(sys.argv[2], readonly=True, lock=False).begin()
assert int(t.get(b"num-samples")) == len(rows), (len(rows), t.get(b"num-samples"))
for i, (cap,) in enumerate(rows):
    assert t.get(b"label-%09d" % (i + 1)).decode() == cap, (i, cap)
rej = db.execute("select record, reason from rejects order by record").fetchall()
rep = [json.loads(l) for l in open(sys.argv[2] + "/str-report.jsonl")]
assert rej == [(r["record"], r["reason"]) for r in rep if r["type"] == "reject"], rej
EOF
	# a tessera dataset as a source: stats agree with the gt list's, and
	# the original labels come back through the filter to the same LMDB
	ts str stats --json --image-root "$root" "$TMP/gtw.txt" > "$TMP/st1.json" || return 1
	ts str stats --json "$TMP/w" > "$TMP/st2.json" || return 1
	$PYL -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a['samples'] == b['samples'] and a['filter'] == b['filter'], (a['filter'], b['filter'])
" "$TMP/st1.json" "$TMP/st2.json" || return 1
	ts str ingest -q "$TMP/w" -o "$TMP/wback" || return 1
	$PYL -c "
import lmdb, sys
a, b = (lmdb.open(d, readonly=True, lock=False).begin() for d in sys.argv[1:3])
n = int(a.get(b'num-samples'))
assert n == int(b.get(b'num-samples')) and n > 0
for i in range(1, n + 1):
    assert a.get(b'label-%09d' % i) == b.get(b'label-%09d' % i), i
" "$TMP/wl" "$TMP/wback"
}

# --store wds killed part-way: the same command resumes to the same bytes;
# other options into the same output are refused
wds_resume() {
	root=$($CHK gtlist "$SHARED" "$TMP/gtr.txt") || return 1
	ts str ingest -q --store wds --shard-samples 8 --image-root "$root" "$TMP/gtr.txt" -o "$TMP/wr1" || return 1
	for point in sample:11 shard-committed:1; do
		rm -rf "$TMP/wr2"
		TESSERA_CRASH_AT=$point "$TESSERA" str ingest -q --store wds --shard-samples 8 --image-root "$root" "$TMP/gtr.txt" -o "$TMP/wr2" 2>/dev/null
		[ $? -ne 0 ] || { echo "$point: not killed"; return 1; }
		ts str ingest -q --store wds --shard-samples 8 --image-root "$root" "$TMP/gtr.txt" -o "$TMP/wr2" || return 1
		for f in "$TMP/wr1/shards/"*.tar; do cmp "$f" "$TMP/wr2/shards/${f##*/}" || return 1; done
		[ "$(sqlite3 "$TMP/wr1/catalog.sqlite" 'select key, caption from samples order by key; select record, reason from rejects order by record')" = \
		  "$(sqlite3 "$TMP/wr2/catalog.sqlite" 'select key, caption from samples order by key; select record, reason from rejects order by record')" ] || return 1
	done
	"$TESSERA" str ingest -q --store wds --shard-samples 9 --image-root "$root" "$TMP/gtr.txt" -o "$TMP/wr2" 2> "$TMP/err"
	check $? -eq 1 && has "other inputs or options" "$TMP/err"
}

# a damaged data.mdb: a clear error naming it; the other datasets of a tree still arrive
corrupt() {
	$CHK write-env "$TMP/ct/good" "$SHARED" 0 5 || return 1
	$CHK write-env "$TMP/ct/bad" "$SHARED" 0 5 || return 1
	$PYL -c "
import sys; f = open(sys.argv[1], 'r+b'); f.write(bytes((i * 37 + 11) % 256 for i in range(8192)))" "$TMP/ct/bad/data.mdb"
	ts str ingest -q "$TMP/ct/bad" -o "$TMP/ct-out1" 2> "$TMP/err"; check $? -eq 1 || return 1
	grep -q "error: '.*ct/bad/data.mdb' is corrupt or not an LMDB file" "$TMP/err" || { cat "$TMP/err"; return 1; }
	absent "$TMP/ct-out1/data.mdb" || return 1
	ts str ingest -q "$TMP/ct" -o "$TMP/ct-out" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "bad/data.mdb" "$TMP/err" || return 1
	$CHK check "$TMP/ct/good" "$TMP/ct-out/good" 94 25 0 || return 1
	ts str stats "$TMP/ct/bad" > /dev/null 2> "$TMP/err"; check $? -eq 1 || return 1
	has "bad/data.mdb" "$TMP/err" || return 1
	# cut in half
	cp -r "$TMP/ct/good" "$TMP/ct-cut"
	truncate -s 8192 "$TMP/ct-cut/data.mdb"
	ts str ingest -q "$TMP/ct-cut" -o "$TMP/ct-out2" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "data.mdb' is truncated" "$TMP/err"
}

# the crafted files of tests/data/lmdb/ (no python needed): num-samples far
# beyond the file is bounded with a warning; a reader that keeps dying
# costs only the damaged records (rejects) and says what was read; a bad
# meta page is an error naming the file; nothing crashes or hangs
crafted() {
	for n in num_huge leaf_ptrs_beyond overflow_size psize_zero; do
		mkdir -p "$TMP/cr/$n" && cp "tests/data/lmdb/$n.mdb" "$TMP/cr/$n/data.mdb" || return 1
	done
	"$TESSERA" str ingest --store wds "$TMP/cr/num_huge" -o "$TMP/cr-o1" 2> "$TMP/err" || { cat "$TMP/err"; return 1; }
	grep -q "warning: '.*num_huge/data.mdb': num-samples says 9999999999999999999 but the last record in the file is 4: reading 4" "$TMP/err" ||
		{ cat "$TMP/err"; return 1; }
	check "$(sqlite3 "$TMP/cr-o1/catalog.sqlite" 'select group_concat(caption, " ") from samples')" = "CHEWBACCA rain Overflow last" || return 1
	ts str ingest -q --store wds "$TMP/cr/leaf_ptrs_beyond" -o "$TMP/cr-o2" 2> "$TMP/err"; check $? -eq 1 || return 1
	grep -q "error: '.*leaf_ptrs_beyond/data.mdb' is corrupt: the reader died too often at record 24; 15 records were read, 9 damaged, records 25..60 not read" "$TMP/err" ||
		{ cat "$TMP/err"; return 1; }
	got=$(sqlite3 "$TMP/cr-o2/catalog.sqlite" "select count(*) from samples; select group_concat(record, ' ') from rejects where reason = 'lmdb.corrupt'; select count(*) from rejects where message like '%died of SIGBUS%reading record%'")
	[ "$got" = "$(printf '15\n15 16 17 18 19 20 21 22 23\n9')" ] || { echo "got: $got"; return 1; }
	# --store lmdb: the damaged record is a reject, the rest is written
	"$TESSERA" str ingest -q "$TMP/cr/overflow_size" -o "$TMP/cr-o3" 2> "$TMP/err" || { cat "$TMP/err"; return 1; }
	grep -q '"reason":"lmdb.corrupt".*image-000000003 of 3221225472 bytes runs past the end of the file' "$TMP/cr-o3/str-report.jsonl" ||
		{ cat "$TMP/cr-o3/str-report.jsonl"; return 1; }
	check "$(head -c 1 "$TMP/cr-o3/data.mdb" | wc -c)" = 1 || return 1
	ts str stats "$TMP/cr/leaf_ptrs_beyond" > "$TMP/out" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "error: .*died too often" "$TMP/err" && has "lmdb.corrupt *9" "$TMP/out" || return 1
	ts str ingest -q "$TMP/cr/psize_zero" -o "$TMP/cr-o4" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "error: '.*psize_zero/data.mdb' is corrupt or not an LMDB file: page size 0" "$TMP/err"
}

# a mutation campaign in the spirit of the fuzzer-found files: 100 damaged
# copies of a real environment (bytes flipped anywhere and in the meta
# pages, truncations, huge page numbers and sizes, zeroed pages; seeded,
# so the same files every run), each through str stats and str ingest: a
# clear error or a result, never a signal, never a hang
mutants() {
	/usr/bin/python3 - tests/data/lmdb/base.mdb "$TMP/mut" 100 <<'PYEOF' || return 1
import os, random, struct, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
r = random.Random(20261201)
ps = 4096
for i in range(n):
    b = bytearray(data)
    kind = i % 5
    if kind == 0:                                   # a few bytes anywhere
        for _ in range(r.randint(1, 8)):
            b[r.randrange(len(b))] = r.randrange(256)
    elif kind == 1:                                 # the meta pages
        for _ in range(r.randint(1, 4)):
            b[r.randrange(min(2 * ps, len(b)))] = r.randrange(256)
    elif kind == 2:                                 # cut short
        b = b[: r.randrange(1, len(b))]
    elif kind == 3:                                 # a huge 32- or 64-bit field
        off = r.randrange(0, len(b) - 8) & ~3
        b[off:off + 8] = struct.pack("<Q", r.choice([2**64 - 1, 2**63, 2**32 - 1, 2**31, len(b) * 7]))
    else:                                           # a page of zeros
        p = r.randrange(len(b) // ps)
        b[p * ps:(p + 1) * ps] = bytes(ps)
    d = "%s/%03d" % (out, i)
    os.makedirs(d)
    open(d + "/data.mdb", "wb").write(b)
PYEOF
	bad=0; errs=0; ok=0
	for d in "$TMP"/mut/*; do
		for cmd in stats ingest; do
			if [ $cmd = stats ]; then
				timeout 60 "$TESSERA" str stats "$d" > /dev/null 2> "$TMP/merr"; st=$?
			else
				rm -rf "$TMP/mut-o"
				timeout 60 "$TESSERA" str ingest -q --store wds "$d" -o "$TMP/mut-o" 2> "$TMP/merr"; st=$?
			fi
			case $st in
			0) ok=$((ok + 1)) ;;
			1) grep -q 'error:' "$TMP/merr" && errs=$((errs + 1)) ||
				{ echo "$d ($cmd): exit 1 without a message"; bad=$((bad + 1)); } ;;
			*) echo "$d ($cmd): exit status $st: $(head -c 300 "$TMP/merr")"; bad=$((bad + 1)) ;;
			esac
		done
	done
	echo "100 mutants, 200 runs: $ok results, $errs clear errors, $bad bad"
	check "$bad" -eq 0
}

# -j 1, 2 and 4 give the same bytes: every LMDB key and value, the
# report, the wds shards and catalog rows (a gt list with rejects, resized
# crops, a tree of environments with a damaged record, a tessera dataset)
threads() {
	root=$($CHK gtlist "$SHARED" "$TMP/gtj.txt") || return 1
	printf 'x/missing.jpg LOST\n\n' >> "$TMP/gtj.txt"
	$CHK write-env "$TMP/jt/train/setA" "$SHARED" 0 12 || return 1
	$CHK write-env "$TMP/jt/test/setB" "$SHARED" 12 20 raw || return 1
	mkdir -p "$TMP/jt/train/crafted" && cp tests/data/lmdb/overflow_size.mdb "$TMP/jt/train/crafted/data.mdb" || return 1
	for j in 1 2 4; do
		ts str ingest -q -j $j --resize stretch --size 32 --image-root "$root" "$TMP/gtj.txt" -o "$TMP/j$j-gt" || return 1
		ts str ingest -q -j $j "$TMP/jt" -o "$TMP/j$j-tree" || return 1
		ts str ingest -q -j $j --store wds --shard-samples 8 --image-root "$root" "$TMP/gtj.txt" -o "$TMP/j$j-w" || return 1
		ts str ingest -q -j $j --store wds --resize stretch "$TMP/j1-w" -o "$TMP/j$j-ww" || return 1
		ts str ingest --json -j $j --image-root "$root" "$TMP/gtj.txt" -o "$TMP/j$j-sum" > "$TMP/j$j-sum.json" 2> "$TMP/j$j-err" || return 1
		for d in j$j-gt j$j-tree/train/setA j$j-tree/test/setB j$j-tree/train/crafted j$j-sum; do
			$PYL -c "
import hashlib, lmdb, sys
t = lmdb.open(sys.argv[1], readonly=True, lock=False).begin()
for k, v in t.cursor():
    print(k.decode(), hashlib.sha256(v).hexdigest())
" "$TMP/$d" > "$TMP/$d.kv" || return 1
		done
	done
	check "$(grep -c '^image-' "$TMP/j1-gt.kv")" -gt 50 || return 1
	has '"reason":"lmdb.corrupt"' "$TMP/j1-tree/train/crafted/str-report.jsonl" || return 1
	has "gtj.txt:.*(source.missing)" "$TMP/j1-err" || return 1
	for j in 2 4; do
		for d in gt tree/train/setA tree/test/setB tree/train/crafted sum; do
			cmp "$TMP/j1-$d.kv" "$TMP/j$j-$d.kv" || { echo "-j $j: $d differs"; return 1; }
			cmp "$TMP/j1-$d/str-report.jsonl" "$TMP/j$j-$d/str-report.jsonl" || return 1
		done
		check "$(sed "s/j$j-sum/j1-sum/" "$TMP/j$j-sum.json")" = "$(cat "$TMP/j1-sum.json")" || return 1
		cmp "$TMP/j1-err" "$TMP/j$j-err" || return 1
		same_dataset "$TMP/j1-w" "$TMP/j$j-w" || { echo "-j $j: wds differs"; return 1; }
		same_dataset "$TMP/j1-ww" "$TMP/j$j-ww" || { echo "-j $j: wds from a dataset differs"; return 1; }
	done
	ts str ingest -j x "$TMP/gtj.txt" -o "$TMP/jx" 2> "$TMP/err"; check $? -eq 2 || return 1
	grep -q "threads" "$TMP/err"
}

stats() {
	root=$($CHK gtlist "$SHARED" "$TMP/gts.txt") || return 1
	ts str ingest -q --image-root "$root" "$TMP/gts.txt" -o "$TMP/s" || return 1
	STR_ROOT=$root "$TESSERA" str stats --json --image-root "$root" "$TMP/gts.txt" > "$TMP/stats.json" || return 1
	STR_ROOT=$root $CHK outside "$TMP/gts.txt" 94 > "$TMP/outside.json" || return 1
	$PYL - "$TMP/stats.json" "$TMP/s/str-report.jsonl" "$TMP/gts.txt" "$TMP/outside.json" <<'EOF' || return 1
import collections, json, sys
s = json.load(open(sys.argv[1]))
rep = [json.loads(l) for l in open(sys.argv[2])]
lines = [l for l in open(sys.argv[3], encoding="utf-8") if l.strip()]
assert s["samples"] == len(lines), (s["samples"], len(lines))
rej = collections.Counter(r["reason"] for r in rep if r["type"] == "reject")
assert s["filter"]["dropped_by_reason"] == dict(rej), (s["filter"], rej)
assert s["filter"]["changed"] == sum(r["type"] == "changed" for r in rep)
assert s["filter"]["unchanged"] + s["filter"]["changed"] + s["filter"]["dropped"] == len(lines)
want = json.load(open(sys.argv[4]))
got = {o["char"]: o["count"] for o in s["outside_charset"]}
assert got == want, (got, want)
# the list splits once at ASCII blanks (docs/str.md): "\u00a0\u2003" is a label
import re
lens = collections.Counter(len(re.split(r"[ \t\n\v\f\r\x1c-\x1f]+", l.rstrip("\n"), maxsplit=1)[1]) for l in lines)
assert s["label_length_histogram"] == {str(k): v for k, v in lens.items()}, (s["label_length_histogram"], dict(lens))
# sizes are read for the samples the filter keeps
assert s["images"]["readable"] + s["filter"]["dropped"] == len(lines), (s["images"], s["filter"], len(lines))
EOF
	ts str stats "$DATA/lmdb" | has '^samples: 21$'
}

t cli cli
t crafted crafted
t mutants mutants
if [ -x "$PYL" ]; then
	t ids ids
else
	skip ids "$PYL not found (Debian's python3)"
fi
if [ ! -d "$DATA/lmdb" ]; then
	skip data "$DATA not found (../shared is absent)"
elif ! $PYL -c 'import lmdb' 2>/dev/null; then
	skip python_lmdb "$PYL cannot import lmdb (python3-lmdb is missing; make deps installs it)"
else
	t gt_lmdb gt_lmdb
	t gt_random gt_random
	t gt_bad gt_bad
	t tree tree
	t shared_lmdb shared_lmdb
	if (ulimit -v 2000000 && "$TESSERA" --version) > /dev/null 2>&1; then
		t lmdb_under_ulimit lmdb_under_ulimit
	else
		skip lmdb_under_ulimit "the binary cannot run under ulimit -v (a sanitizer build)"
	fi
	t resize resize
	t min_dim min_dim
	t wds wds
	t wds_resume wds_resume
	t corrupt corrupt
	t stats stats
	t threads threads
fi
finish
