#!/bin/sh
# e2e: the output dataset's rules (docs/formats.md, "Output directories"):
# tessera removes or overwrites only files it created, refuses inputs
# inside its output, locks datasets against concurrent rewrites, resumes
# from every crash point of every writing command, stops cleanly on
# SIGINT/SIGTERM, reports unfinished datasets, and finished datasets open
# on read-only storage.
SUITE=outdir
. tests/e2e/lib.sh
SAMPLE=tests/data/sample

# every file under a directory with its hash, for "nothing changed" checks
snapshot() { (cd "$1" && find . -type f ! -name .tessera.lock | sort | xargs md5sum); }
# same_dataset without the catalog dump's run-dependent rows, plus sidecars
want() { printf '%s\n' "$*"; }
base() {  # a small dataset of the bundled sample, 4 samples a shard
	[ -d "$TMP/base" ] && return 0
	"$TESSERA" ingest -q --shard-samples 4 "$SAMPLE" -o "$TMP/base" || { echo "base ingest failed"; return 1; }
}

foreign_outdir_refused() {
	d="$TMP/foreign"; mkdir -p "$d/shards"
	echo "my notes" > "$d/notes.txt"; cp "$SAMPLE/more/aloe-plant-portrait.jpg" "$d/shards/000000.tar"
	before=$(snapshot "$d")
	"$TESSERA" ingest -q "$SAMPLE" -o "$d" 2> "$TMP/err"; st=$?
	check_eq "exit status" "$st" 1 || return 1
	grep -q "is not empty and holds no tessera dataset" "$TMP/err" || { echo "message: $(cat "$TMP/err")"; return 1; }
	check_eq "files of the directory" "$(snapshot "$d")" "$before" || return 1
	"$TESSERA" ingest -q --overwrite "$SAMPLE" -o "$d" 2> /dev/null; st=$?
	check_eq "exit status with --overwrite" "$st" 1 || return 1
	check_eq "files after --overwrite" "$(snapshot "$d")" "$before"
}

