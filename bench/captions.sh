#!/bin/sh
# make bench, captions part: `tessera captions tokenize --count` on real
# captions (../shared/data/captions/flickr8k.jsonl repeated to 1M lines), at
# 1 thread and all cores.  Figures only: nothing here asserts a time.
# Tokens are counted without SOT/EOT (what the reference tokenizer's
# encode() returns).   BENCH_CAPTIONS=1000000  BENCH_DIR=bench/out
set -e
cd "$(dirname "$0")/.."
N=${BENCH_CAPTIONS:-1000000}
OUT=${BENCH_DIR:-bench/out}
SHARED=${TS_SHARED:-../shared}
TESSERA=${TESSERA:-./build/tessera}
SRC="$SHARED/data/captions/flickr8k.jsonl"
[ -f "$SRC" ] || { echo "bench captions: SKIPPED: $SRC not found"; exit 0; }
mkdir -p "$OUT"
TXT="$OUT/captions-$N.txt"
[ -f "$TXT" ] || /usr/bin/python3 - "$SRC" "$TXT" "$N" <<'PYEOF'
import json, sys
caps = [json.loads(l)["caption"].replace("\n", " ") for l in open(sys.argv[1])]
n = int(sys.argv[3])
with open(sys.argv[2], "w") as f:
    for i in range(n):
        f.write(caps[i % len(caps)] + "\n")
PYEOF
CORES=$(nproc)
for j in 1 "$CORES"; do
	/usr/bin/time -f "%e %M" -o "$OUT/time.tok$j" "$TESSERA" captions tokenize --count -j "$j" "$TXT" > "$OUT/counts.tok$j"
done
cmp "$OUT/counts.tok1" "$OUT/counts.tok$CORES"
awk -v n="$N" -v cores="$CORES" -v t1="$(cut -d' ' -f1 "$OUT/time.tok1")" \
    -v tn="$(cut -d' ' -f1 "$OUT/time.tok$CORES")" '
  { tokens += $1 - 2 }
  END {
    printf "\nbench: captions tokenize --count, %d real captions (flickr8k repeated), %d tokens\n\n", n, tokens
    printf "%-16s %10s %14s %14s\n", "threads", "seconds", "captions/s", "tokens/s"
    printf "%-16d %10.2f %14.0f %14.0f\n", 1, t1, n / t1, tokens / t1
    printf "%-16d %10.2f %14.0f %14.0f\n", cores, tn, n / tn, tokens / tn
    printf "\nper core vs the reference Python tokenizer (about 160,000 tokens/s per core, warm cache): %.0fx\n", tokens / t1 / 160000
  }' "$OUT/counts.tok1"

# tag extraction (WordNet + spans), one thread
if [ -f /usr/share/wordnet/index.noun ]; then
	head -100000 "$TXT" > "$OUT/captions-100k.txt"
	/usr/bin/time -f "%e %M" -o "$OUT/time.tags" "$TESSERA" tags extract "$OUT/captions-100k.txt" > "$OUT/tags.out"
	awk -v t="$(cut -d' ' -f1 "$OUT/time.tags")" '
	  { n++; tags += gsub(/"lemma"/, "") }
	  END { printf "\nbench: tags extract, %d captions, %d tags: %.2f s, %.0f captions/s (1 thread, WordNet load included)\n", n, tags, t, n / t }' "$OUT/tags.out"
else
	echo "bench tags: SKIPPED: WordNet not found in /usr/share/wordnet"
fi
