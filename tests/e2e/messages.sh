#!/bin/sh
# e2e: messages that tell the user what to do, and exit codes: an
# allocation failure is fatal (never a reject), a run that rejects every
# record exits 3 with one hint, an interrupted run says how to resume, the
# progress line has a total; compose's over_budget and tags select's
# missing scores in plain output; non-ASCII text in messages as UTF-8.
SUITE=messages
. tests/e2e/lib.sh
SAMPLE=tests/data/sample

# out of memory in a worker (a 100000x100000 PNG allowed by --max-pixels,
# under a 2 GB address-space limit) stops the run: exit 1, no reject row
nomem_fatal() {
	mkdir -p "$TMP/nm" && cp "$SAMPLE/hostile/huge.png" "$TMP/nm/" && echo "a huge image" > "$TMP/nm/huge.txt"
	(ulimit -v 2000000 && exec "$TESSERA" ingest -j1 --max-pixels 20G "$TMP/nm" -o "$TMP/nmo") 2> "$TMP/nm.err"
	rc=$?
	[ $rc -eq 1 ] || { echo "exit $rc, want 1"; cat "$TMP/nm.err"; return 1; }
	grep -q "error: out of memory processing 'huge.png'" "$TMP/nm.err" || { cat "$TMP/nm.err"; return 1; }
	n=$(sqlite3 "$TMP/nmo/catalog.sqlite" "select count(*) from rejects")
	[ "$n" = 0 ] || { echo "$n reject rows for an allocation failure"; return 1; }
	check "$(sqlite3 "$TMP/nmo/catalog.sqlite" "select status from runs")" = failed
}

# every record rejected: exit 3 and one hint naming the top reason, its
# likely cause and the first path, also with -q and with --json
all_rejected() {
	mkdir -p "$TMP/ar/data" && printf 'image,caption\nimg/000000249025.jpg,a dog\nimg/2.jpg,a cat\nimg/3.jpg,a cow\n' > "$TMP/ar/list.csv"
	want="error: all 3 records rejected, 3 source.missing: is --image-root right? first: 'img/000000249025.jpg' under '$TMP/ar/data'"
	for q in "" -q --json; do
		rm -rf "$TMP/aro"
		"$TESSERA" ingest $q "$TMP/ar/list.csv" --image-root "$TMP/ar/data" -o "$TMP/aro" > "$TMP/ar.out" 2> "$TMP/ar.err"
		rc=$?
		[ $rc -eq 3 ] || { echo "ingest $q: exit $rc, want 3"; cat "$TMP/ar.err"; return 1; }
		n=$(grep -c "all 3 records rejected" "$TMP/ar.err")
		[ "$n" = 1 ] || { echo "ingest $q: $n hint lines"; cat "$TMP/ar.err"; return 1; }
		grep -qF "$want" "$TMP/ar.err" || { echo "ingest $q: want '$want', got:"; cat "$TMP/ar.err"; return 1; }
	done
	grep -q '"all_rejected": true' "$TMP/ar.out" || { echo "--json lacks all_rejected"; return 1; }
	# a run with one good sample among rejects is a success
	mkdir -p "$TMP/ar/data/img" && cp "$SAMPLE/photos/$(ls "$SAMPLE/photos" | grep -m1 '\.jpg$')" "$TMP/ar/data/img/2.jpg"
	"$TESSERA" ingest -q "$TMP/ar/list.csv" --image-root "$TMP/ar/data" -o "$TMP/aro2" 2> "$TMP/ar.err" ||
		{ echo "a run with one sample failed: $?"; cat "$TMP/ar.err"; return 1; }
	lacks "records rejected" "$TMP/ar.err"
}

