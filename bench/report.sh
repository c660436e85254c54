#!/bin/sh
# bench/report.sh: time and peak RSS of `tessera report` on a synthetic
# catalog of BENCH_REPORT_N (1,000,000) samples (bench/report_catalog.py),
# made in a temporary directory and deleted afterwards.  Figures only.
set -e
cd "$(dirname "$0")/.."
N=${BENCH_REPORT_N:-1000000}
TESSERA=${TESSERA:-./build/tessera}
SHARED=${TS_SHARED:-../shared}
[ -f "$SHARED/data/captions/flickr8k.jsonl" ] || { echo "bench: SKIPPED report: $SHARED/data/captions not found"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/tessera-report-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$TESSERA" ingest -q --format folder tests/data/sample -o "$T/demo" 2>/dev/null || true
/usr/bin/python3 bench/report_catalog.py "$T/big" "$T/demo" "$N"
/usr/bin/time -f "report of $N samples: %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
	"$TESSERA" report -v "$T/big" -o "$T/report.html"
ls -l "$T/report.html" | awk '{print "page: " $5 " bytes"}'
