#!/bin/sh
# The fetch benchmark (make bench runs it after bench/run.sh): BENCH_FETCH_N
# URLs (default 5000) of real photographs served on loopback by
# tests/e2e/fetch_server.py with a fixed latency per request
# (BENCH_FETCH_DELAY_MS, default 20), fetched with center-crop 224 by
#   tessera fetch --concurrency 64 --per-host 64 (every URL has the one
#     loopback host, and the other two open 64 connections to it; fetch's
#     default of 4 a host, for lists spread over many hosts, would cap it
#     at 4 / 20 ms = 200 requests/s here),
#   img2dataset's way: urllib.request in 64 threads + OpenCV + tar (bench/urllib_fetch.py),
#   curl --parallel --parallel-max 64 (fetch only) + tessera ingest of the files,
# and, for the CPU cost of the pixels alone, tessera ingest of the same files
# from local disk.  Prints images/s and CPU seconds per 1,000 images of
# each (user + system of the client; the server's CPU is not counted).
# Figures only: nothing here asserts a time.
set -e
cd "$(dirname "$0")/.."
N=${BENCH_FETCH_N:-5000}
DELAY=${BENCH_FETCH_DELAY_MS:-20}
OUT=${BENCH_DIR:-bench/out}/fetch
SHARED=${TS_SHARED:-../shared}
TESSERA=${TESSERA:-./build/tessera}
[ -d "$SHARED/data/images" ] || { echo "bench fetch: SKIPPED: $SHARED/data/images not found"; exit 0; }
sh tests/install-deps.sh python3-pil python3-opencv curl time
mkdir -p "$OUT"
# 200 distinct photos (long side 300-4000 px), each served under N/200 URLs
SET=${BENCH_DIR:-bench/out}/set-200
/usr/bin/python3 bench/make_set.py "$SHARED" "$SET" 200
rm -rf "$OUT/srv" "$OUT/port"; mkdir -p "$OUT/srv"
for f in "$SET"/img/*.jpg; do ln -sf "$(readlink -f "$f")" "$OUT/srv/$(basename "$f")"; done
/usr/bin/python3 tests/e2e/fetch_server.py --addrs 127.0.0.2 --images "$OUT/srv" \
	--port-file "$OUT/port" --lifetime 3000 2> "$OUT/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null' EXIT
i=0; while [ ! -s "$OUT/port" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
P=$(cat "$OUT/port")
{ echo url,caption
  i=0; while [ $i -lt "$N" ]; do printf 'http://img.test:%s/delay/%s/%05d.jpg?%d,photo %d\n' "$P" "$DELAY" $((i % 200)) $i $i; i=$((i + 1)); done
} > "$OUT/urls.csv"
# the same URLs on 127.0.0.2 for the tools without --resolve
sed "s/img.test:/127.0.0.2:/" "$OUT/urls.csv" > "$OUT/urls-ip.csv"

run() {  # name command... : wall seconds, user+sys seconds
	name=$1; shift
	/usr/bin/time -f "%e %U %S" -o "$OUT/time.$name" "$@" > /dev/null 2> "$OUT/err.$name" ||
		{ echo "bench fetch: $name failed:"; tail -5 "$OUT/err.$name"; exit 1; }
	echo "$name $(cat "$OUT/time.$name")" >> "$OUT/results"
}
rm -f "$OUT/results"
rm -rf "$OUT/t" "$OUT/files" "$OUT/ti" "$OUT/tl"
run tessera_fetch "$TESSERA" fetch -q -j 64 --per-host 64 --resize center-crop --size 224 --no-tokens \
	--resolve "img.test:$P:127.0.0.2" --allow-private=127.0.0.2 "$OUT/urls.csv" -o "$OUT/t"
run img2dataset_way /usr/bin/python3 bench/urllib_fetch.py "$OUT/urls-ip.csv" "$OUT/cv.tar" 64
mkdir -p "$OUT/files"
awk -F, 'NR > 1 { printf "url = \"%s\"\noutput = \"%s/files/%06d.jpg\"\n", $1, o, NR - 2 }' o="$OUT" "$OUT/urls-ip.csv" > "$OUT/curl.cfg"
run curl_parallel curl -s --parallel --parallel-max 64 --noproxy '*' -K "$OUT/curl.cfg"
awk -F, 'NR == 1 { print "image,caption"; next } { printf "files/%06d.jpg,%s\n", NR - 2, $2 }' "$OUT/urls-ip.csv" > "$OUT/local.csv"
run tessera_ingest_local "$TESSERA" ingest -q --resize center-crop --size 224 --no-tokens "$OUT/local.csv" -o "$OUT/tl"

awk -v n="$N" -v d="$DELAY" '
  { wall[$1] = $2; cpu[$1] = $3 + $4 }
  END {
    printf "\nbench fetch: %d URLs on loopback, %d ms per request, center-crop 224 JPEG q95, 64 in flight (tessera: --per-host 64, as the others, on one host)\n\n", n, d
    printf "%-26s %9s %10s %16s\n", "pipeline", "seconds", "images/s", "CPU s / 1000 img"
    printf "%-26s %9.2f %10.1f %16.2f\n", "tessera fetch", wall["tessera_fetch"], n / wall["tessera_fetch"], 1000 * cpu["tessera_fetch"] / n
    printf "%-26s %9.2f %10.1f %16.2f\n", "urllib x64 + OpenCV + tar", wall["img2dataset_way"], n / wall["img2dataset_way"], 1000 * cpu["img2dataset_way"] / n
    c = cpu["curl_parallel"] + cpu["tessera_ingest_local"]; w = wall["curl_parallel"] + wall["tessera_ingest_local"]
    printf "%-26s %9.2f %10.1f %16.2f\n", "curl --parallel + ingest", w, n / w, 1000 * c / n
    printf "%-26s %9.2f %10.1f %16.2f\n", "  (tessera ingest alone)", wall["tessera_ingest_local"], n / wall["tessera_ingest_local"], 1000 * cpu["tessera_ingest_local"] / n
    printf "\nCPU per image: img2dataset way / tessera fetch = %.2fx; tessera fetch / ingest from disk = %.2fx\n",
      cpu["img2dataset_way"] / cpu["tessera_fetch"], cpu["tessera_fetch"] / cpu["tessera_ingest_local"]
  }' "$OUT/results"