input_inside_outdir_refused() {  # the report's case: re-sharding a dataset into itself
	base || return 1
	d="$TMP/self"; rm -rf "$d"; cp -r "$TMP/base" "$d"
	cp "$d/shards/000000.tar" "$d/shards/000007.tar"   # an unrelated file with a shard-like name
	before=$(snapshot "$d")
	for ow in "" --overwrite; do
		"$TESSERA" ingest -q $ow --size 224 "$d"/shards/*.tar -o "$d" 2> "$TMP/err"; st=$?
		check_eq "exit status ($ow)" "$st" 1 || return 1
		grep -q "lies inside the output" "$TMP/err" || { echo "message: $(cat "$TMP/err")"; return 1; }
		check_eq "files after the refused run ($ow)" "$(snapshot "$d")" "$before" || return 1
	done
	# compose and str refuse the same
	ts compose -q "$d" -o "$d" 2> "$TMP/err"; check_eq "compose into its input" "$?" 1 || return 1
	check_eq "files after compose" "$(snapshot "$d")" "$before"
}

overwrite_removes_only_ours() {
	base || return 1
	d="$TMP/ow"; rm -rf "$d"; cp -r "$TMP/base" "$d"
	echo "keep me" > "$d/README"
	echo "keep me too" > "$d/shards/000099.tar"        # not in the catalog
	echo "and me" > "$d/shards/notes.txt"
	ts ingest -q --overwrite --shard-samples 8 "$SAMPLE" -o "$d" || return 1
	check_eq README "$(cat "$d/README")" "keep me" || return 1
	check_eq 000099.tar "$(cat "$d/shards/000099.tar")" "keep me too" || return 1
	check_eq notes.txt "$(cat "$d/shards/notes.txt")" "and me" || return 1
	# the old 4-sample shards that the new run does not rewrite are gone
	n=$(sqlite3 "$d/catalog.sqlite" "select count(*) from shards")
	ls "$d/shards" | grep -E '^[0-9]{6}\.tar$' | grep -v 000099 > "$TMP/tars"
	check_eq "shard files" "$(wc -l < "$TMP/tars" | tr -d ' ')" "$n"
}

resume_keeps_unknown_shard_files() {  # a resume removes only names the catalog holds
	d="$TMP/rk"; rm -rf "$d"
	TESSERA_CRASH_AT=shard-committed:2 "$TESSERA" ingest -q --shard-samples 4 "$SAMPLE" -o "$d" 2>/dev/null
	check_eq "killed run" "$?" 137 || return 1
	echo "a file of mine" > "$d/shards/000009.tar"
	ts ingest -q --shard-samples 4 "$SAMPLE" -o "$d" || return 1
	check_eq "foreign 000009.tar" "$(cat "$d/shards/000009.tar")" "a file of mine" || return 1
	rm "$d/shards/000009.tar"
	base && same_dataset "$d" "$TMP/base"
}

differing_options_named() {
	base || return 1
	"$TESSERA" ingest -q --shard-samples 4 --size 128 "$SAMPLE" -o "$TMP/base" 2> "$TMP/err"
	check_eq "exit status" "$?" 1 || return 1
	grep -q 'size: 256 -> 128' "$TMP/err" || { echo "message does not name the option: $(cat "$TMP/err")"; return 1; }
	grep -q -- '--overwrite' "$TMP/err" || { echo "message does not mention --overwrite"; return 1; }
}

# ---- crash points of every writing command --------------------------------
# kill at POINT, run again: the same bytes and rows as an uninterrupted run
crash_resume() {  # NAME POINT REFDIR CMD... (CMD writes $OUT)
	name=$1; point=$2; ref=$3; shift 3
	OUT="$TMP/crash-$name-$(echo "$point" | tr ':' '-')"; rm -rf "$OUT"
	TESSERA_CRASH_AT=$point "$@" 2>/dev/null; st=$?
	[ $st -eq 137 ] || { echo "$name at $point: expected SIGKILL (137), got $st"; return 1; }
	"$@" 2> "$TMP/err" || { echo "$name at $point: the re-run failed: $(cat "$TMP/err")"; return 1; }
	same_dataset "$OUT" "$ref" || { echo "$name at $point: differs from an uninterrupted run"; return 1; }
	for f in "$OUT"/shards/.*.tmp; do [ -e "$f" ] && { echo "$name at $point: temporary file left: $f"; return 1; }; done
	return 0
}

ingest_cmd() { "$TESSERA" ingest -q --shard-samples 4 "$SAMPLE" -o "$OUT"; }
compose_cmd() { "$TESSERA" compose -q --rate 1 --seed 3 --shard-samples 4 "$TMP/base" -o "$OUT"; }
str_cmd() { "$TESSERA" str ingest -q "$TMP/gt.txt" --image-root "$SAMPLE" --store wds --shard-samples 4 -o "$OUT"; }
merge_cmd() { "$TESSERA" shards merge -q "$TMP/parts/part-00000" "$TMP/parts/part-00001" -o "$OUT"; }

every_crash_point() {
	base || return 1
	OUT="$TMP/compose-ref"; rm -rf "$OUT"; compose_cmd || return 1
	ts ingest -q --shard-samples 4 --part 0/2 "$SAMPLE" -o "$TMP/parts" || return 1
	ts ingest -q --shard-samples 4 --part 1/2 "$SAMPLE" -o "$TMP/parts" || return 1
	OUT="$TMP/merge-ref"; rm -rf "$OUT"; merge_cmd || return 1
	# a scene-text list over the sample's files (its text files become rejects)
	(cd "$SAMPLE" && find more -type f | sort | awk '{ print $0 "\tword" NR }') > "$TMP/gt.txt"
	OUT="$TMP/str-ref"; rm -rf "$OUT"; str_cmd || return 1
	n=0
	# every point, for every writing command; the second occurrence of a
	# point (a later shard) for ingest
	for point in catalog-created run-begun shard-open sample shard-renamed shard-committed; do
		crash_resume ingest "$point" "$TMP/base" ingest_cmd || return 1
		crash_resume compose "$point" "$TMP/compose-ref" compose_cmd || return 1
		crash_resume merge "$point" "$TMP/merge-ref" merge_cmd || return 1
		crash_resume str "$point" "$TMP/str-ref" str_cmd || return 1
		n=$((n + 4))
	done
	for point in shard-open:2 sample:5 shard-committed:2; do
		crash_resume ingest "$point" "$TMP/base" ingest_cmd || return 1
		n=$((n + 1))
	done
	echo "$n kills resumed to identical datasets"
}

# ---- SIGINT / SIGTERM --------------------------------------------------------
signal_stop() {  # NAME SIGNAL REF CMD...: stopped cleanly, resumable
	name=$1; sig=$2; ref=$3; shift 3
	OUT="$TMP/sig-$name-$sig"; rm -rf "$OUT"
	TESSERA_CRASH_AT=shard-committed TESSERA_CRASH_SIGNAL=$sig "$@" 2> "$TMP/err"; st=$?
	check_eq "$name: exit status after SIG$sig" "$st" 130 || { cat "$TMP/err"; return 1; }
	check_eq "$name: last run's status" "$(sqlite3 "$OUT/catalog.sqlite" 'select status from runs order by id desc limit 1')" interrupted || return 1
	for f in "$OUT"/shards/.*.tmp; do [ -e "$f" ] && { echo "$name: temporary file left: $f"; return 1; }; done
	"$TESSERA" shards verify -q "$OUT" > "$TMP/verify" 2>&1 && { echo "$name: verify passed an interrupted dataset"; return 1; }
	grep -q incomplete "$TMP/verify" || { echo "$name: verify: $(cat "$TMP/verify")"; return 1; }
	"$@" || return 1
	same_dataset "$OUT" "$ref"
}

signals_clean() {
	[ -d "$TMP/str-ref" ] || every_crash_point > /dev/null || return 1
	for sig in INT TERM; do
		signal_stop ingest $sig "$TMP/base" ingest_cmd || return 1
		signal_stop compose $sig "$TMP/compose-ref" compose_cmd || return 1
		signal_stop merge $sig "$TMP/merge-ref" merge_cmd || return 1
		signal_stop str $sig "$TMP/str-ref" str_cmd || return 1
	done
}

# the last writes of split -o fold the new catalog's write-ahead log back
# into its file; a fault there once moved the file without its -wal (a
# malformed catalog) and exited 0: every one of those faults now fails
# with a message and the re-run gives the uninterrupted bytes
split_close_faults() {
	base || return 1
	rm -rf "$TMP/scf-ref" "$TMP/scf"
	ts captions split -q --rule longclip "$TMP/base" -o "$TMP/scf-ref" || return 1
	total=$(TESSERA_FAULT=count "$TESSERA" captions split -q --rule longclip "$TMP/base" -o "$TMP/scf" 2>&1 |
		sed -n 's/.*write=\([0-9]*\).*/\1/p')
	[ -n "$total" ] || { echo "no write count"; return 1; }
	i=$((total - 60)); [ $i -ge 1 ] || i=1
	while [ $i -le "$total" ]; do
		rm -rf "$TMP/scf"
		TESSERA_FAULT=write:$i:ENOSPC "$TESSERA" captions split -q --rule longclip "$TMP/base" -o "$TMP/scf" 2> "$TMP/err"; st=$?
		if [ $st -ne 0 ]; then
			grep -q 'error:' "$TMP/err" || { echo "write:$i: exit $st without a message"; return 1; }
		elif [ -e "$TMP/scf/catalog.sqlite-wal" ] && [ -s "$TMP/scf/catalog.sqlite-wal" ]; then
			echo "write:$i: exit 0 with a write-ahead log left"; return 1
		fi
		"$TESSERA" captions split -q --rule longclip "$TMP/base" -o "$TMP/scf" 2> "$TMP/err" ||
			{ echo "write:$i: re-run failed: $(cat "$TMP/err")"; return 1; }
		same_dataset "$TMP/scf" "$TMP/scf-ref" || { echo "write:$i: re-run differs"; return 1; }
		i=$((i + 1))
	done
}

