#!/bin/sh
# make bench, compose part.  (1) `tessera compose` (halves, 224, JPEG q95,
# one composite per source) at 1 thread and all cores on the dataset
# bench/run.sh ingested (bench/out/tN), and the same pairs with Pillow
# (bench/pil_compose.py).  (2) The lossless path: the bench set ingested at
# 256 (JPEG q95, 4:2:0), composed as halves 256 on one core through the DCT
# path and with --no-dct through pixels, against Pillow on the same pairs,
# with the share of composites each path made.  Figures only: nothing here
# asserts a time.
set -e
cd "$(dirname "$0")/.."
OUT=${BENCH_DIR:-bench/out}
N=${BENCH_N:-1000}
TESSERA=${TESSERA:-./build/tessera}
IN="$OUT/tN"
[ -f "$IN/catalog.sqlite" ] || { echo "bench compose: SKIPPED: run bench/run.sh first ($IN missing)"; exit 0; }
CORES=$(nproc)
rm -rf "$OUT/c1" "$OUT/cN"
/usr/bin/time -f "%e %M" -o "$OUT/time.c1" "$TESSERA" compose -q -j 1 --rate 1 "$IN" -o "$OUT/c1"
/usr/bin/time -f "%e %M" -o "$OUT/time.cN" "$TESSERA" compose -q -j "$CORES" --rate 1 "$IN" -o "$OUT/cN"
/usr/bin/time -f "%e %M" -o "$OUT/time.cpil" /usr/bin/python3 bench/pil_compose.py "$IN" "$OUT/c1" "$OUT/cpil.tar"
C=$(sqlite3 "$OUT/c1/catalog.sqlite" "select count(*) from compositions")
awk -v n="$C" -v cores="$CORES" -v t1="$(cut -d' ' -f1 "$OUT/time.c1")" -v tn="$(cut -d' ' -f1 "$OUT/time.cN")" \
    -v tp="$(cut -d' ' -f1 "$OUT/time.cpil")" 'BEGIN {
    printf "\nbench: compose halves 224 JPEG q95, %d composites from the ingested set (4:2:0: pixel path)\n\n", n
    printf "%-16s %10s %14s\n", "pipeline", "seconds", "composites/s"
    printf "%-16s %10.2f %14.1f\n", "tessera_1", t1, n / t1
    printf "%-16s %10.2f %14.1f\n", "tessera_" cores, tn, n / tn
    printf "%-16s %10.2f %14.1f\n", "pillow", tp, n / tp
    printf "\nper core, tessera vs Pillow: %.2fx; %d threads: %.2fx of 1 thread\n", tp / t1, cores, t1 / tn
  }'

# (2) halves 256 from 256 x 256 q95 sources, one core, the three side by side
SET="$OUT/set-$N"
[ -f "$SET/list.csv" ] || { echo "bench compose 256: SKIPPED: $SET missing"; exit 0; }
rm -rf "$OUT/t256" "$OUT/d256" "$OUT/p256"
"$TESSERA" ingest -q -j "$CORES" --resize center-crop --size 256 --encode jpeg --quality 95 "$SET/list.csv" -o "$OUT/t256"
/usr/bin/time -f "%e %M %U %S" -o "$OUT/time.d256" "$TESSERA" compose -q -j 1 --size 256 --rate 1 "$OUT/t256" -o "$OUT/d256"
/usr/bin/time -f "%e %M %U %S" -o "$OUT/time.p256" "$TESSERA" compose -q -j 1 --size 256 --rate 1 --no-dct "$OUT/t256" -o "$OUT/p256"
/usr/bin/time -f "%e %M %U %S" -o "$OUT/time.pil256" /usr/bin/python3 bench/pil_compose.py "$OUT/t256" "$OUT/d256" "$OUT/cpil256.tar" 256
C=$(sqlite3 "$OUT/d256/catalog.sqlite" "select count(*) from compositions")
D=$(sqlite3 "$OUT/d256/catalog.sqlite" "select count(*) from compositions where path = 'dct'")
cpu() { awk '{ print $3 + $4 }' "$1"; }
awk -v n="$C" -v d="$D" -v td="$(cut -d' ' -f1 "$OUT/time.d256")" -v tp="$(cut -d' ' -f1 "$OUT/time.p256")" \
    -v tl="$(cut -d' ' -f1 "$OUT/time.pil256")" -v cd="$(cpu "$OUT/time.d256")" -v cp="$(cpu "$OUT/time.p256")" \
    -v cl="$(cpu "$OUT/time.pil256")" 'BEGIN {
    printf "\nbench: compose halves 256 from 256x256 JPEG q95 4:2:0 sources, %d composites, one core\n\n", n
    printf "%-16s %10s %14s %12s %12s %12s\n", "pipeline", "seconds", "composites/s", "vs Pillow", "CPU seconds", "vs Pillow"
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "tessera_dct", td, n / td, tl / td, cd, cl / cd
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "tessera_pixels", tp, n / tp, tl / tp, cp, cl / cp
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "pillow", tl, n / tl, 1, cl, 1
    printf "targets: dct >= 8x Pillow, pixels >= 3x\n"
    printf "\npaths on this set (default run): dct %d (%.1f%%), pixels %d (%.1f%%); --no-dct: all pixels\n",
      d, 100 * d / n, n - d, 100 * (n - d) / n
  }'
