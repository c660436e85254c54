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
	if ! (ulimit -v 2000000 && "$TESSERA" --version) > /dev/null 2>&1; then
		echo "SKIPPED: the binary cannot run under ulimit -v (sanitizer build)"; return 0
	fi
	mkdir -p "$TMP/nm" && cp "$SAMPLE/hostile/huge.png" "$TMP/nm/" && echo "a huge image" > "$TMP/nm/huge.txt"
	(ulimit -v 2000000 && exec "$TESSERA" ingest -j1 --max-pixels 20G "$TMP/nm" -o "$TMP/nmo") 2> "$TMP/nm.err"
	rc=$?
	[ $rc -eq 1 ] || { echo "exit $rc, want 1"; cat "$TMP/nm.err"; return 1; }
	grep -q "error: out of memory processing 'huge.png'" "$TMP/nm.err" || { cat "$TMP/nm.err"; return 1; }
	n=$(sqlite3 "$TMP/nmo/catalog.sqlite" "select count(*) from rejects")
	[ "$n" = 0 ] || { echo "$n reject rows for an allocation failure"; return 1; }
	[ "$(sqlite3 "$TMP/nmo/catalog.sqlite" "select status from runs")" = failed ]
}

t nomem_fatal nomem_fatal
finish