# the rewrites (captions split, tags), in place and into -o: SIGINT or
# SIGTERM mid-write exits 130, leaves the source dataset as it was (byte for
# byte), no .rewrite.tmp, and the same command again gives what an
# uninterrupted run gives
rewrite_stop() {  # NAME SIGNAL CMD... (CMD acts on $RW)
	name=$1; sig=$2; shift 2
	rm -rf "$RW"; cp -a "$TMP/rw-src" "$RW"
	TESSERA_CRASH_AT=shard-committed TESSERA_CRASH_SIGNAL=$sig "$@" 2> "$TMP/err"; st=$?
	check_eq "$name: exit status after SIG$sig" "$st" 130 || { cat "$TMP/err"; return 1; }
	[ -e "$RW/.rewrite.tmp" ] && { echo "$name: $RW/.rewrite.tmp left"; return 1; }
	same_dataset "$RW" "$TMP/rw-src" || { echo "$name: the interrupted rewrite changed the dataset"; return 1; }
	"$@" 2> "$TMP/err" || { echo "$name: the re-run failed:"; cat "$TMP/err"; return 1; }
}
rewrites_signals() {
	base || return 1
	rm -rf "$TMP/rw-src" "$TMP/rw-split" "$TMP/rw-tags" "$TMP/rw-o" "$TMP/rw-oref"
	cp -a "$TMP/base" "$TMP/rw-src"
	RW=$TMP/rw-split; cp -a "$TMP/rw-src" "$RW"
	ts captions split -q --rule longclip "$RW" || return 1
	mv "$RW" "$TMP/rw-split-ref"
	RW=$TMP/rw-tags; cp -a "$TMP/rw-src" "$RW"
	ts tags -q "$RW" || return 1
	mv "$RW" "$TMP/rw-tags-ref"
	ts captions split -q --rule longclip "$TMP/rw-src" -o "$TMP/rw-oref" || return 1
	for sig in INT TERM; do
		RW=$TMP/rw-split
		rewrite_stop "split in place" $sig "$TESSERA" captions split -q --rule longclip "$RW" || return 1
		same_dataset "$RW" "$TMP/rw-split-ref" || return 1
		RW=$TMP/rw-tags
		rewrite_stop "tags in place" $sig "$TESSERA" tags -q "$RW" || return 1
		same_dataset "$RW" "$TMP/rw-tags-ref" || return 1
		# into -o: the source is RW and stays as it was; the output resumes
		RW=$TMP/rw-srccopy; rm -rf "$TMP/rw-o"
		rewrite_stop "split -o" $sig "$TESSERA" captions split -q --rule longclip "$RW" -o "$TMP/rw-o" || return 1
		same_dataset "$TMP/rw-o" "$TMP/rw-oref" || return 1
	done
}

