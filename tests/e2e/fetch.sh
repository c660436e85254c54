#!/bin/sh
# e2e: tessera fetch against tests/e2e/fetch_server.py on loopback only
# (127.0.0.2-5, fake host names mapped with --resolve).  Every fault case
# asserts the reason code it must produce; resume after kill -9 gives the
# bytes of an uninterrupted run; --per-host holds at the server; --deadline
# ends a run against a server that never answers; --retry-failed fetches the
# transient failures only.  Every tessera run is bounded by timeout(1) and
# the server exits by itself.
SUITE=fetch
. tests/e2e/lib.sh
# Debian's interpreter when there is one (a version manager's shim costs seconds a call)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3 || true)
IMGS=tests/data/sample/photos
I=heather-flowers.jpg
J=lake-at-dawn.jpg

if [ -z "$PY" ] || ! command -v sqlite3 > /dev/null || ! command -v timeout > /dev/null; then
	skip all "python3, sqlite3 or timeout not found"; finish; exit 0
fi

# ---- the server ------------------------------------------------------------------
TLS_ARGS=""
if command -v openssl > /dev/null &&
   openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
	-days 1 -subj /CN=tls.test > /dev/null 2>&1; then
	TLS_ARGS="--tls-addr 127.0.0.4 --cert $TMP/cert.pem --key $TMP/key.pem"
fi
# shellcheck disable=SC2086
"$PY" tests/e2e/fetch_server.py --addrs 127.0.0.2,127.0.0.3,127.0.0.5 $TLS_ARGS \
	--images "$IMGS" --port-file "$TMP/port" --lifetime 150 2> "$TMP/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
