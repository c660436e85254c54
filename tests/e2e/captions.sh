#!/bin/sh
# e2e: tessera captions tokenize against the reference vectors, with the
# context rule, --count, --jsonl, and its usage errors; captions stats
# against independently computed numbers; captions split (Long-CLIP's rule
# exactly, the sentence rule's edges and budget, in-place rewrite killed
# and resumed); ingest's token counts.
SUITE=captions
. tests/e2e/lib.sh
VEC=$SHARED/tokenizer
PY=$(command -v python3 || true)

vectors() {
	"$PY" - "$VEC" "$TMP" <<'PYEOF'
import json, sys
vec, tmp = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for f in ("vectors-flickr8k.jsonl", "vectors-long.jsonl") for l in open("%s/%s" % (vec, f))]
rows = [r for r in rows if "\n" not in r["text"] and "\r" not in r["text"]][:1500]
open(tmp + "/in.txt", "w").write("".join(r["text"] + "\n" for r in rows))
with open(tmp + "/in.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps({"caption": r["text"]}) + "\n")
def ctx(ids, n=77):
    t = [49406] + ids + [49407]
    if len(t) > n:
        t = t[:n]; t[-1] = 49407
    return t + [0] * (n - len(t))
open(tmp + "/want.txt", "w").write("".join(json.dumps([49406] + r["ids"] + [49407]) + "\n" for r in rows))
open(tmp + "/want77.txt", "w").write("".join(json.dumps(ctx(r["ids"])) + "\n" for r in rows))
open(tmp + "/count.txt", "w").write("".join("%d\n" % (len(r["ids"]) + 2) for r in rows))
PYEOF
	ts captions tokenize "$TMP/in.txt" > "$TMP/got.txt" || return 1
	cmp "$TMP/got.txt" "$TMP/want.txt" || return 1
	ts captions tokenize --context 77 --truncate --pad < "$TMP/in.txt" > "$TMP/got77.txt" || return 1
	cmp "$TMP/got77.txt" "$TMP/want77.txt" || return 1
	ts captions tokenize --count --jsonl "$TMP/in.jsonl" > "$TMP/gotc.txt" || return 1
	cmp "$TMP/gotc.txt" "$TMP/count.txt"
}

cli() {
	ts captions --help | has 'captions tokenize' || return 1
	ts help captions | has -- '--truncate' || return 1
	ts captions 2>/dev/null; check $? -eq 2 || return 1
	ts captions frob 2>/dev/null; check $? -eq 2 || return 1
	ts captions tokenize --context 1 /dev/null 2>/dev/null; check $? -eq 2 || return 1
	ts captions tokenize --vocab /nonexistent.gz /dev/null 2> "$TMP/err"; check $? -eq 1 || return 1
	has "cannot open the CLIP vocabulary" "$TMP/err" || return 1
	printf 'ok line\n{not json\n' | "$TESSERA" captions tokenize --jsonl > /dev/null 2>&1; check $? -eq 1 || return 1
	"$TESSERA" captions --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-captions.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts"
}


