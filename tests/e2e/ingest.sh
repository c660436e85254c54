#!/bin/sh
# e2e: tessera ingest on the bundled sample (real photos + hostile files)
# and on every input format; determinism across thread counts; resume after
# SIGKILL at several points; readers (tar, Python tarfile) take the output.
SUITE=ingest
. tests/e2e/lib.sh
SAMPLE=tests/data/sample
PY=$(command -v python3 || true)

# ---- the bundled sample ---------------------------------------------------
# Fixtures are made by the first case that needs them, so every case also
# runs alone (E2E_ONLY=ingest.fmt_wds).
s1() { [ -d "$TMP/s1" ] || ts ingest -q --threads 1 --shard-samples 8 "$SAMPLE" -o "$TMP/s1"; }
s2() { [ -d "$TMP/s2" ] || ts ingest -q --threads 2 --shard-samples 8 "$SAMPLE" -o "$TMP/s2"; }
ref4() { [ -d "$TMP/ref4" ] || ts ingest -q --threads 1 --shard-samples 4 "$SAMPLE" -o "$TMP/ref4"; }
lists() { [ -f "$L/urban/caption/b.txt" ] || make_lists; }

sample_ingest() {
	s2 || return 1
	n_ok=$(awk -F'\t' '$2 == "ok"' "$SAMPLE/EXPECTED.tsv" | wc -l)
	got=$(sqlite3 "$TMP/s2/catalog.sqlite" "select count(*) from samples")
	[ "$got" -eq "$n_ok" ] || { echo "samples: $got, expected $n_ok"; return 1; }
	[ "$n_ok" -ge 20 ] || { echo "sample has only $n_ok good images"; return 1; }
	# every expected outcome, file by file
	while IFS='	' read -r rel outcome w h fmt; do
		case "$rel" in ''|\#*) continue ;; esac
		if [ "$outcome" = ok ]; then
			row=$(sqlite3 -separator ' ' "$TMP/s2/catalog.sqlite" \
			  "select orig_width, orig_height, width, height from samples where source = '$rel'")
			[ "$row" = "$w $h 256 256" ] || { echo "$rel: got '$row', want '$w $h 256 256'"; return 1; }
		else
			r=$(sqlite3 "$TMP/s2/catalog.sqlite" "select reason from rejects where source = '$rel'")
			[ "$r" = "$outcome" ] || { echo "$rel: reject reason '$r', want '$outcome'"; return 1; }
		fi
	done < "$SAMPLE/EXPECTED.tsv"
}