n=0
while [ ! -s "$TMP/port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
if [ ! -s "$TMP/port" ]; then
	skip all "the test server did not start: $(cat "$TMP/server.log")"; finish; exit 0
fi
P=$(cat "$TMP/port")
A=http://a.test:$P
B=http://b.test:$P
C=http://c.test:$P
RES="--resolve a.test:$P:127.0.0.2 --resolve b.test:$P:127.0.0.3 --resolve c.test:$P:127.0.0.5
 --resolve tls.test:$P:127.0.0.4 --resolve a.test:1:127.0.0.2 --resolve priv.test:$P:127.0.0.9
 --allow-private=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5"
stats() { curl -s --max-time 5 --noproxy '*' "http://127.0.0.2:$P/_stats"; }

# ---- every fault case in one run ------------------------------------------------------
SHA_I=$(sha256sum "$IMGS/$I" | cut -d' ' -f1)
cat > "$TMP/faults.csv" <<EOF
url,caption,id,sha256
$A/img/$I,ok,u0,
$A/status/404,404,u1,
$A/status/410,410,u2,
$A/status/403,403,u3,
$A/flaky/f1/$I,500 then 200,u4,
$A/ratelimit/r1/$I,429 then 200,u5,
http://a.test:1/img/$I,refused,u6,
$B/slow,one byte per second,u7,
$B/endless,endless chunked,u8,
$B/huge,huge content-length,u9,
$B/short/$I,short body,u10,
$B/reset/$I,reset mid-body,u11,
$A/redir/3/$I,3 redirects,u12,
$A/loop,redirect loop,u13,
$A/tofile,redirect to file,u14,
$A/toprivate/priv.test:$P/$I,redirect to private,u15,
$A/html,html as image,u16,
$A/robots/noai/$I,noai,u17,
$A/robots/otherbot%3A%20noai/$I,otherbot noai,u18,
$A/tdm/$I,tdm,u19,
$A/img/$I,wrong hash,u20,0000000000000000000000000000000000000000000000000000000000000000
$A/img/$I,right hash,u21,$SHA_I
https://tls.test:$P/img/$I,self-signed tls,u22,
ftp://a.test/x.jpg,ftp,u23,
,empty url,u24,
$A/status/429/always,429 every time,u25,
$A/status/503/always,503 every time,u26,
 $A/img/$J?a b ,space in the URL,u27,
EOF
# Fixtures are made by the first case that needs them, so every case also
# runs alone (E2E_ONLY=fetch.http_404): the fault run, its exit status in f.rc.
faults() {
	[ -f "$TMP/f.rc" ] && return 0
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $RES --id-col id --hash-col sha256 --timeout 6s --low-speed 100/1s \
		--max-bytes 1M --retries 1 --backoff 200ms --max-retry-after 5s -j 16 --no-tokens --threads 2 \
		--json "$TMP/faults.csv" -o "$TMP/f" > "$TMP/f.json" 2> "$TMP/f.err"
	echo $? > "$TMP/f.rc"
}

reason_of() {  # record -> reason ("ok" for a sample)
	r=$(sqlite3 "$TMP/f/catalog.sqlite" "select reason from rejects where record = $1")
	if [ -z "$r" ] && [ -n "$(sqlite3 "$TMP/f/catalog.sqlite" "select key from samples where record = $1")" ]; then
		r=ok
	fi
	echo "${r:-nothing}"
}
expect() {  # record reason
	faults
	got=$(reason_of "$1")
	[ "$got" = "$2" ] || { echo "record $1: expected $2, got $got"; sqlite3 "$TMP/f/catalog.sqlite" "select * from rejects where record = $1"; return 1; }
}
run_finishes() {
	faults
	FRC=$(cat "$TMP/f.rc")
	[ "$FRC" -eq 0 ] || { echo "exit $FRC"; cat "$TMP/f.err"; return 1; }
}
t run_finishes run_finishes
t ok_200 expect 0 ok
t http_404 expect 1 fetch.http_gone
t http_410 expect 2 fetch.http_gone
t http_403 expect 3 fetch.http_forbidden
t http_500_then_200 expect 4 ok
t http_429_retry_after expect 5 ok
t connection_refused expect 6 fetch.connect
t one_byte_per_second expect 7 fetch.stalled
t endless_chunked expect 8 fetch.too_large
t huge_content_length expect 9 fetch.too_large
t body_shorter_than_length expect 10 fetch.truncated
t reset_mid_body expect 11 fetch.reset
t redirect_chain_3 expect 12 ok
t redirect_loop expect 13 fetch.redirects
t redirect_to_file expect 14 fetch.redirect_blocked
t redirect_to_private expect 15 fetch.private_address
t html_200 expect 16 image.not_an_image
t robots_noai expect 17 fetch.opt_out
t robots_otherbot_fetched expect 18 ok
t tdm_reservation expect 19 fetch.opt_out
t wrong_hash expect 20 fetch.hash_mismatch
t right_hash expect 21 ok
if [ -n "$TLS_ARGS" ]; then t tls_self_signed expect 22 fetch.tls
else skip tls_self_signed "openssl cannot make a certificate"; fi
t ftp_scheme expect 23 fetch.bad_url
t empty_url expect 24 record.missing_field
t http_429_always expect 25 fetch.rate_limited
t http_503_always expect 26 fetch.http_server
t url_with_space expect 27 ok

retried_after_500() {
	faults
	n=$(stats | "$PY" -c "import json,sys; print(json.load(sys.stdin)['requests'].get('/flaky/f1/$I', 0))")
	[ "$n" = 2 ] || { echo "expected 2 requests of the flaky path, got $n"; return 1; }
	# a permanent failure is never retried
	n=$(stats | "$PY" -c "import json,sys; print(json.load(sys.stdin)['requests'].get('/status/404', 0))")
	[ "$n" = 1 ] || { echo "expected 1 request of a 404 path, got $n"; return 1; }
}
t retried_500_once_404_never retried_after_500

retry_after_honoured() {
	faults
	stats | "$PY" -c "
import json, sys
t = json.load(sys.stdin)['times']['/ratelimit/r1/$I']
assert len(t) == 2, 'expected 2 requests, got %d' % len(t)
assert t[1] - t[0] >= 2.0, 'second request %.2f s after the 429, expected at least Retry-After 2' % (t[1] - t[0])
"
}
t retry_after_waited retry_after_honoured

redirect_recorded() {
	faults
	tar xOf "$TMP/f/shards/000000.tar" 000000012.json | "$PY" -c "
import json, sys
m = json.load(sys.stdin)
assert m['final_url'] == '$A/img/$I', m
assert m['redirects'] == 3, m
assert m['http_status'] == 200 and m['content_type'] == 'image/jpeg', m
assert m['bytes'] == $(wc -c < "$IMGS/$I"), m
assert m['image'] == '$A/redir/3/$I', m
assert m['uid'] == 'u12', m
"
}
t redirect_final_url_in_key_json redirect_recorded

identity_headers() {
	faults
	stats | "$PY" -c "
import json, sys
h = json.load(sys.stdin)['headers']
assert h, 'no requests logged'
for ua, ae in h:
    assert ua.startswith('tessera/') and '+http' in ua, 'user agent %r' % ua
    assert ae is None, 'Accept-Encoding %r was sent' % ae
"
}
t honest_user_agent_no_accept_encoding identity_headers

summary_by_reason() {
	faults
	"$PY" -c "
import json, sys
j = json.load(open('$TMP/f.json'))
assert j['command'] == 'fetch', j
by = j['rejects_by_reason']
assert by['fetch.http_gone'] == 2 and by['fetch.opt_out'] == 2 and by['fetch.too_large'] == 2, by
assert j['fetch']['downloaded'] >= 7, j['fetch']
st = json.load(open('$TMP/f/shards/000000_stats.json'))
assert st['successes'] == j['samples'], st
assert st['status_dict']['fetch.http_gone'] == 2, st['status_dict']
"
}
t json_summary_and_stats_by_reason summary_by_reason

reject_detail() {
	faults
	# the catalog keeps the HTTP status, attempts and final URL of a reject
	d=$(sqlite3 "$TMP/f/catalog.sqlite" "select message from rejects where record = 1")
	echo "$d" | grep -q "HTTP 404 (1 attempt)" || { echo "message: $d"; return 1; }
	d=$(sqlite3 "$TMP/f/catalog.sqlite" "select detail from rejects where record = 1")
	echo "$d" | "$PY" -c "
import json, sys
d = json.load(sys.stdin)
assert d['http_status'] == 404 and d['curl_code'] == 0 and d['attempts'] == 1 and d['final_url'].endswith('/status/404'), d" || return 1
	d=$(sqlite3 "$TMP/f/catalog.sqlite" "select detail from rejects where record = 6")
	echo "$d" | "$PY" -c "
import json, sys
d = json.load(sys.stdin)
assert d['http_status'] == 0 and d['curl_code'] == 7 and d['attempts'] == 2, d" || return 1
	# samples.path is the URL, samples.meta the fetch fields
	m=$(sqlite3 "$TMP/f/catalog.sqlite" "select path || ' ' || json_extract(meta, '$.redirects') from samples where record = 12")
	[ "$m" = "$A/redir/3/$I 3" ] || { echo "samples.path and meta: $m"; return 1; }
}
t reject_keeps_status_and_attempts reject_detail

# ---- input shapes: SBU's parallel arrays, RedCaps's annotations, JSONL ------------------
shapes() {
	printf '{"image_urls": ["%s/img/%s", "%s/status/404/sbu", "%s/img/%s"], "captions": ["sbu one", "sbu two", "sbu three"]}' \
		"$A" "$I" "$A" "$A" "$J" > "$TMP/sbu.json"
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --no-tokens "$TMP/sbu.json" -o "$TMP/sbu" || return 1
	got=$(sqlite3 "$TMP/sbu/catalog.sqlite" "select group_concat(key || '=' || caption, ';') from (select key, caption from samples order by key)")
	[ "$got" = "000000000=sbu one;000000002=sbu three" ] || { echo "sbu samples: $got"; return 1; }
	check "$(reason_in "$TMP/sbu" 1)" = fetch.http_gone || return 1
	printf '{"info": {"version": 1}, "annotations": [{"image_id": "rc1", "url": "%s/img/%s", "caption": "rc one", "subreddit": "pics"}, {"image_id": "rc2", "url": "%s/img/%s", "caption": "rc two"}]}' \
		"$A" "$J" "$A" "$I" > "$TMP/redcaps.json"
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --no-tokens --json-path annotations --id-col image_id \
		"$TMP/redcaps.json" -o "$TMP/rc" || return 1
	tar xOf "$TMP/rc/shards/000000.tar" 000000001.json | "$PY" -c "
import json, sys
m = json.load(sys.stdin)
assert m['uid'] == 'rc2' and m['captions'] == ['rc two'] and m['source'].endswith('annotations[1]'), m"
	printf '{"url": "%s/img/%s", "caption": "jl one", "key": 17}\n\n{"url": "%s/status/410", "caption": "jl two", "key": 18}\n' \
		"$A" "$I" "$A" > "$TMP/l.jsonl"
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch --progress $RES --no-tokens --id-col key "$TMP/l.jsonl" -o "$TMP/jl" 2> "$TMP/jl.err" || return 1
	# the progress line (forced: stderr is no terminal here) has the fetch fields
	grep -q 'in flight, .* MB/s, .*% ok, .* hosts in backoff, oldest' "$TMP/jl.err" || { echo "no fetch progress line:"; cat "$TMP/jl.err"; return 1; }
	tar xOf "$TMP/jl/shards/000000.tar" 000000000.json | has '"uid":"17"' || return 1
	check "$(reason_in "$TMP/jl" 1)" = fetch.http_gone
}
reason_in() { sqlite3 "$1/catalog.sqlite" "select reason from rejects where record = $2"; }
t sbu_redcaps_jsonl_shapes shapes

# ---- parquet lists: LAION's and DataComp's columns, by preset ---------------------------
# The fixtures (tests/data/parquet/gen.mjs) name laion.test and coyo.test on
# port 80; --connect-to sends those connections to the test server.
CT="--connect-to laion.test:80:127.0.0.2:$P --connect-to coyo.test:80:127.0.0.3:$P"
pq_reasons() {  # dataset -> "record=reason;..." with ok for samples
	sqlite3 "$1/catalog.sqlite" "select group_concat(x, ';') from (select record || '=ok' x, record from samples
		union all select record || '=' || reason, record from rejects order by record)"
}
parquet_laion() {
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES $CT --no-tokens --preset laion --keep-col similarity,SAMPLE_ID,WIDTH \
		tests/data/parquet/fetch_laion.parquet -o "$TMP/pql" || return 1
	got=$(pq_reasons "$TMP/pql")
	want="0=ok;1=ok;2=fetch.http_gone;3=record.missing_field;4=caption.missing;5=ok;6=ok"
	[ "$got" = "$want" ] || { echo "expected $want, got $got"; return 1; }
	tar xOf "$TMP/pql/shards/000000.tar" 000000000.json | "$PY" -c "
import json, sys
m = json.load(sys.stdin)
want = {'captions': ['Pink heather in bloom'], 'similarity': 0.31, 'SAMPLE_ID': 1, 'WIDTH': 300}
got = {k: m.get(k) for k in want}
assert got == want, 'KEY.json: expected %r, got %r' % (want, got)
assert m['source'].endswith('fetch_laion.parquet:1'), m['source']" || return 1
	cap=$(tar xOf "$TMP/pql/shards/000000.tar" 000000005.txt)
	[ "$cap" = "The word RED on black — «CMYK»" ] || { echo "caption of record 5: $cap"; return 1; }
	# the URL is the sample's path; one image fetched twice has one hash
	r=$(sqlite3 "$TMP/pql/catalog.sqlite" "select path from samples where record = 4 or record = 5")
	[ "$r" = "http://coyo.test/img/red-sign-cmyk.jpg" ] || { echo "samples.path: $r"; return 1; }
	n=$(sqlite3 "$TMP/pql/catalog.sqlite" "select count(distinct image_hash) from samples where record in (0, 6)")
	[ "$n" = 1 ] || { echo "records 0 and 6 fetched the same URL, got $n different hashes"; return 1; }
}
t parquet_laion_preset parquet_laion
parquet_datacomp() {
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES $CT --no-tokens --format parquet --preset datacomp --id-col uid \
		--hash-col sha256 tests/data/parquet/fetch_datacomp.parquet -o "$TMP/pqd" || return 1
	got=$(pq_reasons "$TMP/pqd")
	want="0=ok;1=fetch.hash_mismatch;2=ok"
	[ "$got" = "$want" ] || { echo "expected $want, got $got"; return 1; }
	u=$(sqlite3 "$TMP/pqd/catalog.sqlite" "select group_concat(json_extract(meta, '$.uid'), ',') from samples")
	[ "$u" = "00a1,00c3" ] || { echo "uids: expected 00a1,00c3, got $u"; return 1; }
	tar xOf "$TMP/pqd/shards/000000.tar" 000000002.json | grep -q '"uid":"00c3"' || { echo "KEY.json has no uid"; return 1; }
	# the images that arrived are the server's, byte for byte (their sha256 was checked)
	m=$(sqlite3 "$TMP/pqd/catalog.sqlite" "select message from rejects where record = 1")
	case $m in *"sha256 of the "*" bytes is not 0000000000"*) ;;
	*) echo "the mismatch message names no hash: $m"; return 1 ;; esac
}
t parquet_datacomp_hash_uid parquet_datacomp