# a dataset of real long captions (../shared/data/captions/long_iiw_model.jsonl)
# on the sample photos, plus captions that exercise the rules' edges
long_dataset() {
	[ -d "$TMP/long" ] && return 0
	mkdir -p "$TMP/long/img" && cp tests/data/sample/photos/*.jpg "$TMP/long/img/" || return 1
	"$PY" - "$SHARED/data/captions/long_iiw_model.jsonl" "$TMP/long" <<'PYEOF' || return 1
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
imgs = sorted(os.listdir(out + "/img"))
caps = [json.loads(l)["caption"] for l in open(src)][:60]
caps += [
    ". Starts with a period and space. Then more.",
    "No period space here at all",
    "Mr. Smith walks his dog on St. James Street. The dog barks.\nA second paragraph line.",
    "A sign reads \"Stop. Go back.\" next to the road. Cars pass by.",
    "A bottle holds 3.5 liters of water. It is blue.",
    "A dog waits... and waits for its owner. Then it leaves.",
    "Pneumonoultramicroscopicsilicovolcanoconiosis" * 8 + " is a long word.",
]
with open(out + "/list.jsonl", "w") as f:
    for i, c in enumerate(caps):
        f.write(json.dumps({"image": "img/" + imgs[i % len(imgs)], "caption": c}) + "\n")
PYEOF
	"$TESSERA" ingest -q --shard-samples 25 "$TMP/long/list.jsonl" -o "$TMP/long/ds"
}

split_longclip() {
	long_dataset || return 1
	ts captions split -q --rule longclip "$TMP/long/ds" -o "$TMP/lc" || return 1
	# every short/long member is Long-CLIP's rule applied to the primary caption
	"$PY" - "$TMP/lc" <<'PYEOF'
import json, sqlite3, sys, tarfile, glob
d = sys.argv[1]
db = sqlite3.connect(d + "/catalog.sqlite")
rows = {k: (c, t, st, sr, fb) for k, c, t, st, sr, fb in db.execute(
    "select key, caption, tokens, short_tokens, split_rule, split_fallback from samples")}
seen = 0
for shard in sorted(glob.glob(d + "/shards/*.tar")):
    with tarfile.open(shard) as tf:
        members = {m.name: tf.extractfile(m).read().decode() for m in tf.getmembers()
                   if m.name.endswith(".txt")}
    for name, data in members.items():
        if not name.endswith(".short.txt"):
            continue
        key = name.split(".")[0]
        cap = rows[key][0]
        long_ = cap.replace("\n", " ")
        short = long_.split(". ")[0]
        want_fb = None
        if short.strip() == "":
            short, want_fb = long_, "empty_short"
        assert data == short, (key, data, short)
        assert members[key + ".long.txt"] == long_, key
        assert rows[key][3] == "longclip" and rows[key][4] == want_fb, (key, rows[key])
        seen += 1
assert seen == len(rows) == 67, (seen, len(rows))
assert db.execute("select count(*) from samples where split_fallback = 'empty_short'").fetchone()[0] == 1
PYEOF
	check $? -eq 0 || return 1
	# the token counts in the catalog are the tokenizer's
	sqlite3 "$TMP/lc/catalog.sqlite" "select short_caption from samples order by key" > /dev/null || return 1
	"$PY" -c "
import sqlite3, json, sys
db = sqlite3.connect('$TMP/lc/catalog.sqlite')
with open('$TMP/lc.in', 'w') as f, open('$TMP/lc.want', 'w') as w:
    for s, st, c, t in db.execute('select short_caption, short_tokens, caption, tokens from samples order by key'):
        f.write(json.dumps({'caption': s}) + '\n' + json.dumps({'caption': c}) + '\n')
        w.write('%d\n%d\n' % (st, t))
" || return 1
	ts captions tokenize --count --jsonl "$TMP/lc.in" > "$TMP/lc.got" || return 1
	cmp "$TMP/lc.got" "$TMP/lc.want"
}

split_sentence() {
	long_dataset || return 1
	ts captions split -q --short-max 20 "$TMP/long/ds" -o "$TMP/ss" || return 1
	"$PY" - "$TMP/ss" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/catalog.sqlite")
rows = db.execute("select key, caption, short_caption, short_tokens, split_fallback from samples").fetchall()
assert len(rows) == 67
by = {c: (s, t, fb) for k, c, s, t, fb in rows}
for k, c, s, t, fb in rows:
    long_ = c.replace("\n", " ")
    assert t <= 20, (k, t)
    assert long_.startswith(s) and s.strip() == s and s, (k, s)
# the rule's edges, sentence by sentence
want = {
    "Mr. Smith walks his dog on St. James Street. The dog barks.\nA second paragraph line.":
        "Mr. Smith walks his dog on St. James Street.",
    "A sign reads \"Stop. Go back.\" next to the road. Cars pass by.":
        "A sign reads \"Stop. Go back.\" next to the road.",
    "A bottle holds 3.5 liters of water. It is blue.": "A bottle holds 3.5 liters of water.",
    "A dog waits... and waits for its owner. Then it leaves.": "A dog waits... and waits for its owner.",
    "No period space here at all": "No period space here at all",
}
for c, s in want.items():
    assert by[c][0] == s and by[c][2] is None, (c, by[c])
# a first sentence over 20 tokens is cut at a word boundary; a first word over
# 20 tokens is cut inside the word
cut = [r for r in rows if r[4] == "cut_at_word"]
assert len(cut) >= 30, len(cut)
for k, c, s, t, fb in cut:
    rest = c.replace("\n", " ")[len(s):]
    assert rest[:1] in (" ", ",", ";", ":"), (k, s, rest[:10])
word = [r for r in rows if r[4] == "cut_in_word"]
assert len(word) == 1 and word[0][2].startswith("Pneumono") and " " not in word[0][2], word
PYEOF
}

split_in_place() {
	long_dataset || return 1
	cp -r "$TMP/long/ds" "$TMP/ip" && cp -r "$TMP/long/ds" "$TMP/ip2" || return 1
	ts captions split -q --rule longclip "$TMP/long/ds" -o "$TMP/ref" || return 1
	# killed while building: the dataset is untouched, the next split starts over
	before=$(cat "$TMP/ip/shards/"*.tar | md5sum)
	TESSERA_CRASH_AT=sample:30 "$TESSERA" captions split -q --rule longclip "$TMP/ip" 2>/dev/null
	check $? -ne 0 || return 1
	[ "$(cat "$TMP/ip/shards/"*.tar | md5sum)" = "$before" ] || { echo "shards changed by a killed split"; return 1; }
	ts shards verify -q "$TMP/ip" || return 1
	ts captions split -q --rule longclip "$TMP/ip" || return 1
	for f in "$TMP/ref/shards/"*.tar; do cmp "$f" "$TMP/ip/shards/${f##*/}" || return 1; done
	absent "$TMP/ip/.rewrite.tmp" || return 1
	# killed half-way through moving the shards in: readers refuse, the next
	# split finishes, and the bytes are those of an uninterrupted split
	TESSERA_CRASH_AT=rewrite-moved:1 "$TESSERA" captions split -q --rule longclip "$TMP/ip2" 2>/dev/null
	check $? -ne 0 || return 1
	ts shards ls "$TMP/ip2" > /dev/null 2> "$TMP/err"; check $? -eq 1 || return 1
	has "half-way through a rewrite by 'tessera captions split'" "$TMP/err" || return 1
	ts captions split -q --rule longclip "$TMP/ip2" || return 1
	for f in "$TMP/ref/shards/"*; do cmp "$f" "$TMP/ip2/shards/${f##*/}" || return 1; done
	ts shards verify -q "$TMP/ip2" || return 1
	# splitting again replaces the pairs: same bytes
	ts captions split -q --rule longclip "$TMP/ip2" || return 1
	for f in "$TMP/ref/shards/"*; do cmp "$f" "$TMP/ip2/shards/${f##*/}" || return 1; done
	# -o killed part-way: the directory holds no dataset yet, and the same
	# command again writes the bytes of an uninterrupted run
	TESSERA_CRASH_AT=sample:20 "$TESSERA" captions split -q --rule longclip "$TMP/long/ds" -o "$TMP/ko" 2>/dev/null
	check $? -ne 0 && absent "$TMP/ko/catalog.sqlite" || return 1
	ts captions split -q --rule longclip "$TMP/long/ds" -o "$TMP/ko" || return 1
	for f in "$TMP/ref/shards/"*; do cmp "$f" "$TMP/ko/shards/${f##*/}" || return 1; done
	# rejects of the input are kept where they were
	[ "$(sqlite3 "$TMP/ip2/catalog.sqlite" 'select count(*) from rejects')" = \
	  "$(sqlite3 "$TMP/long/ds/catalog.sqlite" 'select count(*) from rejects')" ]
}

