#!/bin/sh
# e2e: parquet input.  tessera parquet head|schema on the committed
# fixtures and the real pyarrow files in ../shared/data/parquet (rows
# compared with the expected rows hyparquet wrote); tessera ingest of a
# DataComp-style parquet of local image paths (keys, captions, uid and the
# kept list column in KEY.json, the rejects); detection by magic; a damaged
# parquet among other inputs; presets; the CLI and its man page.
SUITE=parquet
. tests/e2e/lib.sh
FIX=tests/data/parquet
PQ=$SHARED/data/parquet
PY=$(command -v python3 || true)
q() { sqlite3 "$1/catalog.sqlite" "$2"; }

# same rows as an expected .jsonl, numbers by value
same_rows() {  # $1 got.jsonl $2 expected.jsonl
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
if len(a) != len(b):
    sys.exit("rows: got %d, expected %d" % (len(a), len(b)))
for i, (x, y) in enumerate(zip(a, b)):
    if x != y:
        sys.exit("row %d:\n  got      %s\n  expected %s" % (i, json.dumps(x), json.dumps(y)))
EOF
}

cli() {
	ts parquet --help | has 'tessera parquet head' || return 1
	ts help parquet | has -- '--rows' || return 1
	ts --help | has '^  parquet ' || return 1
	ts parquet 2>/dev/null; check $? -eq 2 || return 1
	ts parquet frob x 2>/dev/null; check $? -eq 2 || return 1
	ts parquet head 2>/dev/null; check $? -eq 2 || return 1
	ts parquet head -n x $FIX/lists.parquet 2>/dev/null; check $? -eq 2 || return 1
	ts parquet schema --json $FIX/lists.parquet 2>/dev/null; check $? -eq 2 || return 1
	ts parquet schema "$TMP/nothing.parquet" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "cannot open '.*nothing.parquet'" "$TMP/err" || return 1
	"$TESSERA" parquet --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-parquet.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts" || return 1
	has 'tessera-parquet' docs/man/tessera.1 && has 'tessera parquet' README.md
}

schema_lists() {
	ts parquet schema $FIX/lists.parquet > "$TMP/schema" || return 1
	grep -q '^rows: 30$' "$TMP/schema" || { cat "$TMP/schema"; return 1; }
	grep -Eq '^  face_bboxes +list<list<double>> +optional +zstd$' "$TMP/schema" || { cat "$TMP/schema"; return 1; }
	grep -Eq '^  all_captions +list<string> +optional +zstd$' "$TMP/schema" || { cat "$TMP/schema"; return 1; }
	"$TESSERA" parquet schema $FIX/required.parquet | grep -Eq '^  fixed +fixed\(4\) +required +snappy$'
}

head_fixtures() {
	[ -n "$PY" ] || { echo "no python3"; return 1; }
	for f in types_uncompressed types_snappy types_gzip types_zstd required plain dict groups lists local_images \
		 v1_uncompressed v1_snappy v1_gzip v1_zstd; do
		ts parquet head -n 0 --json $FIX/$f.parquet > "$TMP/$f.got" || return 1
		same_rows "$TMP/$f.got" $FIX/$f.expected.jsonl || { echo "in $f"; return 1; }
	done
}

head_table() {
	ts parquet head -n 2 $FIX/types_snappy.parquet > "$TMP/table" || return 1
	[ "$(head -n 1 "$TMP/table")" = "$(printf 'url\ttext\tid\tn32\tf\td\tok\tbin\tfixed')" ] || { cat "$TMP/table"; return 1; }
	check "$(wc -l < "$TMP/table")" -eq 3 || return 1
	# row 0: its text ends in a tab, a quote and a newline, escaped
	sed -n 2p "$TMP/table" | grep -q '\\t"quoted"\\n	-5000000	-32768	' || { cat "$TMP/table"; return 1; }
	ts parquet head -n 3 --json $FIX/types_snappy.parquet | wc -l | has '^3$' || return 1
	# only the named columns, in that order
	[ "$("$TESSERA" parquet head -n 1 -c id,url $FIX/types_snappy.parquet | tr '\t\n' '| ')" = \
	  "id|url -5000000|https://img.example.org/0/0.jpg " ] || return 1
	ts parquet head -c id,nope $FIX/types_snappy.parquet 2> "$TMP/err"; check $? -eq 1 || return 1
	has "no column 'nope'" "$TMP/err"
}

head_pyarrow() {
	[ -f "$PQ/test_1000.parquet" ] || { echo "SKIP"; return 0; }
	for f in test_1000 test_10000 sample_image test_bbox; do
		ts parquet head -n 0 --json "$PQ/$f.parquet" > "$TMP/$f.got" || return 1
		same_rows "$TMP/$f.got" "$PQ/$f.expected.jsonl" || { echo "in $f"; return 1; }
	done
	ts parquet head "$PQ/test_1000.parquet" | head -n 1 | has "^URL	TEXT	__index_level_0__$" || return 1
	check "$("$TESSERA" parquet head "$PQ/test_1000.parquet" | wc -l)" -eq 11
}