# the list options ingest has: presets for header-less TSVs, --columns, --keep-col, --group-by
list_options() {
	printf 'A lake at dawn\t%s/img/%s\nPink heather\t%s/img/%s\n' "$A" "$J" "$A" "$I" > "$TMP/cc3m.tsv"
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --no-tokens --preset cc3m "$TMP/cc3m.tsv" -o "$TMP/cc3m" || return 1
	got=$(sqlite3 "$TMP/cc3m/catalog.sqlite" "select group_concat(caption, ';') from samples")
	[ "$got" = "A lake at dawn;Pink heather" ] || { echo "cc3m captions: $got"; return 1; }
	# DataComp's naming: 8-digit shards and stats, which its resharder reads
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --no-tokens --preset cc3m --stats-digits 8 "$TMP/cc3m.tsv" -o "$TMP/cc3m8" || return 1
	check "$(cd "$TMP/cc3m8/shards" && ls | tr '\n' ' ')" = "00000000.idx 00000000.tar 00000000_stats.json shardindex.json sizes.json " || return 1
	"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['successes'] == 2, d" "$TMP/cc3m8/shards/00000000_stats.json" || return 1
	ts shards verify -q "$TMP/cc3m8" || return 1
	printf '%s/img/%s\tone\tx1\n%s/img/%s\ttwo\tx2\n%s/img/%s\tthree\tx3\n' "$A" "$I" "$A" "$J" "$A" "$I" > "$TMP/cols.tsv"
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --no-tokens --no-header --columns url,caption,note --keep-col note \
		--group-by image "$TMP/cols.tsv" -o "$TMP/cols" || return 1
	got=$(sqlite3 "$TMP/cols/catalog.sqlite" "select group_concat(captions || json_extract(meta, '$.note'), ';') from samples")
	[ "$got" = '["one","three"]x1;["two"]x2' ] || { echo "grouped captions and kept column: $got"; return 1; }
	"$TESSERA" fetch --columns url,caption "$TMP/cols.tsv" -o "$TMP/x" 2> "$TMP/cols.err"
	[ $? -eq 2 ] && grep -q 'add --no-header' "$TMP/cols.err" || { echo "--columns without --no-header:"; cat "$TMP/cols.err"; return 1; }
}
t list_options list_options

