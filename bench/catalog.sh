#!/bin/sh
# make bench, catalog part (docs/performance.md, "The catalog at scale"):
#  1. an ingest of N tiny records (a CSV list that repeats a few 24 px JPEGs,
#     --resize no --encode keep): records/s, and, from TESSERA_PROFILE, the
#     sample rows per second the writer thread put into the catalog (rows /
#     seconds inside catalog calls), the catalog's size per million samples
#     and the peak RSS;
#  2. bench/catalog_insert.c: the same rows into a catalog with nothing else
#     running (rows/s of wall and of CPU time);
#  3. shards merge of 4 and of 16 partitions of P samples each (made by
#     ingest --part i/K of lists of K*P records): seconds and peak RSS, and
#     the 16/4 time ratio next to the 4x the total grew by.
# Figures only: nothing here asserts a time.  Shards are deleted after each
# step (a tiny record takes 3.5 KB of tar: 512-byte headers and padding).
#   BENCH_CATALOG_RECORDS=1000000  BENCH_MERGE_PART=100000  BENCH_THREADS=nproc
#   BENCH_DIR=bench/out
set -e
cd "$(dirname "$0")/.."
N=${BENCH_CATALOG_RECORDS:-1000000}
P=${BENCH_MERGE_PART:-100000}
THREADS=${BENCH_THREADS:-$(nproc)}
OUT=${BENCH_DIR:-bench/out}/catalog
TESSERA=${TESSERA:-./build/tessera}
[ -x /usr/bin/time ] || sh tests/install-deps.sh time
rm -rf "$OUT"
mkdir -p "$OUT/img"
cc -O2 -I. -o "$OUT/catalog_insert" bench/catalog_insert.c build/libtessera.a \
	$(pkg-config --libs sqlite3 libxxhash libmd libarchive) -lpthread

# a few tiny JPEGs, made by tessera from the sample photos
"$TESSERA" ingest -q --size 24 --quality 80 tests/data/sample/photos -o "$OUT/tiny"
tar xf "$OUT/tiny/shards/000000.tar" -C "$OUT/img" --wildcards '*.jpg'
ls "$OUT/img" | head -8 > "$OUT/names"
list() {  # RECORDS FILE: a CSV of RECORDS rows over the tiny images
	awk -v n="$1" 'BEGIN { print "image,caption" } { f[NR] = $0 }
	  END { for (i = 0; i < n; i++) printf "img/%s,a small photo of a thing number %d on a table\n", f[i % NR + 1], i }' \
		"$OUT/names" > "$2"
}
timed() {  # NAME CMD...: "seconds peak-KiB user system" into $OUT/time.NAME, stderr into $OUT/err.NAME
	name=$1; shift
	/usr/bin/time -f "%e %M %U %S" -o "$OUT/time.$name" "$@" > /dev/null 2> "$OUT/err.$name" ||
		{ echo "bench catalog: $name failed:"; cat "$OUT/err.$name"; exit 1; }
}
maxrss=0
seen_rss() { r=$(cut -d' ' -f2 "$OUT/time.$1"); [ "$r" -gt "$maxrss" ] && maxrss=$r; return 0; }

# 1. the ingest
list "$N" "$OUT/list.csv"
TESSERA_PROFILE=1 timed ingest "$TESSERA" ingest -q --threads "$THREADS" --resize no --encode keep \
	"$OUT/list.csv" -o "$OUT/ing"
seen_rss ingest
cat_bytes=$(wc -c < "$OUT/ing/catalog.sqlite")
samples=$(sqlite3 "$OUT/ing/catalog.sqlite" 'select count(*) from samples')
prof=$(grep '^tessera: profile:' "$OUT/err.ingest")
rm -rf "$OUT/ing/shards"

# 2. the catalog alone
"$OUT/catalog_insert" "$OUT/alone.sqlite" "$N" > "$OUT/alone.txt"
rm -f "$OUT/alone.sqlite"

# 3. merges: 4 and 16 partitions of P samples
for k in 4 16; do
	list $((k * P)) "$OUT/list$k.csv"
	i=0
	while [ $i -lt $k ]; do
		"$TESSERA" ingest -q --threads "$THREADS" --resize no --encode keep --part $i/$k \
			"$OUT/list$k.csv" -o "$OUT/p$k"
		i=$((i + 1))
	done
	sync
	timed merge$k "$TESSERA" shards merge -q "$OUT/p$k"/part-* -o "$OUT/m$k"
	seen_rss merge$k
	rm -rf "$OUT/p$k" "$OUT/m$k" "$OUT/list$k.csv"
done
rm -f "$OUT/list.csv"

t_ing=$(cut -d' ' -f1 "$OUT/time.ingest")
cpu_ing=$(awk '{ print $3 + $4 }' "$OUT/time.ingest")
echo
echo "bench catalog: $N tiny records (24 px JPEGs, --encode keep), $THREADS threads"
echo "$prof" | awk -v n="$N" -v t="$t_ing" -v cpu="$cpu_ing" '
  { for (i = 1; i <= NF; i++) { if ($i == "catalog") c = $(i + 1); if ($i == "shards") s = $(i + 1)
      if ($i == "off") off = $(i - 2); if ($i == "inserts") w = $(i + 1) } }
  END {
    printf "  ingest:  %.1f s, %.0f records/s; %.1f s of CPU (%.0f us a record)\n", t, n / t, cpu, cpu / n * 1e6
    printf "  catalog: %.0f sample rows/s of CPU during the ingest (%.1f s of CPU in catalog work, %.1f s of it on the catalog thread; shard files %.1f s)\n", n / c, c, off, s
    printf "           the writer thread: %.1f s of CPU in catalog work (%.0f rows/s), %.1f s waiting for row inserts\n", c - off, n / (c - off), w
  }'
echo "  catalog alone (bench/catalog_insert): $(cat "$OUT/alone.txt")"
awk -v b="$cat_bytes" -v n="$samples" 'BEGIN {
  printf "  size:    %.0f MB for %d samples = %.0f MB per million samples\n", b / 1e6, n, b / 1e6 / n * 1e6 }'
awk -v p="$P" '{ t[FILENAME] = $1; r[FILENAME] = $2; c[FILENAME] = $3 + $4 } END {
  a = ARGV[1]; b = ARGV[2]
  printf "  merge:   4 x %d samples: %.1f s (%.0f samples/s), %.1f s of CPU, peak RSS %.1f MiB\n", p, t[a], 4 * p / t[a], c[a], r[a] / 1024
  printf "           16 x %d samples: %.1f s (%.0f samples/s), %.1f s of CPU, peak RSS %.1f MiB\n", p, t[b], 16 * p / t[b], c[b], r[b] / 1024
  printf "           16/4: %.2fx the time, %.2fx the CPU, for 4.00x the samples (linear: 4.00x)\n", t[b] / t[a], c[b] / c[a] }' \
	"$OUT/time.merge4" "$OUT/time.merge16"
awk -v m="$maxrss" 'BEGIN { printf "  peak RSS of the ingest and merges: %.1f MiB\n", m / 1024 }'
