#!/bin/sh
# make bench, parquet part: read the URL and TEXT columns of a generated
# LAION-like 1M-row snappy parquet (tests/data/parquet/big.mjs, written with
# hyparquet-writer; npm installs it into tests/data/parquet/node_modules
# the first time) through shards/parquet.c on one thread, and print rows/s
# (wall and CPU) and the peak RSS.  BENCH_PARQUET_BIG=1 also makes a ~2 GB
# file in ${TMPDIR:-/tmp} (that file's row group repeated 24 times by
# tests/data/parquet/repeat.mjs), reads it the same way and deletes it.
# Figures only: nothing here asserts a time.
#   BENCH_PARQUET_ROWS=1000000  BENCH_DIR=bench/out
set -e
cd "$(dirname "$0")/.."
ROWS=${BENCH_PARQUET_ROWS:-1000000}
OUT=${BENCH_DIR:-bench/out}
command -v node > /dev/null && command -v npm > /dev/null ||
	{ echo "bench parquet: SKIPPED: node and npm are needed to write the file"; exit 0; }
mkdir -p "$OUT"
[ -d tests/data/parquet/node_modules/hyparquet-writer ] ||
	(cd tests/data/parquet && npm install --no-audit --no-fund --silent) ||
	{ echo "bench parquet: SKIPPED: npm install failed"; exit 0; }
cc -O2 -I. -o "$OUT/parquet_read" bench/parquet_read.c build/libtessera.a \
	$(pkg-config --libs jansson snappy libzstd zlib)
F="$OUT/laion-like-$ROWS.parquet"
[ -f "$F" ] || node tests/data/parquet/big.mjs "$F" "$ROWS"
echo "parquet: URL+TEXT of $ROWS rows ($(du -m "$F" | cut -f1) MB, snappy), one thread:"
echo "  $("$OUT/parquet_read" "$F" URL TEXT)"
if [ "${BENCH_PARQUET_BIG:-0}" = 1 ]; then
	B="${TMPDIR:-/tmp}/tessera-bench-2g.parquet"
	node tests/data/parquet/repeat.mjs "$F" "$B" 24
	echo "parquet: URL+TEXT of a $(du -m "$B" | cut -f1) MB file (24 row groups of $ROWS rows):"
	echo "  $("$OUT/parquet_read" "$B" URL TEXT)"
	rm -f "$B"
fi
