#!/bin/sh
# make bench: tessera against Pillow, OpenCV (img2dataset's way) and
# vipsthumbnail on the same photos, in one run.  Prints images/s, ratios per
# core and peak RSS.  Figures only: nothing here asserts a time.
#   BENCH_N=1000 (images in the set)  BENCH_DIR=bench/out
set -e
cd "$(dirname "$0")/.."
N=${BENCH_N:-1000}
OUT=${BENCH_DIR:-bench/out}
SHARED=${TS_SHARED:-../shared}
TESSERA=${TESSERA:-./build/tessera}
[ -d "$SHARED/data/images" ] || { echo "bench: SKIPPED: $SHARED/data/images not found"; exit 0; }
sh tests/install-deps.sh python3-pil python3-opencv libvips-tools time
mkdir -p "$OUT"
SET="$OUT/set-$N"
/usr/bin/python3 bench/make_set.py "$SHARED" "$SET" "$N"
cc -O2 -o "$OUT/decode_floor" bench/decode_floor.c $(pkg-config --cflags --libs libturbojpeg libjpeg)
CORES=$(nproc)

run() {  # name command... ; records seconds and peak RSS (KiB)
	name=$1; shift
	sync
	/usr/bin/time -f "%e %M %U %S" -o "$OUT/time.$name" "$@" > /dev/null 2> "$OUT/err.$name" ||
		{ echo "bench: $name failed:"; cat "$OUT/err.$name"; exit 1; }
	echo "$name $(cat "$OUT/time.$name")" >> "$OUT/results"
}

rm -f "$OUT/results"
rm -rf "$OUT"/t1 "$OUT"/tN "$OUT"/vips; mkdir -p "$OUT/vips"
run tessera_1 "$TESSERA" ingest -q --threads 1 --resize center-crop --size 224 --encode jpeg --quality 95 "$SET/list.csv" -o "$OUT/t1"
run tessera_all "$TESSERA" ingest -q --threads "$CORES" --resize center-crop --size 224 --encode jpeg --quality 95 "$SET/list.csv" -o "$OUT/tN"
run pillow /usr/bin/python3 bench/pil_ingest.py "$SET" "$SET/list.csv" "$OUT/pil.tar"
run opencv /usr/bin/python3 bench/cv_ingest.py "$SET" "$SET/list.csv" "$OUT/cv.tar"
VIPS_CONCURRENCY=1 run vipsthumbnail sh -c "cd '$SET/img' && exec vipsthumbnail --size 224x224 --smartcrop centre -o '$(pwd)/$OUT/vips/%s.jpg[Q=95]' *.jpg"
run decode_floor "$OUT/decode_floor" decode "$SET" "$SET/list.csv"
run job_floor "$OUT/decode_floor" job "$SET" "$SET/list.csv"
# memory must not grow with the input: the same job on 20x the records
# (the list repeated; every record is a new sample)
N20=$((N * 20))
awk -v k=20 'NR == 1 { print; next } { l[NR] = $0 } END { for (i = 0; i < k; i++) for (j = 2; j <= NR; j++) print l[j] }' \
	"$SET/list.csv" > "$SET/list20.csv"
rm -rf "$OUT/t20"
run tessera_all_20x "$TESSERA" ingest -q --threads "$CORES" --resize center-crop --size 224 --encode jpeg --quality 95 "$SET/list20.csv" -o "$OUT/t20"

awk -v n="$N" -v cores="$CORES" '
  { t[$1] = $2; rss[$1] = $3; cpu[$1] = $4 + $5 }
  END {
    printf "\nbench: %d JPEGs, long side 300-4000 px, center-crop 224, JPEG q95, %d cores\n\n", n, cores
    printf "%-16s %10s %12s %14s %12s\n", "pipeline", "seconds", "images/s", "peak RSS MiB", "CPU seconds"
    split("tessera_1 tessera_all pillow opencv vipsthumbnail decode_floor job_floor", order, " ")
    for (i = 1; i <= 7; i++) { k = order[i]; if (k in t)
      printf "%-16s %10.2f %12.1f %14.1f %12.2f\n", k, t[k], n / t[k], rss[k] / 1024, cpu[k] }
    printf "\nper core, tessera (1 thread) vs:\n"
    printf "  Pillow (draft)  %.2fx\n", t["pillow"] / t["tessera_1"]
    printf "  OpenCV          %.2fx\n", t["opencv"] / t["tessera_1"]
    printf "  vipsthumbnail   %.2fx\n", t["vipsthumbnail"] / t["tessera_1"]
    printf "  decode floor    %.2fx of the floor time (1.00 = as fast as decoding alone)\n", t["tessera_1"] / t["decode_floor"]
    printf "  job floor       %.2fx of the job floor (kept region decoded + 224 JPEG q95 encode; target <= 1.15)\n", t["tessera_1"] / t["job_floor"]
    printf "scaling: %d threads = %.2fx of 1 thread (target >= 1.85 at 2)\n", cores, t["tessera_1"] / t["tessera_all"]
    printf "per core in CPU time (user + system; steadier on a shared machine):\n"
    printf "  Pillow (draft)  %.2fx (target >= 1.8)\n", cpu["pillow"] / cpu["tessera_1"]
    printf "  job floor       %.2fx of the job floor (target <= 1.15)\n", cpu["tessera_1"] / cpu["job_floor"]
    printf "  decode floor    %.2fx\n", cpu["tessera_1"] / cpu["decode_floor"]
    printf "memory: peak RSS %.1f MiB for %d images, %.1f MiB for %d (%+.1f%%)\n", rss["tessera_all"] / 1024, n,
      rss["tessera_all_20x"] / 1024, n * 20, 100 * (rss["tessera_all_20x"] - rss["tessera_all"]) / rss["tessera_all"]
  }' "$OUT/results"
sh bench/compose.sh
sh bench/captions.sh
sh bench/parquet.sh