sample_readers() {
	s2 || return 1
	for f in "$TMP"/s2/shards/*.tar; do
		tar tf "$f" > /dev/null || return 1
	done
	# members of a sample are adjacent, in the order image, txt, json
	tar tf "$TMP/s2/shards/000000.tar" | head -3 | sed 's/.*\.//' | tr '\n' ' ' | has -E '^(jpg|png|webp) txt json $' || return 1
	[ -n "$PY" ] || return 0
	"$PY" tests/e2e/check_dataset.py "$TMP/s2"
}

threads_identical() {
	s1 && s2 || return 1
	same_dataset "$TMP/s1" "$TMP/s2"
}

# ---- resume after SIGKILL ----------------------------------------------------
resume_at() {  # $1 = crash point (TESSERA_CRASH_AT syntax)
	d="$TMP/crash-$(echo "$1" | tr ':' '-')"
	TESSERA_CRASH_AT=$1 "$TESSERA" ingest -q --threads 2 --shard-samples 8 "$SAMPLE" -o "$d" 2>/dev/null
	st=$?
	[ $st -eq 137 ] || { echo "expected SIGKILL (137), got $st"; return 1; }
	ts ingest -q --threads 2 --shard-samples 8 "$SAMPLE" -o "$d" || return 1
	s1 && same_dataset "$d" "$TMP/s1" || return 1
	check "$(sqlite3 "$d/catalog.sqlite" "select count(*) from runs")" -eq 2
}

resume_timed_kill() {  # a real kill -9 at an arbitrary moment, then a second one
	d="$TMP/crash-timed"
	for delay in 0.05 0.2; do
		"$TESSERA" ingest -q --threads 2 --shard-samples 4 "$SAMPLE" -o "$d" 2>/dev/null &
		pid=$!
		sleep $delay
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
	done
	ts ingest -q --threads 2 --shard-samples 4 "$SAMPLE" -o "$d" || return 1
	ref4 && same_dataset "$d" "$TMP/ref4"
}

interrupt_then_resume() {  # SIGINT: exit 130, partial shard dropped, resume completes identically
	d="$TMP/int"
	"$TESSERA" ingest -q --threads 1 --shard-samples 4 "$SAMPLE" -o "$d" 2>/dev/null &
	pid=$!
	sleep 0.1
	kill -INT $pid 2>/dev/null
	wait $pid
	st=$?
	[ $st -eq 130 ] || [ $st -eq 0 ] || { echo "exit status $st after SIGINT"; return 1; }
	ls "$d/shards" | grep -q '\.tmp$' && { echo "temporary shard left behind"; return 1; }
	if [ $st -eq 130 ]; then
		check "$(sqlite3 "$d/catalog.sqlite" "select status from runs order by id desc limit 1")" = interrupted || return 1
	fi
	ts ingest -q --threads 2 --shard-samples 4 "$SAMPLE" -o "$d" || return 1
	ref4 && same_dataset "$d" "$TMP/ref4"
}

rerun_complete_is_noop() {
	s1 && cp -r "$TMP/s1" "$TMP/again" || return 1
	ts ingest -q --threads 2 --shard-samples 8 "$SAMPLE" -o "$TMP/again" || return 1
	same_dataset "$TMP/again" "$TMP/s1"
}

other_options_refused() {
	s1 || return 1
	"$TESSERA" ingest -q --shard-samples 9 "$SAMPLE" -o "$TMP/s1" 2> "$TMP/err"
	check $? -eq 1 && has "overwrite" "$TMP/err" || return 1
	ts ingest -q --overwrite --shard-samples 9 "$SAMPLE" -o "$TMP/ow" || return 1
}

# ---- input formats -------------------------------------------------------------
L="$TMP/lists"
make_lists() {
	mkdir -p "$L/img/sub"
	cp "$SAMPLE"/photos/*.jpg "$L/img/" 2>/dev/null
	set -- $(cd "$L/img" && ls *.jpg | head -4)
	[ $# -eq 4 ] || { echo "need 4 jpgs in $SAMPLE/photos"; return 1; }
	A=$1 B=$2 C=$3 D=$4
	printf 'file_name,caption,extra\n"img/%s","A photo, with a comma",1\nimg/%s,"He said ""hi""\nover two lines",2\nimg/missing.jpg,gone,3\n../etc/passwd,escape,4\nimg/%s,  ,5\n' "$A" "$B" "$C" > "$L/list.csv"
	printf 'path\ttext\nimg/%s\tA tab separated caption\nimg/%s\tAnother one\n' "$A" "$D" > "$L/list.tsv"
	printf '{"image": "img/%s", "caption": "first line"}\nnot json at all\n\n{"image": "img/%s", "captions": ["primary", "secondary"]}\n[1,2]\n{"caption": "no image"}\n' "$A" "$B" > "$L/list.jsonl"
	cat > "$L/coco.json" <<JSON
{"images": [{"id": 7, "file_name": "$A"}, {"id": 9, "file_name": "$B"}, {"id": 11, "file_name": "$C"}],
 "annotations": [{"id": 1, "image_id": 9, "caption": "b one"}, {"id": 2, "image_id": 7, "caption": "a one"},
                 {"id": 3, "image_id": 9, "caption": "b two"}]}
JSON
	cat > "$L/sg4v.json" <<JSON
[{"id": "x1", "image": "$A", "conversations": [{"from": "human", "value": "<image>\\nDescribe"}, {"from": "gpt", "value": "A long caption.\\nWith two lines."}]},
 {"id": "x2", "image": "$B", "conversations": [{"from": "human", "value": "q"}]},
 {"id": "x3", "image": "$C", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "Third."}]}]
JSON
	mkdir -p "$L/urban/image" "$L/urban/caption"
	cp "$L/img/$A" "$L/urban/image/a.jpg"; cp "$L/img/$B" "$L/urban/image/b.jpg"
	printf 'Urban caption a.\nsecond line ignored\n' > "$L/urban/caption/a.txt"
	printf 'Urban caption b.' > "$L/urban/caption/b.txt"
}

q() { sqlite3 -separator '|' "$1/catalog.sqlite" "$2"; }

fmt_csv() {
	lists || return 1
	ts ingest -q "$L/list.csv" -o "$TMP/csv" || return 1
	[ "$(q "$TMP/csv" "select key, caption from samples order by key" | tr '\n' '~')" = \
	  "000000000|A photo, with a comma~000000001|He said \"hi\"~over two lines~" ] || { q "$TMP/csv" "select key, caption from samples"; return 1; }
	[ "$(q "$TMP/csv" "select record, reason from rejects order by record" | tr '\n' ' ')" = \
	  "2|source.missing 3|source.escapes_root 4|caption.empty " ] || { q "$TMP/csv" "select * from rejects"; return 1; }
	absent "$TMP/etc" && [ -z "$(ls "$TMP/csv" | grep -v -e shards -e catalog)" ]
}
fmt_tsv() {
	lists || return 1
	ts ingest -q "$L/list.tsv" -o "$TMP/tsv" || return 1
	check "$(q "$TMP/tsv" "select count(*) from samples")" = 2
}
fmt_jsonl() {
	lists || return 1
	ts ingest -q "$L/list.jsonl" -o "$TMP/jsonl" || return 1
	[ "$(q "$TMP/jsonl" "select key, captions from samples order by key" | tr '\n' ' ')" = \
	  '000000000|["first line"] 000000002|["primary","secondary"] ' ] || { q "$TMP/jsonl" "select key, captions from samples"; return 1; }
	[ "$(q "$TMP/jsonl" "select record, reason from rejects order by record" | tr '\n' ' ')" = \
	  "1|record.bad_json 3|record.bad_json 4|record.missing_field " ] || { q "$TMP/jsonl" "select * from rejects"; return 1; }
}
fmt_coco() {
	lists || return 1
	ts ingest -q --format coco --image-root "$L/img" "$L/coco.json" -o "$TMP/coco" || return 1
	[ "$(q "$TMP/coco" "select key, captions from samples order by key" | tr '\n' ' ')" = \
	  '000000000|["a one"] 000000001|["b one","b two"] ' ] || { q "$TMP/coco" "select key, captions from samples"; return 1; }
	check "$(q "$TMP/coco" "select record, reason from rejects")" = "2|caption.missing"
}
fmt_sharegpt4v() {
	lists || return 1
	ts ingest -q --image-root "$L/img" "$L/sg4v.json" -o "$TMP/sg" || return 1
	check "$(q "$TMP/sg" "select key from samples order by key" | tr '\n' ' ')" = "000000000 000000002 " || return 1
	check "$(q "$TMP/sg" "select caption from samples where key='000000000'")" = "$(printf 'A long caption.\nWith two lines.')" || return 1
	check "$(q "$TMP/sg" "select record, reason from rejects")" = "1|record.missing_field"
}
fmt_urban1k() {
	lists || return 1
	ts ingest -q "$L/urban" -o "$TMP/urban" || return 1
	check "$(q "$TMP/urban" "select caption from samples order by key" | tr '\n' '|')" = "Urban caption a.|Urban caption b.|"
}
multi_input_keys() {  # record numbers continue across INPUTs
	lists || return 1
	ts ingest -q "$L/list.tsv" "$L/urban" -o "$TMP/multi" || return 1
	check "$(q "$TMP/multi" "select key from samples order by key" | tr '\n' ' ')" = "000000000 000000001 000000002 000000003 "
}

# ---- resize modes and encoders through the command -----------------------------------
resize_modes() {
	s1 && lists || return 1
	img=$(ls "$L"/img/*.jpg | head -1)
	mkdir -p "$TMP/one"; cp "$img" "$TMP/one/x.jpg"; echo "a caption" > "$TMP/one/x.txt"
	ow=$(sqlite3 "$TMP/s1/catalog.sqlite" "select orig_width from samples where source like '%$(basename "$img")'")
	for m in no border keep-ratio keep-ratio-largest center-crop stretch; do
		for e in jpeg png webp; do
			ts ingest -q --resize $m --size 200 --encode $e "$TMP/one" -o "$TMP/rm-$m-$e" || return 1
			r=$(q "$TMP/rm-$m-$e" "select format, width, height, orig_width, orig_height from samples")
			fmt=${r%%|*}; [ "$fmt" = "$e" ] || { echo "$m $e: $r"; return 1; }
		done
		echo "$m $(q "$TMP/rm-$m-jpeg" "select width, height, orig_width, orig_height from samples")"
	done > "$TMP/modes"
	awk -F'[ |]' '
	  { m=$1; w=$2; h=$3; ow=$4; oh=$5; long=(ow>oh)?ow:oh; short=(ow<oh)?ow:oh }
	  m=="no" && !(w==ow && h==oh) { bad=1 }
	  m=="border" && !(w==200 && h==200) { bad=1 }
	  m=="center-crop" && !(w==200 && h==200) { bad=1 }
	  m=="stretch" && !(w==200 && h==200) { bad=1 }
	  m=="keep-ratio" && !(((ow<oh)?w:h)==200) { bad=1 }
	  m=="keep-ratio-largest" && !(((ow>oh)?w:h)==200) { bad=1 }
	  END { exit bad }' "$TMP/modes" || { cat "$TMP/modes"; return 1; }
}

# ---- the command line ---------------------------------------------------------------
cli_usage() {
	ts --version | has '^tessera [0-9]' || return 1
	ts ingest --help | has 'usage: tessera ingest' || return 1
	ts help ingest | has -- '--shard-samples' || return 1
	ts ingest "$SAMPLE" 2>/dev/null; check $? -eq 2 || return 1
	ts ingest -o "$TMP/x" 2>/dev/null; check $? -eq 2 || return 1
	ts ingest --resize sideways "$SAMPLE" -o "$TMP/x" 2>/dev/null; check $? -eq 2 || return 1
	ts ingest --quality 101 "$SAMPLE" -o "$TMP/x" 2>/dev/null; check $? -eq 2 || return 1
	ts frobnicate 2>/dev/null; check $? -eq 2 || return 1
	# --help and the man page list the same options
	"$TESSERA" ingest --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-ingest.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts" || return 1
	"$TESSERA" ingest -q "$TMP/does-not-exist" -o "$TMP/x" 2>/dev/null; [ $? -eq 1 ]
}

dedup_exact() {
	D="$TMP/dup"; mkdir -p "$D"
	i=0
	for f in "$SAMPLE"/photos/*.jpg; do
		i=$((i + 1)); [ $i -le 6 ] || break
		cp "$f" "$D/a$i.jpg"; echo "first copy $i" > "$D/a$i.txt"
		cp "$f" "$D/b$i.jpg"; echo "second copy $i" > "$D/b$i.txt"
	done
	ts ingest -q --dedup exact --shard-samples 2 "$D" -o "$TMP/dd" || return 1
	check "$(q "$TMP/dd" "select count(*) from samples")" = 6 || return 1
	check "$(q "$TMP/dd" "select count(*) from rejects where reason = 'duplicate'")" = 6 || return 1
	# b1 (record 6) names a1 (record 0)
	check "$(q "$TMP/dd" "select message from rejects where source = 'b1.jpg'")" = "same bytes as sample 000000000" || return 1
	# without --dedup every copy is a sample
	ts ingest -q "$D" -o "$TMP/nodd" || return 1
	check "$(q "$TMP/nodd" "select count(*) from samples")" = 12 || return 1
	# resumed after a kill, the kept samples still count as seen
	TESSERA_CRASH_AT=shard-committed:2 "$TESSERA" ingest -q --dedup exact --shard-samples 2 "$D" -o "$TMP/dd2" 2>/dev/null
	ts ingest -q --dedup exact --shard-samples 2 "$D" -o "$TMP/dd2" || return 1
	same_dataset "$TMP/dd2" "$TMP/dd"
}

fmt_wds() {  # our own shards as input: re-shard and resize, captions kept
	s1 || return 1
	ts ingest -q --resize keep-ratio --size 100 --shard-samples 5 "$TMP"/s1/shards/*.tar -o "$TMP/wds" || return 1
	check "$(q "$TMP/wds" "select count(*) from samples")" = 34 || return 1
	check "$(q "$TMP/wds" "select count(*) from samples where min(width, height) != 100")" = 0 || return 1
	q "$TMP/s1" "select caption from samples order by key" > "$TMP/c1"
	q "$TMP/wds" "select caption from samples order by key" > "$TMP/c2"
	cmp "$TMP/c1" "$TMP/c2" || return 1
	check "$(q "$TMP/wds" "select source from samples where key = '000000000'")" = "$TMP/s1/shards/000000.tar:000000008"
}

fmt_wds_hostile() {  # escaping names, links, missing image or caption: rejects; the rest arrives
	[ -n "$PY" ] || { echo "python3 missing"; return 1; }
	"$PY" - "$TMP/evil.tar" "$SAMPLE/photos/heather-flowers.jpg" <<'PYEOF'
import io, sys, tarfile
img = open(sys.argv[2], "rb").read()
with tarfile.open(sys.argv[1], "w") as tf:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
    add("a/001.jpg", img); add("a/001.txt", b"good one")
    add("../002.jpg", img); add("../002.txt", b"escapes")
    ti = tarfile.TarInfo("003.jpg"); ti.type = tarfile.SYMTYPE; ti.linkname = "/etc/passwd"; tf.addfile(ti)
    add("003.txt", b"symlink")
    ti = tarfile.TarInfo("004.jpg"); ti.type = tarfile.LNKTYPE; ti.linkname = "a/001.jpg"; tf.addfile(ti)
    add("004.txt", b"hard link")
    add("005.txt", b"no image")
    add("006.jpg", img); add("006.json", b'{"caption": "from json"}')
    add("/abs/007.jpg", img); add("/abs/007.txt", b"absolute")
    add("README", b"no dot: not a sample")
    add("008.jpg", img)
PYEOF
	ts ingest -q "$TMP/evil.tar" -o "$TMP/evil" || return 1
	check "$(q "$TMP/evil" "select key, caption from samples order by key" | tr '\n' ' ')" = "000000000|good one 000000005|from json " || return 1
	[ "$(q "$TMP/evil" "select record, reason from rejects order by record" | tr '\n' ' ')" = \
	  "1|record.unsafe_member 2|record.unsafe_member 3|record.unsafe_member 4|record.missing_field 6|record.unsafe_member 7|caption.missing " ] ||
	  { q "$TMP/evil" "select * from rejects"; return 1; }
	absent "$TMP/002.jpg" && absent /abs
}

progress_line() {  # only on a terminal, never with -q or into a pipe
	command -v script > /dev/null || { echo "script(1) not found"; return 1; }
	script -qec "'$TESSERA' ingest --shard-samples 8 '$SAMPLE' -o '$TMP/pr1'" /dev/null > "$TMP/tty.out" 2>&1
	tr '\r' '\n' < "$TMP/tty.out" | has -a '^ingest: [0-9]*/42 ([0-9]*%) .* samples/s .* MB/s [0-9]* rejects' || return 1
	script -qec "'$TESSERA' ingest -q --shard-samples 8 '$SAMPLE' -o '$TMP/pr2'" /dev/null > "$TMP/tty-q.out" 2>&1
	lacks -a 'samples/s' "$TMP/tty-q.out" || return 1
	ts ingest --shard-samples 8 "$SAMPLE" -o "$TMP/pr3" 2> "$TMP/pipe.err" || return 1
	lacks 'samples/s' "$TMP/pipe.err" && has '^ingest done: 42 records, 34 samples written, 8 rejected' "$TMP/pipe.err"
}