verify_reports_incomplete() {
	d="$TMP/inc"; rm -rf "$d"
	TESSERA_CRASH_AT=shard-committed "$TESSERA" ingest -q --shard-samples 4 "$SAMPLE" -o "$d" 2>/dev/null
	"$TESSERA" shards verify "$d" > "$TMP/out" 2>&1; st=$?
	check_eq "verify exit status" "$st" 1 || return 1
	grep -q "incomplete: the last run" "$TMP/out" || { echo "verify said: $(cat "$TMP/out")"; return 1; }
	base && "$TESSERA" shards verify -q "$TMP/base"
}

# ---- locks -------------------------------------------------------------------
locks() {
	base || return 1
	# a writer holds the lock: readers refuse with a message
	flock -x "$TMP/base/.tessera.lock" sleep 5 &
	hp=$!; sleep 0.3
	"$TESSERA" shards verify "$TMP/base" > "$TMP/out" 2>&1; st=$?
	kill $hp 2>/dev/null; wait $hp 2>/dev/null
	check_eq "verify under a writer's lock" "$st" 1 || return 1
	grep -q "being written by another tessera process" "$TMP/out" || { echo "message: $(cat "$TMP/out")"; return 1; }
	# a reader holds it shared: a writer refuses
	flock -s "$TMP/base/.tessera.lock" sleep 5 &
	hp=$!; sleep 0.3
	"$TESSERA" ingest -q --shard-samples 4 "$SAMPLE" -o "$TMP/base" 2> "$TMP/err"; st=$?
	kill $hp 2>/dev/null; wait $hp 2>/dev/null
	check_eq "ingest under a reader's lock" "$st" 1 || return 1
	grep -q "in use by another tessera process" "$TMP/err" || { echo "message: $(cat "$TMP/err")"; return 1; }
}