# ---- timeouts: accept and never answer ------------------------------------------------
printf 'url,caption\n%s/hang,never answers\n%s/img/%s,fine\n' "$B" "$A" "$J" > "$TMP/hang.csv"
hang_is_timeout() {
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --timeout 2s --low-speed 0 --retries 0 --no-tokens \
		"$TMP/hang.csv" -o "$TMP/h" || return 1
	r=$(sqlite3 "$TMP/h/catalog.sqlite" "select reason from rejects where record = 0")
	[ "$r" = fetch.timeout ] || { echo "expected fetch.timeout, got '$r'"; return 1; }
	n=$(sqlite3 "$TMP/h/catalog.sqlite" "select count(*) from samples")
	[ "$n" = 1 ] || { echo "expected the other record fetched, got $n samples"; return 1; }
}
t never_answers_is_timeout hang_is_timeout

# ---- --deadline against a server that never answers ------------------------------------
deadline_ends() {
	{ echo url,caption; echo "$A/img/$I,fine"; for i in 1 2 3 4 5 6 7 8 9; do echo "$B/hang?$i,stall $i"; done; } > "$TMP/stall.csv"
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --deadline 2s --timeout 60s --low-speed 0 --no-tokens \
		"$TMP/stall.csv" -o "$TMP/d" || { echo "exit $?"; return 1; }
	n=$(sqlite3 "$TMP/d/catalog.sqlite" "select count(*) from rejects where reason = 'fetch.deferred'")
	[ "$n" = 9 ] || { echo "expected 9 fetch.deferred rejects, got $n"; return 1; }
	c=$(sqlite3 "$TMP/d/catalog.sqlite" "select count(*) from shards where complete = 1 and end_record = 10")
	[ "$c" = 1 ] || { echo "expected one complete shard covering the 10 records"; return 1; }
	s=$(sqlite3 "$TMP/d/catalog.sqlite" "select status from runs order by id desc limit 1")
	[ "$s" = ok ] || { echo "run status '$s'"; return 1; }
}
t deadline_commits_everything deadline_ends