json_summary() {
	lists || return 1
	ts ingest --json "$L/list.csv" -o "$TMP/json" > "$TMP/summary.json" 2>/dev/null || return 1
	[ -n "$PY" ] || { grep -q '"samples": 2' "$TMP/summary.json"; return; }
	"$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["samples"] == 2 and s["rejects"] == 3, s
assert s["rejects_by_reason"] == {"source.missing": 1, "source.escapes_root": 1, "caption.empty": 1}, s
' "$TMP/summary.json"
}

if [ ! -d "$SAMPLE" ] || [ ! -f "$SAMPLE/EXPECTED.tsv" ]; then
	skip all "tests/data/sample is missing"
	finish; exit 0
fi
t sample_ingest sample_ingest
t sample_readers sample_readers
t threads_identical threads_identical
for p in sample:1 sample:13 shard-renamed:1 shard-committed:1 shard-renamed:2; do
	t "resume_after_kill_at_$p" resume_at "$p"
done
t resume_timed_kill resume_timed_kill
t interrupt_then_resume interrupt_then_resume
t rerun_complete_is_noop rerun_complete_is_noop
t other_options_refused other_options_refused
t make_lists make_lists
t fmt_csv fmt_csv
t fmt_tsv fmt_tsv
t fmt_jsonl fmt_jsonl
t fmt_coco fmt_coco
t fmt_sharegpt4v fmt_sharegpt4v
t fmt_urban1k fmt_urban1k
t multi_input_keys multi_input_keys
t resize_modes resize_modes
t cli_usage cli_usage
t json_summary json_summary
t progress_line progress_line
t fmt_wds fmt_wds
t fmt_wds_hostile fmt_wds_hostile
t dedup_exact dedup_exact
[ -n "$PY" ] || skip python_tarfile "python3 not found: tarfile check not run"
finish