tampered_shard_name() {
	base || return 1
	d="$TMP/tamper"; rm -rf "$d"; cp -r "$TMP/base" "$d"
	sqlite3 "$d/catalog.sqlite" "update shards set name = '../../escaped.tar' where idx = 0"
	"$TESSERA" shards index "$d" 2> "$TMP/err"; st=$?
	check_eq "index of a tampered catalog" "$st" 1 || return 1
	grep -q "not a shard name" "$TMP/err" || { echo "message: $(cat "$TMP/err")"; return 1; }
	[ ! -e "$TMP/escaped.idx" ] && [ ! -e "$TMP/escaped_stats.json" ] || { echo "a file was written outside the dataset"; return 1; }
}

# ---- read-only storage ---------------------------------------------------------
standalone_catalog() {
	base || return 1
	for d in "$TMP/base" "$TMP/compose-ref" "$TMP/merge-ref" "$TMP/str-ref"; do
		[ -d "$d" ] || continue
		check_eq "journal mode of $d" "$(sqlite3 "$d/catalog.sqlite" 'pragma journal_mode')" delete || return 1
		[ ! -e "$d/catalog.sqlite-wal" ] || { echo "a -wal file is left in $d"; return 1; }
	done
}

# can this process make a read-only bind mount? (root, and mounts allowed)
can_mount_ro() {
	[ "$(id -u)" = 0 ] || { echo "a read-only bind mount needs root"; return 1; }
	mkdir -p "$TMP/probe-src" "$TMP/probe"
	if mount --bind "$TMP/probe-src" "$TMP/probe" 2>/dev/null && mount -o remount,ro,bind "$TMP/probe" 2>/dev/null; then
		umount "$TMP/probe"; return 0
	fi
	umount "$TMP/probe" 2>/dev/null
	echo "mounting is not allowed here"; return 1
}

readonly_open() {
	base || return 1
	ro="$TMP/ro"; mkdir -p "$ro"
	mount --bind "$TMP/base" "$ro" && mount -o remount,ro,bind "$ro" || { umount "$ro" 2>/dev/null; echo "mount failed"; return 1; }
	rc=0
	touch "$ro/x" 2>/dev/null && { echo "the mount is writable"; rc=1; }
	[ $rc = 0 ] && { "$TESSERA" shards verify -q "$ro" || { echo "verify on read-only storage failed"; rc=1; }; }
	[ $rc = 0 ] && { "$TESSERA" shards ls "$ro" > /dev/null || { echo "ls failed"; rc=1; }; }
	[ $rc = 0 ] && { "$TESSERA" captions stats "$ro" > /dev/null 2>&1 || { echo "captions stats failed"; rc=1; }; }
	# a rewrite with -o only reads its input: from read-only storage it
	# makes the same dataset as from the writable original
	for c in "captions split" tags; do
		[ $rc = 0 ] || break
		n=$(echo "$c" | tr ' ' _)
		rm -rf "$TMP/ro-$n" "$TMP/rw-$n"
		"$TESSERA" $c -q "$ro" -o "$TMP/ro-$n" || { echo "$c -o from read-only storage failed"; rc=1; break; }
		"$TESSERA" $c -q "$TMP/base" -o "$TMP/rw-$n" || { echo "$c -o from the original failed"; rc=1; break; }
		for f in $(cd "$TMP/rw-$n/shards" && ls); do
			cmp "$TMP/rw-$n/shards/$f" "$TMP/ro-$n/shards/$f" || { echo "$c -o: $f differs"; rc=1; }
		done
	done
	[ $rc = 0 ] && { n=$(sqlite3 "file:$ro/catalog.sqlite?mode=ro" 'select count(*) from samples' 2>&1); check_eq "sqlite3 on read-only storage" "$n" "$(sqlite3 "$TMP/base/catalog.sqlite" 'select count(*) from samples')" || rc=1; }
	# a catalog left in WAL mode (a killed run) still opens, immutable
	if [ $rc = 0 ]; then
		umount "$ro"
		w="$TMP/walds"; rm -rf "$w"; cp -r "$TMP/base" "$w"
		sqlite3 "$w/catalog.sqlite" 'pragma journal_mode=wal' > /dev/null
		mount --bind "$w" "$ro" && mount -o remount,ro,bind "$ro" || { echo "remount failed"; return 1; }
		"$TESSERA" shards ls "$ro" > /dev/null || { echo "ls of a WAL catalog on read-only storage failed"; rc=1; }
	fi
	umount "$ro" 2>/dev/null
	return $rc
}