# an interrupted run (SIGINT while the reader waits on a FIFO, after three
# shards) says how many samples are kept and the command that resumes it;
# that command, run again on the full list, finishes the dataset
interrupted() {
	d=$TMP/int; mkdir -p "$d/img" && cp "$SAMPLE"/photos/*.jpg "$d/img/" || return 1
	ls "$d/img" | head -6 | while read -r f; do printf '{"image": "img/%s", "caption": "photo %s"}\n' "$f" "$f"; done > "$d/all.jsonl"
	mkfifo "$d/list.jsonl" || return 1
	(cd "$d" && exec "$TESSERA" ingest --shard-samples 1 -j1 list.jsonl -o 'out dir') 2> "$d/err" &
	pid=$!
	# three records, then blank lines (they take no number) to fill the
	# reader's 64 KiB buffer exactly, then the FIFO stays open with nothing
	# more: the reader waits in read(), which SIGINT interrupts
	head -3 "$d/all.jsonl" > "$d/head.jsonl"
	pad=$((65536 - $(wc -c < "$d/head.jsonl")))
	awk -v n=$pad 'BEGIN { while (n > 0) { k = n < 100 ? n : 100; printf "%*s\n", k - 1, ""; n -= k } }' > "$d/pad"
	(cat "$d/head.jsonl" "$d/pad"; exec sleep 60) > "$d/list.jsonl" 2> /dev/null &
	wpid=$!
	i=0
	while [ ! -f "$d/out dir/shards/000002.tar" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	kill -INT $pid
	wait $pid
	rc=$?
	kill $wpid 2> /dev/null; wait $wpid 2> /dev/null
	[ $rc -eq 130 ] || { echo "exit $rc, want 130"; cat "$d/err"; return 1; }
	grep -q "interrupted: 3 samples in complete shards are kept" "$d/err" || { cat "$d/err"; return 1; }
	cmd=$(grep -A1 "the same command resumes the run" "$d/err" | tail -n 1 | sed 's/^ *//')
	case "$cmd" in
	"tessera ingest "*"-o 'out dir'"*) ;;
	*) echo "resume command: $cmd"; return 1 ;;
	esac
	rm "$d/list.jsonl" && cp "$d/all.jsonl" "$d/list.jsonl"
	bindir=$(cd "$(dirname "$TESSERA")" && pwd)
	(cd "$d" && PATH="$bindir:$PATH" && eval "$cmd") 2> "$d/err2" || { cat "$d/err2"; return 1; }
	grep -q "resumed at record 3" "$d/err2" || { cat "$d/err2"; return 1; }
	check "$(sqlite3 "$d/out dir/catalog.sqlite" "select count(*) from samples")" = 6
}

# the progress line has a total for every list format and for tar input
# (counted cheaply before reading), so it can show a percentage and ETA
progress_totals() {
	d=$TMP/pg; mkdir -p "$d/img" && cp "$SAMPLE"/photos/*.jpg "$d/img/" || return 1
	imgs=$(ls "$d/img" | head -7)
	{ echo "image,caption"; for f in $imgs; do echo "img/$f,a photo"; done; } > "$d/l.csv"
	{ printf 'image\tcaption\n'; for f in $imgs; do printf 'img/%s\tphoto\n' "$f"; done; } > "$d/l.tsv"
	{ for f in $imgs; do printf '{"image": "img/%s", "caption": "a, photo [1]"}\n\n' "$f"; done; } > "$d/l.jsonl"
	{ printf '['; sep=''; for f in $imgs; do
		printf '%s{"image": "img/%s", "conversations": [{"from": "human", "value": "x, [y]"}, {"from": "gpt", "value": "a \\"photo\\", {1}"}]}' "$sep" "$f"; sep=','
	  done; printf ']\n'; } > "$d/l.json"
	for f in l.csv l.tsv l.jsonl l.json; do
		rm -rf "$d/o"
		"$TESSERA" ingest --progress "$d/$f" -o "$d/o" 2> "$d/err" || { cat "$d/err"; return 1; }
		grep -q "ingest: 7/7 (100%)" "$d/err" || { echo "$f: no total in the progress line:"; tr '\r' '\n' < "$d/err" | head -3; return 1; }
	done
	# the dataset's own shards as input: 7 samples in 3 tars
	rm -rf "$d/o" && "$TESSERA" ingest -q --shard-samples 3 "$d/l.csv" -o "$d/o" || return 1
	"$TESSERA" ingest --progress "$d"/o/shards/*.tar -o "$d/o2" 2> "$d/err" || { cat "$d/err"; return 1; }
	grep -q "ingest: 7/7 (100%)" "$d/err" || { echo "tar: no total:"; tr '\r' '\n' < "$d/err" | head -3; return 1; }
}

if (ulimit -v 2000000 && "$TESSERA" --version) > /dev/null 2>&1; then
	t nomem_fatal nomem_fatal
else
	skip nomem_fatal "the binary cannot run under ulimit -v (a sanitizer build)"
fi
t all_rejected all_rejected
t interrupted interrupted
t progress_totals progress_totals
finish