# ---- per-host concurrency at the server ---------------------------------------------
per_host_limit() {
	{ echo url,caption; for i in $(seq 0 23); do echo "$C/delay/300/$I?$i,slow $i"; done; } > "$TMP/ph.csv"
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch --no-progress $RES --per-host 3 -j 32 --no-tokens "$TMP/ph.csv" -o "$TMP/ph" \
		> "$TMP/ph.out" 2>&1 || return 1
	n=$(sqlite3 "$TMP/ph/catalog.sqlite" "select count(*) from samples")
	[ "$n" = 24 ] || { echo "expected 24 samples, got $n"; return 1; }
	m=$(stats | "$PY" -c "import json,sys; print(json.load(sys.stdin)['max_open'].get('127.0.0.5', 0))")
	[ "$m" -le 3 ] || { echo "server saw $m connections at once to c.test, --per-host 3"; return 1; }
	[ "$m" -ge 2 ] || { echo "server saw only $m connection at a time: no concurrency"; return 1; }
	# one host, 8 rounds of 300 ms held back by --per-host: the summary says so
	grep -q "waited for a free slot on their host (--per-host 3) for .* raise --per-host" "$TMP/ph.out" ||
		{ echo "no --per-host hint in the summary:"; cat "$TMP/ph.out"; return 1; }
	# room for all 24 at once: no hint, and the JSON figures say why
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch --json $RES --per-host 24 -j 32 --no-tokens "$TMP/ph.csv" -o "$TMP/ph2" \
		> "$TMP/ph2.json" || return 1
	"$PY" - "$TMP/ph2.json" <<'PYEOF'
import json, sys
f = json.load(open(sys.argv[1]))["fetch"]
assert f["download_seconds"] > 0.25 and f["per_host_bound_seconds"] < 0.5 * f["download_seconds"], f
PYEOF
}
t per_host_never_exceeded per_host_limit