stats_numbers() {
	long_dataset || return 1
	# the numbers agree with the tokenizer's counts, computed independently
	"$PY" -c "
import json
caps = [json.loads(l)['caption'] for l in open('$SHARED/data/captions/long_iiw_model.jsonl')]
open('$TMP/st.txt', 'w').write(''.join(c.replace('\n', ' ') + '\n' for c in caps))
" || return 1
	ts captions tokenize --count "$TMP/st.txt" > "$TMP/st.counts" || return 1
	ts captions stats --json --contexts 20,77,248 "$TMP/st.txt" > "$TMP/st.json" || return 1
	"$PY" - "$TMP/st.counts" "$TMP/st.json" <<'PYEOF' || return 1
import json, math, sys
n = [int(l) for l in open(sys.argv[1])]
j = json.load(open(sys.argv[2]))
s = sorted(n)
def pct(p):
    return s[max(1, math.ceil(len(s) * p)) - 1]
t = j["tokens"]
assert j["captions"] == len(n) and t["total"] == sum(n) and t["max"] == max(n) and t["min"] == min(n), t
assert abs(t["mean"] - sum(n) / len(n)) < 1e-6, t
assert (t["median"], t["p90"], t["p99"]) == (pct(0.5), pct(0.9), pct(0.99)), (t, pct(0.5), pct(0.9), pct(0.99))
for c in j["contexts"]:
    C = c["context"]
    over = sum(1 for x in n if x > C)
    lost = sum(x - C for x in n if x > C)
    assert c["over"] == over and c["tokens_lost"] == lost, (c, over, lost)
    assert abs(c["tokens_lost_share"] - lost / sum(x - 2 for x in n)) < 1e-6
bins = j["histogram"]["bins"]
assert sum(b["count"] for b in bins) == len(n)
for b in bins:
    assert b["count"] == sum(1 for x in n if b["from"] <= x <= b["to"]), b
PYEOF
	# words: six one-token words, context 5 keeps three of them
	printf 'a b c d e f\n\n   \n' | "$TESSERA" captions stats --json --contexts 5 - > "$TMP/w.json" || return 1
	"$PY" -c "
import json
j = json.load(open('$TMP/w.json'))
c = j['contexts'][0]
assert j['captions'] == 1 and j['blank'] == 2 and j['words'] == 6, j
assert (c['over'], c['tokens_lost'], c['words_lost']) == (1, 3, 3), c
assert abs(c['words_lost_share'] - 0.5) < 1e-9
" || return 1
	# datasets, by shard: the shards' captions add up
	ts captions stats --json --by-shard "$TMP/long/ds" > "$TMP/ds.json" || return 1
	"$PY" -c "
import json
j = json.load(open('$TMP/ds.json'))
assert j['kind'] == 'dataset' and j['captions'] == 67, j['captions']
assert [s['shard'] for s in j['by_shard']] == ['000000.tar', '000001.tar', '000002.tar']
assert sum(s['captions'] for s in j['by_shard']) == 67
" || return 1
	ts captions stats "$TMP/long/ds" | has "tokens per caption, histogram" || return 1
	ts captions stats --by-shard "$TMP/st.txt" 2>/dev/null; check $? -eq 2 || return 1
	ts captions stats --contexts 2 "$TMP/st.txt" 2>/dev/null; check $? -eq 2 || return 1
	"$TESSERA" captions stats "$TMP" 2>/dev/null; [ $? -eq 1 ]
}

