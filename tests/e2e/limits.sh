#!/bin/sh
# e2e: decoder memory follows the pixel limit, not ancillary data.  A PNG
# of about 1.2 MB whose chunks would inflate to about 1 GiB (an iCCP and
# ten zTXt of 100 MiB each, before and after IDAT, and 900 tEXt) is
# ingested four times at -j4 next to valid images: the valid images
# arrive, each bomb is an image.too_large reject naming its chunks, and
# the peak RSS (/usr/bin/time -f %M) stays under a bound made of the
# pixel limit.  (Before libspng's chunk cache was capped a single bomb
# cost about 930 MB.)
SUITE=limits
. tests/e2e/lib.sh
PY=$(command -v python3 || true)

# the bomb: NAME, then the same PNG (64x48 RGB) with the chunks above
make_bomb() {
	"$PY" - "$1" <<'PYEOF'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
w, h = 64, 48
rows = b"".join(b"\0" + b"".join(bytes(((x * 3 + y * 5) & 255, (x * 7) & 255, (y * 11) & 255))
                                 for x in range(w)) for y in range(h))
big = zlib.compress(b"\0" * (100 << 20), 9)          # about 100 KB that inflate to 100 MiB
before = chunk(b"iCCP", b"bomb\0\0" + big)
before += b"".join(chunk(b"zTXt", b"Comment%d\0\0" % i + big) for i in range(8))
before += b"".join(chunk(b"tEXt", b"k%d\0" % i + b"x" * 100) for i in range(900))
after = b"".join(chunk(b"zTXt", b"After%d\0\0" % i + big) for i in range(2))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + before +
       chunk(b"IDAT", zlib.compress(rows, 9)) + after + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PYEOF
}

png_bomb() {
	mkdir -p "$TMP/in" || return 1
	for i in 1 2 3 4; do
		if [ $i = 1 ]; then make_bomb "$TMP/in/bomb1.png" || return 1
		else cp "$TMP/in/bomb1.png" "$TMP/in/bomb$i.png"; fi
		echo "a bomb" > "$TMP/in/bomb$i.txt"
	done
	for f in photos/heather-flowers.jpg photos/lake-at-dawn.jpg more/moss-close-up.png \
		 more/sliced-fruit-palette.png more/heather-thumbnail.webp more/candies-transparent.png; do
		n=$(basename "$f"); cp "tests/data/sample/$f" "$TMP/in/$n" || return 1
		echo "a valid image" > "$TMP/in/${n%.*}.txt"
	done
	size=$(wc -c < "$TMP/in/bomb1.png")
	[ "$size" -gt 1000000 ] && [ "$size" -lt 1500000 ] || { echo "bomb of $size bytes"; return 1; }
	maxpix=4000000
	/usr/bin/time -f %M -o "$TMP/rss" "$TESSERA" ingest -q --format folder -j4 --max-pixels $maxpix \
		"$TMP/in" -o "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err"; return 1; }
	got=$(sqlite3 "$TMP/out/catalog.sqlite" "select count(*) from samples; select group_concat(source || ' ' || reason, ', ') from (select source, reason from rejects order by source)")
	want=$(printf '6\nbomb1.png image.too_large, bomb2.png image.too_large, bomb3.png image.too_large, bomb4.png image.too_large')
	[ "$got" = "$want" ] || { echo "got: $got"; echo "want: $want"; return 1; }
	sqlite3 "$TMP/out/catalog.sqlite" "select message from rejects" | has "its ancillary chunks (text, ICC profile, EXIF) take more than 8 MiB" || return 1
	# the bound: 128 MiB for the process (libraries, SQLite, threads) plus,
	# per worker, 16 bytes per allowed pixel (decode, RGB, resize buffers),
	# libspng's 8 MiB chunk cache and twice the input; a sanitizer build
	# adds its shadow memory and quarantine (x3 and 256 MiB)
	kb=$(cat "$TMP/rss")
	bound=$(( (128 * 1024 * 1024 + 4 * (16 * maxpix + 8 * 1024 * 1024 + 2 * size)) / 1024 ))
	case "$TESSERA" in *build-san/*) bound=$((bound * 3 + 256 * 1024)) ;; esac
	echo "peak RSS $kb KB, bound $bound KB" >&2
	[ "$kb" -lt "$bound" ] || { echo "peak RSS $kb KB is over the bound of $bound KB"; return 1; }
}

if [ -z "$PY" ]; then
	skip png_bomb "python3 not found (it writes the bomb)"
elif [ ! -x /usr/bin/time ]; then
	skip png_bomb "/usr/bin/time not found (Debian's time package; it measures the peak RSS)"
else
	t png_bomb png_bomb
fi
finish