host_rate() {
	{ echo url,caption; for i in 0 1 2 3; do echo "$C/delay/3/$J?$i,rate $i"; done; } > "$TMP/hr.csv"
	# shellcheck disable=SC2086
	timeout 30 "$TESSERA" fetch -q $RES --host-rate 4 --no-tokens "$TMP/hr.csv" -o "$TMP/hr" || return 1
	stats | "$PY" -c "
import json, sys
t = sorted(json.load(sys.stdin)['times']['/delay/3/$J'])
assert len(t) == 4, t
gaps = [b - a for a, b in zip(t, t[1:])]
assert min(gaps) >= 0.2, 'requests %s s apart, --host-rate 4 allows one per 0.25 s' % gaps
"
}
t host_rate_spaces_requests host_rate

# ---- resume after kill -9: the bytes of an uninterrupted run ---------------------------
{ echo url,caption; for i in $(seq 0 29); do
	case $((i % 3)) in 0) echo "$A/delay/40/$I?$i,photo $i" ;; 1) echo "$C/delay/40/$J?$i,lake $i" ;;
	2) echo "$A/status/404?$i,gone $i" ;; esac; done; } > "$TMP/res.csv"
FOPTS="-q --no-tokens --shard-samples 4 --threads 2 -j 8"
r0() {  # the uninterrupted run the resumed ones must equal
	[ -d "$TMP/r0" ] && return 0
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r0" 2>/dev/null
	return 0
}
resume_crash_point() {
	r0
	# shellcheck disable=SC2086
	TESSERA_CRASH_AT=shard-committed:2 timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r1" 2>/dev/null
	rc=$?
	[ $rc -ne 0 ] || { echo "the crash point did not kill the run"; return 1; }
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r1" || return 1
	same_dataset "$TMP/r0" "$TMP/r1"
}
t resume_after_crash_same_bytes resume_crash_point
resume_kill9() {
	r0
	# shellcheck disable=SC2086
	"$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r2" 2>/dev/null &
	pid=$!
	sleep 0.4
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r2" || return 1
	same_dataset "$TMP/r0" "$TMP/r2"
}
t resume_after_kill9_same_bytes resume_kill9

resume_after_sigterm() {
	r0
	# the clean stop at an exact moment: exit 130, run 'interrupted', then the same bytes
	# shellcheck disable=SC2086
	TESSERA_CRASH_AT=shard-committed:2 TESSERA_CRASH_SIGNAL=TERM timeout 60 "$TESSERA" fetch $FOPTS $RES \
		"$TMP/res.csv" -o "$TMP/r3" 2>/dev/null
	rc=$?
	[ $rc -eq 130 ] || { echo "exit $rc after SIGTERM, expected 130"; return 1; }
	s=$(sqlite3 "$TMP/r3/catalog.sqlite" "select status from runs order by id desc limit 1")
	[ "$s" = interrupted ] || { echo "run status '$s', expected interrupted"; return 1; }
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r3" || return 1
	same_dataset "$TMP/r0" "$TMP/r3"
}
t resume_after_sigterm_same_bytes resume_after_sigterm
resume_after_enospc() {
	r0
	# shellcheck disable=SC2086
	TESSERA_FAULT=write:12:ENOSPC timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r4" 2> "$TMP/r4.err"
	rc=$?
	[ $rc -eq 1 ] || { echo "exit $rc with a full disk, expected 1"; return 1; }
	grep -q 'error:' "$TMP/r4.err" || { echo "no error message"; return 1; }
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/r4" || return 1
	same_dataset "$TMP/r0" "$TMP/r4"
}
t resume_after_enospc_same_bytes resume_after_enospc

partitions_merge() {
	r0
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $FOPTS $RES --part 0/2 "$TMP/res.csv" -o "$TMP/pp" || return 1
	# shellcheck disable=SC2086
	SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 timeout 60 "$TESSERA" fetch $FOPTS $RES "$TMP/res.csv" -o "$TMP/pp" || return 1
	[ -f "$TMP/pp/part-00000/catalog.sqlite" ] && [ -f "$TMP/pp/part-00001/catalog.sqlite" ] || { echo "no part directories"; return 1; }
	ts shards merge -q "$TMP/pp/part-00000" "$TMP/pp/part-00001" -o "$TMP/pm" || return 1
	same_dataset "$TMP/r0" "$TMP/pm"
}
t partitions_then_merge_equal_one_run partitions_merge