ingest_tokens() {
	long_dataset || return 1
	# ingest stored the primary caption's count; --no-tokens leaves it empty
	sqlite3 "$TMP/long/ds/catalog.sqlite" "select caption from samples order by key" > /dev/null || return 1
	"$PY" -c "
import sqlite3, json
db = sqlite3.connect('$TMP/long/ds/catalog.sqlite')
with open('$TMP/it.in', 'w') as f, open('$TMP/it.want', 'w') as w:
    for c, t in db.execute('select caption, tokens from samples order by key'):
        f.write(json.dumps({'caption': c}) + '\n'); w.write('%d\n' % t)
" || return 1
	ts captions tokenize --count --jsonl "$TMP/it.in" | cmp - "$TMP/it.want" || return 1
	ts ingest -q --no-tokens "$TMP/long/list.jsonl" -o "$TMP/nt" || return 1
	check "$(sqlite3 "$TMP/nt/catalog.sqlite" 'select count(*) from samples where tokens is null')" = 67
}

# tokenize's output does not depend on -j: real captions (flickr8k, several
# input blocks), with a byte-order mark, empty and blank lines, CRLF, a line
# that is not UTF-8, one longer than an input block, and no newline at the
# end; plain, --count, --truncate --pad and --jsonl, stdout and stderr and
# the exit status compared byte for byte at -j 1, 2 and 4.  The ids of the
# lines that are reference vectors are checked against the reference.
threads_bytes() {
	"$PY" - "$SHARED/data/captions/flickr8k.jsonl" "$VEC/vectors-flickr8k.jsonl" "$TMP" <<'PYEOF' || return 1
import json, sys
src, vec, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
caps = [json.loads(l)["caption"].replace("\n", " ").replace("\r", " ") for l in open(src, encoding="utf-8")]
ref = {}
for l in open(vec, encoding="utf-8"):
    r = json.loads(l)
    ref[r["text"]] = r["ids"]
lines = [c.encode() for c in caps]
lines[0] = b"\xef\xbb\xbf" + lines[0]          # a byte-order mark: not text
lines[10:10] = [b"", b"   ", b"A dog runs .\r"]  # empty, blank, CRLF
lines[20000:20000] = [b"caf\xc3 au lait"]        # not UTF-8: an error line
lines[30000:30000] = [b"dog " * 100000]          # 400 KB: longer than a block
data = b"\n".join(lines)                          # no newline at the end
open(tmp + "/tb.txt", "wb").write(data)
with open(tmp + "/tb.jsonl", "wb") as f:
    for i, l in enumerate(lines):
        if i == 20000:
            f.write(b"{not json\n")
        else:
            f.write(json.dumps({"caption": l.decode("utf-8", "replace").lstrip("\ufeff")}).encode() + b"\n")
# the lines whose ids the reference gives: "LINE<TAB>[SOT, ids..., EOT]"
with open(tmp + "/tb.ref", "w") as f:
    for i, l in enumerate(lines):
        t = l.decode("utf-8", "replace").lstrip("\ufeff")
        if t in ref:
            f.write("%d\t%s\n" % (i + 1, json.dumps([49406] + ref[t] + [49407])))
print(len(lines))
PYEOF
	n=$(wc -l < "$TMP/tb.txt"); n=$((n + 1))
	for mode in plain count pad jsonl; do
		case $mode in
		plain) set -- "$TMP/tb.txt" ;;
		count) set -- --count "$TMP/tb.txt" ;;
		pad) set -- --truncate --pad "$TMP/tb.txt" ;;
		jsonl) set -- --jsonl "$TMP/tb.jsonl" ;;
		esac
		for j in 1 2 4; do
			"$TESSERA" captions tokenize -j $j "$@" > "$TMP/tb.$mode.$j.out" 2> "$TMP/tb.$mode.$j.err"
			echo $? > "$TMP/tb.$mode.$j.rc"
		done
		[ "$(cat "$TMP/tb.$mode.1.rc")" = 1 ] ||
			{ echo "$mode: expected exit status 1 (one bad line), got $(cat "$TMP/tb.$mode.1.rc")"; return 1; }
		got=$(wc -l < "$TMP/tb.$mode.1.out")
		[ "$got" = "$n" ] || { echo "$mode: expected $n output lines (one per input line), got $got"; return 1; }
		grep -q "^tessera: error: line 20001: " "$TMP/tb.$mode.1.err" ||
			{ echo "$mode: expected an error for line 20001, got:"; head -3 "$TMP/tb.$mode.1.err"; return 1; }
		for j in 2 4; do
			for x in out err rc; do
				cmp "$TMP/tb.$mode.1.$x" "$TMP/tb.$mode.$j.$x" ||
					{ echo "$mode: -j $j std$x differs from -j 1"; return 1; }
			done
		done
	done
	# the reference's ids where it has them, and the edge lines
	printf 'A dog runs .\n' | "$TESSERA" captions tokenize > "$TMP/tb.crlf" || return 1
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
out = open(tmp + "/tb.plain.1.out").read().split("\n")
cnt = open(tmp + "/tb.count.1.out").read().split("\n")
ref = [l.rstrip("\n").split("\t") for l in open(tmp + "/tb.ref")]
assert len(ref) > 1000, "expected over 1000 reference lines, got %d" % len(ref)
for no, ids in ref:
    got = out[int(no) - 1]
    assert got == ids, "line %s: expected %s, got %s" % (no, ids, got)