# a DataComp-style local dump: uid, url (paths under tests/data/sample), text, face_bboxes
ingest_local() {
	"$TESSERA" ingest -q -j 2 --no-tokens --preset datacomp --id-col uid --keep-col face_bboxes \
		--image-root tests/data/sample $FIX/local_images.parquet -o "$TMP/dc" || return 1
	got=$(q "$TMP/dc" "select key from samples order by key" | tr '\n' ' ')
	[ "$got" = "000000000 000000001 000000002 000000003 000000004 000000005 000000010 " ] || { echo "keys: $got"; return 1; }
	# captions are the sample's .txt files, read back from the shards
	mkdir -p "$TMP/dcx" && (cd "$TMP/dcx" && tar xf "$TMP/dc/shards/000000.tar") || return 1
	for pair in 000000000:photos/cobbled-lane-leuven 000000005:more/aloe-plant-portrait 000000010:more/brass-pocket-mirror; do
		k=${pair%%:*}; img=${pair#*:}
		[ "$(cat "$TMP/dcx/$k.txt")" = "$(cat tests/data/sample/$img.txt)" ] || { echo "$k caption"; return 1; }
		q "$TMP/dc" "select path from samples where key = '$k'" | has "tests/data/sample/$img.jpg$" || return 1
	done
	[ -n "$PY" ] || return 0
	"$PY" - "$TMP/dcx" "$TMP/dc/catalog.sqlite" <<'EOF' || return 1
import json, sqlite3, sys
d, cat = sys.argv[1], sys.argv[2]
k1 = json.load(open(d + "/000000001.json"))
assert k1["uid"] == "000000000000000000000000a1b2e235", k1
assert k1["face_bboxes"] == [[0.1, 0.2, 0.3, 0.4]], k1
assert json.load(open(d + "/000000000.json"))["face_bboxes"] == []
meta = sqlite3.connect(cat).execute("select meta from samples where key = '000000001'").fetchone()[0]
assert json.loads(meta)["uid"] == k1["uid"], meta
EOF
	got=$(q "$TMP/dc" "select record || ':' || reason from rejects order by record" | tr '\n' ' ')
	[ "$got" = "6:source.missing 7:source.missing 8:caption.missing 9:record.missing_field " ] || { echo "rejects: $got"; return 1; }
	q "$TMP/dc" "select message from rejects where record = 7" | grep -q "the image is a URL, not a local path (tessera fetch downloads URLs): .https://img.example.org/remote.jpg.$"
}

list_notice() {
	"$TESSERA" ingest --no-progress -j 1 --no-tokens --preset datacomp --image-root tests/data/sample \
		$FIX/local_images.parquet -o "$TMP/notice" > /dev/null 2> "$TMP/err" || return 1
	grep -q "list column 'face_bboxes' (list<list<double>>) skipped" "$TMP/err" || { cat "$TMP/err"; return 1; }
	[ -n "$PY" ] || return 0
	mkdir -p "$TMP/nx" && (cd "$TMP/nx" && tar xf "$TMP/notice/shards/000000.tar") || return 1
	"$PY" -c "import json,sys; j=json.load(open('$TMP/nx/000000001.json')); sys.exit('face_bboxes' in j)"
}

# found by magic without --format, and a damaged parquet does not stop the run
detect_and_damaged() {
	cp $FIX/local_images.parquet "$TMP/list.dat"
	cp $FIX/types_snappy.parquet "$TMP/damaged.parquet"
	printf '\377' | dd of="$TMP/damaged.parquet" bs=1 seek=7 conv=notrunc 2>/dev/null
	"$TESSERA" ingest -q -j 2 --no-tokens --image-col url --caption-col text --image-root tests/data/sample \
		"$TMP/damaged.parquet" "$TMP/list.dat" -o "$TMP/dd" || return 1
	got=$(q "$TMP/dd" "select record || ':' || reason from rejects order by record limit 1")
	[ "$got" = "0:record.bad_row" ] || { echo "first reject: $got"; return 1; }
	q "$TMP/dd" "select message from rejects where record = 0" | has "damaged.parquet': column 'url': row group 0, page at offset 4" || return 1
	check "$(q "$TMP/dd" "select count(*) from samples")" -eq 7 || return 1
	check "$(q "$TMP/dd" "select min(key) from samples")" = "000000001"
}

laion_urls() {
	[ -f "$PQ/test_1000.parquet" ] || { echo "SKIP"; return 0; }
	# every record is a URL, so every one is rejected: exit status 3
	"$TESSERA" ingest -q --no-tokens --preset laion "$PQ/test_1000.parquet" -o "$TMP/laion"
	st=$?; [ $st -eq 3 ] || { echo "expected exit 3 (all rejected), got $st"; return 1; }
	check "$(q "$TMP/laion" "select count(*) from rejects where reason = 'source.missing' and message like '%is a URL%'")" -eq 1000 || return 1
	q "$TMP/laion" "select source from rejects where record = 41" | grep -q 'test_1000.parquet:42$'
}

usage_errors() {
	ts ingest --preset cc99 x -o "$TMP/u" 2> "$TMP/err"; check $? -eq 2 || return 1
	has "invalid value 'cc99' for --preset" "$TMP/err" || return 1
	"$TESSERA" ingest -q --keep-col nope --image-root tests/data/sample $FIX/local_images.parquet -o "$TMP/u" 2> "$TMP/err"
	check $? -eq 1 || return 1
	grep -q "no column 'nope' to keep" "$TMP/err" || { cat "$TMP/err"; return 1; }
	"$TESSERA" ingest -q $FIX/unsupported_lz4.parquet -o "$TMP/lz4" 2> /dev/null
	st=$?; [ $st -eq 3 ] || { echo "lz4 file: expected exit 3 (all rejected), got $st"; return 1; }
	q "$TMP/lz4" "select message from rejects" | grep -q "column 'url': row group 0: the lz4 codec is not supported"
}

t cli cli
t schema_lists schema_lists
t head_fixtures head_fixtures
t head_table head_table
if [ -f "$PQ/test_1000.parquet" ]; then
	t head_pyarrow head_pyarrow
	t laion_urls laion_urls
else
	skip head_pyarrow "../shared/data/parquet not found"
	skip laion_urls "../shared/data/parquet not found"
fi
t ingest_local ingest_local
t list_notice list_notice
t detect_and_damaged detect_and_damaged
t usage_errors usage_errors
finish