# ---- the circuit breaker ------------------------------------------------------------
breaker() {
	{ echo url,caption; for i in 0 1 2 3 4 5; do echo "http://a.test:1/img/$I?$i,refused $i"; done; } > "$TMP/br.csv"
	# shellcheck disable=SC2086
	# every record is rejected: exit status 3 (docs/formats.md, exit codes)
	timeout 30 "$TESSERA" fetch -q $RES --per-host 1 --retries 0 --host-failures 2 --host-pause 300ms \
		--no-tokens "$TMP/br.csv" -o "$TMP/br"
	st=$?; [ $st -eq 3 ] || { echo "expected exit status 3 (all rejected), got $st"; return 1; }
	got=$(sqlite3 "$TMP/br/catalog.sqlite" "select group_concat(reason, ' ') from (select reason from rejects order by record)")
	want="fetch.connect fetch.connect fetch.connect fetch.host_down fetch.host_down fetch.host_down"
	[ "$got" = "$want" ] || { echo "expected: $want"; echo "got:      $got"; return 1; }
}
t circuit_breaker_marks_host_down breaker

# ---- --retry-failed: only the transient failures, into new shards --------------------
cat > "$TMP/rt.csv" <<EOF
url,caption
$A/delay/1/$I,good one
$A/delay/2/$J,good two
$A/flaky/always-1/$I,flaky one
$A/flaky/always-2/$J,flaky two
$A/status/404/r1,gone one
$A/flaky/always-3/$I,flaky three
$A/status/404/r2,gone two
EOF
reqs() { stats | "$PY" -c "import json,sys; r=json.load(sys.stdin)['requests']; print(' '.join(str(r.get(p, 0)) for p in sys.argv[1:]))" "$@"; }
retry_failed() {
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch -q $RES --retries 1 --backoff 100ms --no-tokens --shard-samples 100 \
		"$TMP/rt.csv" -o "$TMP/rt" || { echo "the first run failed"; return 1; }
	n=$(sqlite3 "$TMP/rt/catalog.sqlite" "select count(*) from rejects where reason = 'fetch.http_server'")
	[ "$n" = 3 ] || { echo "expected 3 fetch.http_server rejects before the retry, got $n"; return 1; }
	before=$(reqs /delay/1/$I /delay/2/$J /flaky/always-1/$I /flaky/always-2/$J /flaky/always-3/$I /status/404/r1 /status/404/r2)
	[ "$before" = "1 1 2 2 2 1 1" ] || { echo "requests before the retry: $before"; return 1; }
	cp "$TMP/rt/shards/000000.tar" "$TMP/rt-000000.tar"
	curl -s --max-time 5 --noproxy '*' -X POST "http://127.0.0.2:$P/_recover" > /dev/null || { echo "cannot reach the server"; return 1; }
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch -q $RES --retry-failed "$TMP/rt" || { echo "--retry-failed exit $?"; return 1; }
	after=$(reqs /delay/1/$I /delay/2/$J /flaky/always-1/$I /flaky/always-2/$J /flaky/always-3/$I /status/404/r1 /status/404/r2)
	[ "$after" = "1 1 3 3 3 1 1" ] || { echo "requests after the retry: $after (expected 1 1 3 3 3 1 1: the transient ones only)"; return 1; }
	cmp "$TMP/rt/shards/000000.tar" "$TMP/rt-000000.tar" || { echo "the existing shard was rewritten"; return 1; }
	got=$(sqlite3 "$TMP/rt/catalog.sqlite" "select group_concat(key || ':' || shard, ' ') from (select key, shard from samples order by key)")
	[ "$got" = "000000000:0 000000001:0 000000002:1 000000003:1 000000005:1" ] || { echo "samples: $got"; return 1; }
	got=$(sqlite3 "$TMP/rt/catalog.sqlite" "select group_concat(record || ':' || reason, ' ') from (select record, reason from rejects order by record)")
	[ "$got" = "4:fetch.http_gone 6:fetch.http_gone" ] || { echo "rejects: $got"; return 1; }
	got=$(sqlite3 "$TMP/rt/catalog.sqlite" "select first_record || ' ' || end_record || ' ' || complete from shards where idx = 1")
	[ "$got" = "7 7 1" ] || { echo "retry shard range: '$got', expected the empty range 7 7"; return 1; }
	tar tf "$TMP/rt/shards/000001.tar" | grep -q '^000000005.jpg$' || { echo "000000005.jpg not in the retry shard"; return 1; }
	n=$(sqlite3 "$TMP/rt/catalog.sqlite" "select count(*) from runs where command like '%--retry-failed%' and status = 'ok'")
	[ "$n" = 1 ] || { echo "the retry run is not recorded"; return 1; }
	"$TESSERA" shards verify "$TMP/rt" > /dev/null || { echo "shards verify failed"; "$TESSERA" shards verify "$TMP/rt"; return 1; }
	# nothing left to retry
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch $RES --retry-failed "$TMP/rt" > "$TMP/rt2.out" 2>&1
	grep -q 'nothing to retry' "$TMP/rt2.out" || { echo "a second retry:"; cat "$TMP/rt2.out"; return 1; }
	# a normal re-run keeps everything (resume finds the retry shard in the prefix)
	# shellcheck disable=SC2086
	timeout 60 "$TESSERA" fetch -q $RES --retries 1 --backoff 100ms --no-tokens --shard-samples 100 \
		"$TMP/rt.csv" -o "$TMP/rt" || { echo "a re-run failed"; return 1; }
	n=$(sqlite3 "$TMP/rt/catalog.sqlite" "select count(*) from samples")
	[ "$n" = 5 ] || { echo "a re-run changed the samples: $n"; return 1; }
}
t retry_failed_fetches_transient_only retry_failed