# ---- injected I/O faults (TESSERA_FAULT, docs/testing.md) ---------------------
# For each kind of call, fail a spread of its calls in turn: the command fails
# with a message (or, where the call's failure is harmless, finishes), the
# catalog is consistent, and a re-run without the fault gives the reference.
fault_runs() {  # NAME REF PER_KIND CMD...
	name=$1; ref=$2; per=$3; shift 3
	OUT="$TMP/count-$name"; rm -rf "$OUT"
	counts=$(TESSERA_FAULT=count "$@" 2>&1 | sed -n 's/^tessera: io calls: //p')
	[ -n "$counts" ] || { echo "$name: no call counts"; return 1; }
	tried=0
	for kv in $counts; do
		kind=${kv%%=*}; total=${kv#*=}
		[ "$total" -gt 0 ] || continue
		# FAULT_KINDS="fsync rename": only those kinds of call
		case " ${FAULT_KINDS:-$kind} " in *" $kind "*) ;; *) continue ;; esac
		# FAULT_ALL=1: every call, not a spread (minutes; see docs/testing.md)
		[ -n "${FAULT_ALL:-}" ] && per=$total
		step=$(( (total + per - 1) / per )); [ $step -ge 1 ] || step=1
		i=1
		while [ $i -le "$total" ]; do
			OUT="$TMP/fault-$name"; rm -rf "$OUT"
			err=ENOSPC; [ "$kind" = write ] || err=EIO
			TESSERA_FAULT=$kind:$i:$err "$@" 2> "$TMP/ferr"; st=$?
			if [ $st -ne 0 ]; then
				grep -q "error:" "$TMP/ferr" || { echo "$name: $kind:$i failed without a message (status $st)"; return 1; }
				if [ -f "$OUT/catalog.sqlite" ]; then
					ic=$(sqlite3 "$OUT/catalog.sqlite" 'pragma integrity_check' 2>&1)
					check_eq "$name $kind:$i: catalog integrity" "$ic" ok || return 1
				fi
			fi
			"$@" 2> "$TMP/ferr" || { echo "$name: re-run after $kind:$i failed: $(cat "$TMP/ferr")"; return 1; }
			same_dataset "$OUT" "$ref" || { echo "$name: re-run after $kind:$i differs"; return 1; }
			tried=$((tried + 1))
			i=$((i + step))
		done
	done
	echo "$name: $tried faults ($counts)"
}

io_faults() {
	[ -d "$TMP/str-ref" ] || every_crash_point > /dev/null || return 1
	fault_runs ingest "$TMP/base" 5 ingest_cmd || return 1
	fault_runs compose "$TMP/compose-ref" 2 compose_cmd || return 1
	fault_runs merge "$TMP/merge-ref" 2 merge_cmd || return 1
	fault_runs str "$TMP/str-ref" 2 str_cmd || return 1
	ts captions split -q --rule longclip "$TMP/base" -o "$TMP/split-fref" || return 1
	fault_runs split "$TMP/split-fref" 2 split_cmd
}
split_cmd() { "$TESSERA" captions split -q --rule longclip "$TMP/base" -o "$OUT"; }

# a real ENOSPC: a small tmpfs (root only), then room again
can_mount_tmpfs() {
	[ "$(id -u)" = 0 ] || { echo "a tmpfs mount needs root"; return 1; }
	mkdir -p "$TMP/tprobe"
	mount -t tmpfs -o size=64k tmpfs "$TMP/tprobe" 2>/dev/null || { echo "mounting a tmpfs is not allowed here"; return 1; }
	umount "$TMP/tprobe"
}