assert out[10] == "[49406, 49407]" and out[11] == "[49406, 49407]", ("empty lines", out[10:12])
assert out[12] == open(tmp + "/tb.crlf").read().rstrip("\n"), ("CRLF line", out[12])
assert out[20000] == "", ("the bad line's output line must be empty", out[20000][:80])
assert cnt[30000] == "100002", ("the 400 KB line: expected 100002 tokens, got", cnt[30000])
assert out[-2] != "" and out[-1] == "", "the last line (no newline) is tokenized"
PYEOF
	check $? -eq 0 || return 1
	# a pipe whose reads come back short, mid-line: the same bytes as the file
	head -c 100000 "$TMP/tb.txt" > "$TMP/tb.head"
	{ head -c 70001 "$TMP/tb.head"; sleep 0.3; tail -c +70002 "$TMP/tb.head"; } |
		"$TESSERA" captions tokenize -j 2 > "$TMP/tb.pipe.out" 2>&1
	"$TESSERA" captions tokenize -j 1 "$TMP/tb.head" > "$TMP/tb.file.out" 2>&1
	cmp "$TMP/tb.pipe.out" "$TMP/tb.file.out" || { echo "a pipe read in pieces gave other bytes than the file"; return 1; }
}

# split -j 1, 2 and 4 (in place and into -o, both rules, a dataset with
# rejects between its samples): every shard, sidecar and catalog row the same
split_threads() {
	long_dataset || return 1
	rm -rf "$TMP/sj"; mkdir -p "$TMP/sj" || return 1
	# a missing image and a file that is not one, among the records
	"$PY" - "$TMP/long/list.jsonl" "$TMP/sj/list.jsonl" <<'PYEOF' || return 1
import json, sys
lines = open(sys.argv[1]).read().splitlines()
lines.insert(7, json.dumps({"image": "img/no-such.jpg", "caption": "A missing photo. Of a dog."}))
lines.insert(30, json.dumps({"image": "list.jsonl", "caption": "Not an image. At all."}))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PYEOF
	cp "$TMP/sj/list.jsonl" "$TMP/long/sj.jsonl" || return 1
	"$TESSERA" ingest -q --shard-samples 9 "$TMP/long/sj.jsonl" -o "$TMP/sj/ds" 2>/dev/null
	check "$(sqlite3 "$TMP/sj/ds/catalog.sqlite" 'select count(*) from rejects')" -eq 2 || return 1
	for j in 1 2 4; do
		ts captions split -q -j $j "$TMP/sj/ds" -o "$TMP/sj/s$j" || return 1
		ts captions split -q -j $j --rule longclip --short-max 20 "$TMP/sj/ds" -o "$TMP/sj/l$j" || return 1
		cp -a "$TMP/sj/ds" "$TMP/sj/ip$j" && ts captions split -q --threads $j "$TMP/sj/ip$j" || return 1
	done
	for j in 2 4; do
		for d in s l ip; do
			same_dataset "$TMP/sj/${d}1" "$TMP/sj/$d$j" || { echo "split $d -j $j differs from -j 1"; return 1; }
		done
	done
	# the in-place split is the -o one; a -j out of range is a usage error
	same_dataset "$TMP/sj/s1" "$TMP/sj/ip1" || return 1
	"$TESSERA" captions split -j -1 "$TMP/sj/ds" 2> "$TMP/err"; check $? -eq 2 || return 1
	grep -q "invalid value '-1' for --threads" "$TMP/err"
}

if [ ! -f "$VEC/bpe_simple_vocab_16e6.txt.gz" ]; then
	skip all "$VEC not found (../shared is absent)"
elif [ -z "$PY" ]; then
	skip all "python3 not found"
else
	t vectors vectors
	t cli cli
	t stats_numbers stats_numbers
	t split_longclip split_longclip
	t split_sentence split_sentence
	t split_in_place split_in_place
	t split_threads split_threads
	t ingest_tokens ingest_tokens
	if [ -f "$SHARED/data/captions/flickr8k.jsonl" ]; then
		t threads_bytes threads_bytes
	else
		skip threads_bytes "$SHARED/data/captions/flickr8k.jsonl not found"
	fi
fi
finish