# ---- the DNS warning: a resolver that answers nothing, in a private mount namespace -----
# /etc/resolv.conf is replaced (for tessera only) by one naming 127.0.0.77, where
# nothing listens (checked first), so every lookup fails at once on loopback.
dns_ok=""
if [ "$(id -u)" = 0 ] && command -v unshare > /dev/null && unshare -m true 2> /dev/null &&
   "$PY" -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(('127.0.0.77', 53))" 2> /dev/null; then
	dns_ok=1
fi
dns_warning() {
	printf 'nameserver 127.0.0.77\noptions attempts:1 timeout:1\n' > "$TMP/resolv.conf"
	{ echo url,caption; i=0; while [ $i -lt 1100 ]; do echo "http://h$i.invalid/x.jpg,x $i"; i=$((i + 1)); done; } > "$TMP/dns.csv"
	timeout 60 unshare -m sh -c "mount --bind '$TMP/resolv.conf' /etc/resolv.conf && exec '$TESSERA' fetch --retries 0 --no-tokens '$TMP/dns.csv' -o '$TMP/dns'" \
		2> "$TMP/dns.err"
	st=$?; [ $st -eq 3 ] || { echo "expected exit status 3 (all rejected), got $st"; tail -3 "$TMP/dns.err"; return 1; }
	n=$(grep -c 'warning: .*failed to resolve their host name.*unbound' "$TMP/dns.err")
	[ "$n" = 1 ] || { echo "expected one DNS warning, got $n"; grep warning "$TMP/dns.err"; return 1; }
	r=$(sqlite3 "$TMP/dns/catalog.sqlite" "select group_concat(reason || '=' || n) from (select reason, count(*) n from rejects group by reason)")
	[ "$r" = "fetch.dns=1100" ] || { echo "rejects: $r"; return 1; }
}
if [ -n "$dns_ok" ]; then t dns_failure_ratio_warns_once dns_warning
else skip dns_failure_ratio_warns_once "needs root, unshare -m and a free 127.0.0.77:53"; fi

# ---- the command line ------------------------------------------------------------------
cli() {
	ts fetch --help | has 'usage: tessera fetch' || return 1
	ts fetch "$TMP/faults.csv" 2>/dev/null; check $? -eq 2 || return 1
	ts fetch --per-host 0 "$TMP/faults.csv" -o "$TMP/x" 2>/dev/null; check $? -eq 2 || return 1
	ts fetch --respect nonsense "$TMP/faults.csv" -o "$TMP/x" 2>/dev/null; check $? -eq 2 || return 1
	ts fetch --low-speed 1K "$TMP/faults.csv" -o "$TMP/x" 2>/dev/null; check $? -eq 2 || return 1
	"$TESSERA" fetch --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-fetch.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts"
}
t command_line cli

# libcurl is opened when fetch starts: without it, fetch says so and what to
# install, exits 1 and leaves no output behind; other commands never need it
without_libcurl() {
	printf 'url,caption\n%s/img/%s,a photo\n' "$A" "$I" > "$TMP/nolib.csv"
	TESSERA_LIBCURL=/nonexistent/libcurl.so.4 ts fetch $RES "$TMP/nolib.csv" -o "$TMP/nolib" 2> "$TMP/nolib.err"
	check $? -eq 1 || return 1
	has 'fetch needs libcurl, which cannot be loaded' < "$TMP/nolib.err" || return 1
	has 'apt install libcurl4' < "$TMP/nolib.err" || return 1
	absent "$TMP/nolib" || return 1
	TESSERA_LIBCURL=/nonexistent/libcurl.so.4 ts ingest -q "$IMGS" -o "$TMP/nolib-ingest"; check $? -eq 0
}
t without_libcurl without_libcurl

finish
