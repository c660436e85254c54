#!/bin/sh
# make bench, compose part: `tessera compose` (halves, 224, JPEG q95, one
# composite per source) at 1 thread and all cores, and the same pairs with
# Pillow (bench/pil_compose.py).  Input: the dataset bench/run.sh ingested
# (bench/out/tN).  Figures only: nothing here asserts a time.
set -e
cd "$(dirname "$0")/.."
OUT=${BENCH_DIR:-bench/out}
TESSERA=${TESSERA:-./build/tessera}
IN="$OUT/tN"
[ -f "$IN/catalog.sqlite" ] || { echo "bench compose: SKIPPED: run bench/run.sh first ($IN missing)"; exit 0; }
CORES=$(nproc)
rm -rf "$OUT/c1" "$OUT/cN"
/usr/bin/time -f "%e %M" -o "$OUT/time.c1" "$TESSERA" compose -q -j 1 --rate 1 "$IN" -o "$OUT/c1"
/usr/bin/time -f "%e %M" -o "$OUT/time.cN" "$TESSERA" compose -q -j "$CORES" --rate 1 "$IN" -o "$OUT/cN"
/usr/bin/time -f "%e %M" -o "$OUT/time.cpil" /usr/bin/python3 bench/pil_compose.py "$IN" "$OUT/c1" "$OUT/cpil.tar"
N=$(sqlite3 "$OUT/c1/catalog.sqlite" "select count(*) from compositions")
awk -v n="$N" -v cores="$CORES" -v t1="$(cut -d' ' -f1 "$OUT/time.c1")" -v tn="$(cut -d' ' -f1 "$OUT/time.cN")" \
    -v tp="$(cut -d' ' -f1 "$OUT/time.cpil")" 'BEGIN {
    printf "\nbench: compose halves 224 JPEG q95, %d composites from the ingested set\n\n", n
    printf "%-16s %10s %14s\n", "pipeline", "seconds", "composites/s"
    printf "%-16s %10.2f %14.1f\n", "tessera_1", t1, n / t1
    printf "%-16s %10.2f %14.1f\n", "tessera_" cores, tn, n / tn
    printf "%-16s %10.2f %14.1f\n", "pillow", tp, n / tp
    printf "\nper core, tessera vs Pillow: %.2fx; %d threads: %.2fx of 1 thread\n", tp / t1, cores, t1 / tn
  }'