real_enospc() {
	base || return 1
	m="$TMP/small"; mkdir -p "$m"
	mount -t tmpfs -o size=400k tmpfs "$m" || return 1
	OUT="$m/ds"
	"$TESSERA" ingest -q --shard-samples 4 "$SAMPLE" -o "$OUT" 2> "$TMP/err"; st=$?
	rc=0
	[ $st -ne 0 ] || { echo "ingest into a full tmpfs succeeded"; rc=1; }
	[ $rc = 0 ] && { grep -q "error:" "$TMP/err" || { echo "no message: $(cat "$TMP/err")"; rc=1; }; }
	[ $rc = 0 ] && { ic=$(sqlite3 "$OUT/catalog.sqlite" 'pragma integrity_check' 2>&1); check_eq "catalog after ENOSPC" "$ic" ok || rc=1; }
	[ $rc = 0 ] && { mount -o remount,size=64m "$m" || rc=1; }
	[ $rc = 0 ] && { "$TESSERA" ingest -q --shard-samples 4 "$SAMPLE" -o "$OUT" || { echo "re-run failed"; rc=1; }; }
	[ $rc = 0 ] && { same_dataset "$OUT" "$TMP/base" || rc=1; }
	umount "$m"
	return $rc
}

non_utf8_path_is_a_sample() {  # a valid image whose file name is not UTF-8
	d="$TMP/nonutf8"; rm -rf "$d" "$d.out"; mkdir -p "$d"
	name=$(printf 'caf\351.jpg')     # Latin-1 e-acute, as old archives have them
	cp "$SAMPLE/more/aloe-plant-portrait.jpg" "$d/$name"
	printf 'An aloe plant in a pot.' > "$d/$(printf 'caf\351.txt')"
	"$TESSERA" ingest -q "$d" -o "$d.out" 2> "$TMP/err" || { echo "ingest failed: $(cat "$TMP/err")"; return 1; }
	check_eq samples "$(sqlite3 "$d.out/catalog.sqlite" 'select count(*) from samples')" 1 || return 1
	check_eq rejects "$(sqlite3 "$d.out/catalog.sqlite" 'select count(*) from rejects')" 0 || return 1
	tar xOf "$d.out/shards/000000.tar" 000000000.json | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["image"] == "caf\ufffd.jpg", j["image"]'
}

split_o_killed_then_rerun() {  # the re-run finishes the moved rewrite and exits 0
	base || return 1
	ts captions split -q --rule longclip "$TMP/base" -o "$TMP/split-ref" || return 1
	rm -rf "$TMP/split-k"
	TESSERA_CRASH_AT=rewrite-moved:1 "$TESSERA" captions split -q --rule longclip "$TMP/base" -o "$TMP/split-k" 2>/dev/null
	check_eq "killed split" "$?" 137 || return 1
	"$TESSERA" captions split -q --rule longclip "$TMP/base" -o "$TMP/split-k" 2> "$TMP/err"
	check_eq "re-run of the killed split" "$?" 0 || { cat "$TMP/err"; return 1; }
	same_dataset "$TMP/split-k" "$TMP/split-ref" || return 1
	# a split -o into somebody's directory is refused, untouched
	mkdir -p "$TMP/split-f"; echo mine > "$TMP/split-f/notes"
	"$TESSERA" captions split -q --rule longclip "$TMP/base" -o "$TMP/split-f" 2> "$TMP/err"
	check_eq "split into a foreign directory" "$?" 1 || return 1
	check_eq "its file" "$(cat "$TMP/split-f/notes")" mine
}

t foreign_outdir_refused foreign_outdir_refused
t input_inside_outdir_refused input_inside_outdir_refused
t overwrite_removes_only_ours overwrite_removes_only_ours
t resume_keeps_unknown_shard_files resume_keeps_unknown_shard_files
t differing_options_named differing_options_named
t every_crash_point every_crash_point
t signals_clean signals_clean
t verify_reports_incomplete verify_reports_incomplete
t locks locks
t tampered_shard_name tampered_shard_name
t non_utf8_path_is_a_sample non_utf8_path_is_a_sample
t split_o_killed_then_rerun split_o_killed_then_rerun
t rewrites_signals rewrites_signals
t split_close_faults split_close_faults
t io_faults io_faults
if why=$(can_mount_tmpfs); then
	t real_enospc real_enospc
else
	skip real_enospc "$why"
fi
t standalone_catalog standalone_catalog
if why=$(can_mount_ro); then
	t readonly_open readonly_open
else
	skip readonly_open "$why"
fi
finish
