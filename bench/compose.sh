#!/bin/sh
# make bench, compose part.  (1) `tessera compose` (halves, 224, JPEG q95,
# one composite per source) at 1 thread and all cores on the dataset
# bench/run.sh ingested (bench/out/tN), and the same pairs with Pillow
# (bench/pil_compose.py).  (2) The lossless path: the bench set ingested at
# 256 (JPEG q95, 4:2:0), composed as halves 256 on one core through the DCT
# path and with --no-dct through pixels, against Pillow on the same pairs,
# with the share of composites each path made, and the floor of each path
# for the same pairs (bench/compose_floor.c: libjpeg-turbo alone, no
# container or catalog).  Figures only: nothing here asserts a time.
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
# the floors: tessera's pairs and axis, each source's JPEG where the input
# catalog's members table says it is in the shards
cc -O2 -o "$OUT/compose_floor" bench/compose_floor.c $(pkg-config --cflags --libs libturbojpeg libjpeg)
sqlite3 -separator ' ' "$OUT/d256/catalog.sqlite" "attach '$OUT/t256/catalog.sqlite' as t;
  select sa.name, ma.offset, ma.size, sb.name, mb.offset, mb.size,
    case when json_extract(c.regions, '\$[0].rect[2]') = json_extract(c.regions, '\$[1].rect[2]') then 'v' else 'h' end
  from compositions c
  join t.members ma on ma.name = json_extract(c.sources, '\$[0]') || '.jpg' join t.shards sa on sa.idx = ma.shard
  join t.members mb on mb.name = json_extract(c.sources, '\$[1]') || '.jpg' join t.shards sb on sb.idx = mb.shard
  order by c.key" > "$OUT/floor.list"
for m in dct pixels; do
	/usr/bin/time -f "%e %M %U %S" -o "$OUT/time.floor_$m" "$OUT/compose_floor" $m "$OUT/t256/shards" "$OUT/floor.list" > "$OUT/floor_$m.n"
done
C=$(sqlite3 "$OUT/d256/catalog.sqlite" "select count(*) from compositions")
for m in dct pixels; do
	[ "$(cat "$OUT/floor_$m.n")" = "$C" ] || { echo "bench compose: the $m floor made $(cat "$OUT/floor_$m.n") of $C composites"; exit 1; }
done
# the floors' composites are tessera's: the first 20 of each, byte for byte
# (dct: against the DCT path's; pixels: against --no-dct's, same pairs)
rm -rf "$OUT/floor_check"; mkdir -p "$OUT/floor_check/dct" "$OUT/floor_check/pixels"
head -n 20 "$OUT/floor.list" > "$OUT/floor_check/list"
for m in dct pixels; do
	"$OUT/compose_floor" $m "$OUT/t256/shards" "$OUT/floor_check/list" "$OUT/floor_check/$m" > /dev/null
	ds=$([ $m = dct ] && echo d256 || echo p256)
	same=0
	sqlite3 -separator ' ' "$OUT/$ds/catalog.sqlite" "attach '$OUT/d256/catalog.sqlite' as d;
	  select s.name, m.offset, m.size, c.sources = dc.sources from compositions c join d.compositions dc using (key)
	  join members m on m.name = c.key || '.jpg' join shards s on s.idx = m.shard order by c.key limit 20" > "$OUT/floor_check/$ds"
	i=0
	while read -r shard off size pair; do
		f=$(printf '%s/floor_check/%s/%09d.jpg' "$OUT" $m $i)
		[ "$pair" = 1 ] && tail -c +$((off + 1)) "$OUT/$ds/shards/$shard" | head -c "$size" | cmp -s - "$f" && same=$((same + 1))
		i=$((i + 1))
	done < "$OUT/floor_check/$ds"
	echo "$same" > "$OUT/floor_check/$m.same"
done
D=$(sqlite3 "$OUT/d256/catalog.sqlite" "select count(*) from compositions where path = 'dct'")
cpu() { awk '{ print $3 + $4 }' "$1"; }
wall() { cut -d' ' -f1 "$1"; }
awk -v n="$C" -v d="$D" -v td="$(wall "$OUT/time.d256")" -v tp="$(wall "$OUT/time.p256")" \
    -v tl="$(wall "$OUT/time.pil256")" -v cd="$(cpu "$OUT/time.d256")" -v cp="$(cpu "$OUT/time.p256")" \
    -v cl="$(cpu "$OUT/time.pil256")" -v tfd="$(wall "$OUT/time.floor_dct")" -v tfp="$(wall "$OUT/time.floor_pixels")" \
    -v cfd="$(cpu "$OUT/time.floor_dct")" -v cfp="$(cpu "$OUT/time.floor_pixels")" \
    -v sd="$(cat "$OUT/floor_check/dct.same")" -v sp="$(cat "$OUT/floor_check/pixels.same")" 'BEGIN {
    printf "\nbench: compose halves 256 from 256x256 JPEG q95 4:2:0 sources, %d composites, one core\n\n", n
    printf "%-16s %10s %14s %12s %12s %12s\n", "pipeline", "seconds", "composites/s", "vs Pillow", "CPU seconds", "vs Pillow"
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "tessera_dct", td, n / td, tl / td, cd, cl / cd
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "tessera_pixels", tp, n / tp, tl / tp, cp, cl / cp
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "pillow", tl, n / tl, 1, cl, 1
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "floor_dct", tfd, n / tfd, tl / tfd, cfd, cl / cfd
    printf "%-16s %10.2f %14.1f %11.2fx %12.2f %11.2fx\n", "floor_pixels", tfp, n / tfp, tl / tfp, cfp, cl / cfp
    printf "targets: dct >= 8x Pillow, pixels >= 3x\n"
    printf "\nfloors (bench/compose_floor.c: libjpeg-turbo alone; the most any program on its entropy coder\n"
    printf "reaches for this job), in CPU time (wall in brackets):\n"
    printf "  tessera_dct      %.2fx the dct floor (%.2fx); the dct floor is %.2fx Pillow (%.2fx)\n",
      cd / cfd, td / tfd, cl / cfd, tl / tfd
    printf "  tessera_pixels   %.2fx the pixel floor (%.2fx); the pixel floor is %.2fx Pillow (%.2fx)\n",
      cp / cfp, tp / tfp, cl / cfp, tl / tfp
    printf "  floor composites, first 20: dct %d/20 byte-identical to tessera_dct, pixels %d/20 to tessera_pixels\n", sd, sp
    printf "\npaths on this set (default run): dct %d (%.1f%%), pixels %d (%.1f%%); --no-dct: all pixels\n",
      d, 100 * d / n, n - d, 100 * (n - d) / n
  }'
