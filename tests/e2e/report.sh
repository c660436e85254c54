#!/bin/sh
# e2e: tessera report.  The statistics JSON against captions stats, tags
# stats and sqlite3 queries of the catalog; the page of the demo dataset and
# of a composed + tagged one rendered in headless Chromium (the DOM's
# histogram bars and limit markers, rejects table, contact sheet images,
# composite regions; a screenshot that is a non-blank PNG of the window's
# size); HTML escaping of hostile captions and paths; the seeded contact
# sheet; read-only use (files unchanged, a read-only mount); usage errors
# and the man page.
SUITE=report
. tests/e2e/lib.sh
PY=/usr/bin/python3
VOCAB=$SHARED/tokenizer/bpe_simple_vocab_16e6.txt.gz
CHROMIUM=${TS_CHROMIUM-$(command -v chromium || true)}

demo() {  # the demo dataset, as `make demo` makes it
	[ -d "$TMP/demo" ] && return 0
	"$TESSERA" ingest -q --format folder tests/data/sample -o "$TMP/demo" 2>/dev/null
	exists -f "$TMP/demo/catalog.sqlite"
}

composed() {  # demo, composed, then tagged (tags rewrite the composed dataset in place)
	[ -d "$TMP/ct" ] && return 0
	demo || return 1
	ts compose -q --rate 0.5 --seed 1 "$TMP/demo" -o "$TMP/ct" || return 1
	"$TESSERA" tags -q "$TMP/ct"
}

need_vocab() {
	[ -f "$VOCAB" ] || { echo "SKIPPED: ../shared/tokenizer not found"; return 1; }
}

# the report's caption statistics are captions stats' (same document, same numbers)
json_matches_stats() {
	need_vocab || return 0
	demo || return 1
	ts report --json "$TMP/demo" > "$TMP/r.json" || return 1
	ts captions stats --json "$TMP/demo" > "$TMP/s.json" || return 1
	sqlite3 -separator ' ' "$TMP/demo/catalog.sqlite" "select reason, count(*) from rejects group by reason order by reason" > "$TMP/rej.txt"
	sqlite3 -separator ' ' "$TMP/demo/catalog.sqlite" "select (select count(*) from samples), (select count(*) from rejects), (select count(*) from shards), (select sum(bytes) from shards)" > "$TMP/tot.txt"
	sqlite3 "$TMP/demo/catalog.sqlite" "select count(tokens) from samples" > "$TMP/ntok.txt"
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
t = sys.argv[1]
r = json.load(open(t + "/r.json")); s = json.load(open(t + "/s.json"))
n_tok = int(open(t + "/ntok.txt").read())
if r["captions"] != s:
    for k in s:
        if r["captions"].get(k) != s[k]:
            print("captions.%s: report %r, captions stats %r" % (k, r["captions"].get(k), s[k]))
    sys.exit(1)
if r["catalog_tokens"] != {"checked": n_tok, "differ": 0}:
    sys.exit("catalog tokens: expected all %d to agree with the tokenizer, got %r" % (n_tok, r["catalog_tokens"]))
want = {l.split()[0]: int(l.split()[1]) for l in open(t + "/rej.txt")}
got = {x["reason"]: x["count"] for x in r["rejects_by_reason"]}
if got != want:
    sys.exit("rejects by reason: expected %r (sqlite3), got %r" % (want, got))
for x in r["rejects_by_reason"]:
    if not x["meaning"] or not 1 <= len(x["examples"]) <= 5 or len(x["examples"]) != min(5, x["count"]):
        sys.exit("reason %s: meaning %r, %d examples for %d rejects" % (x["reason"], x["meaning"], len(x["examples"]), x["count"]))
n, rej, shards, b = map(int, open(t + "/tot.txt").read().split())
got = (r["samples"], r["rejects"], r["shards"], r["bytes"])
if got != (n, rej, shards, b):
    sys.exit("samples, rejects, shards, bytes: expected %r, got %r" % ((n, rej, shards, b), got))
sheet = r["contact_sheet"]["samples"]
if len(sheet) != min(48, n):
    sys.exit("contact sheet: expected %d samples, got %d" % (min(48, n), len(sheet)))
# longest captions: by tokens, descending, the tokens those of the catalog
toks = [x["tokens"] for x in r["longest"]]
if toks != sorted(toks, reverse=True) or len(toks) != min(10, n):
    sys.exit("longest: %r" % toks)
fmt = sum(x["count"] for x in r["images"]["formats"])
if fmt != n or sum(c["count"] for c in r["images"]["original_sizes"]["cells"]) != n:
    sys.exit("image counts do not add up to %d samples" % n)
PYEOF
}

# short and long captions after captions split are captions stats of those texts
split_stats() {
	need_vocab || return 0
	demo || return 1
	ts captions split -q "$TMP/demo" -o "$TMP/split" || return 1
	ts report --json --samples 0 "$TMP/split" > "$TMP/sp.json" || return 1
	sqlite3 "$TMP/split/catalog.sqlite" "select short_caption from samples where short_caption is not null order by record" > "$TMP/short.txt"
	ts captions stats --json "$TMP/short.txt" > "$TMP/short.json" || return 1
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
t = sys.argv[1]
r = json.load(open(t + "/sp.json")); s = json.load(open(t + "/short.json"))
if "short_captions" not in r:
    sys.exit("no short_captions in the report of a split dataset")
a = dict(r["short_captions"]); b = dict(s)
for k in ("source", "kind"):
    a.pop(k); b.pop(k)
if a != b:
    sys.exit("short captions: report %r, captions stats %r" % (a, b))
if r["long_captions"]["captions"] != r["short_captions"]["captions"]:
    sys.exit("long and short caption counts differ")
PYEOF
}

# without a vocabulary: the catalog's token counts
catalog_tokens() {
	demo || return 1
	ts report --json --samples 0 --catalog-tokens "$TMP/demo" > "$TMP/ct.json" 2> "$TMP/ct.err" || return 1
	has "catalog's token counts" "$TMP/ct.err" || return 1
	sqlite3 -separator ' ' "$TMP/demo/catalog.sqlite" "select tokens / 10 * 10, count(*) from samples group by 1 order by 1" > "$TMP/tk.txt"
	sqlite3 "$TMP/demo/catalog.sqlite" "select count(*) from samples where tokens > 20" > "$TMP/o20.txt"
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
t = sys.argv[1]
c = json.load(open(t + "/ct.json"))["captions"]
if c["kind"] != "catalog tokens":
    sys.exit("kind: expected 'catalog tokens', got %r" % c["kind"])
want = {int(l.split()[0]): int(l.split()[1]) for l in open(t + "/tk.txt")}
got = {b["from"]: b["count"] for b in c["histogram"]["bins"] if b["count"]}
if got != want:
    sys.exit("bins: expected %r (sqlite3), got %r" % (want, got))
if c["contexts"][0]["over"] != int(open(t + "/o20.txt").read()):
    sys.exit("over 20: %r" % c["contexts"][0])
PYEOF
	# a --vocab or $TESSERA_VOCAB that is missing is an error, not a fallback
	ts report --json --vocab /nonexistent/v.gz "$TMP/demo" > /dev/null 2>&1; check $? -eq 1 || return 1
	TESSERA_VOCAB=/nonexistent/v.gz "$TESSERA" report --json "$TMP/demo" > /dev/null 2>&1; [ $? -eq 1 ]
}

# composites and tags: the JSON against the compositions/tags tables and tags stats
composed_json() {
	composed || return 1
	ts report --json "$TMP/ct" > "$TMP/c.json" || return 1
	ts tags stats --json "$TMP/ct" > "$TMP/ts.json" || return 1
	sqlite3 -separator ' ' "$TMP/ct/catalog.sqlite" "select mode, count(*) from compositions group by mode" > "$TMP/modes.txt"
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
t = sys.argv[1]
r = json.load(open(t + "/c.json")); ts = json.load(open(t + "/ts.json"))
want = {l.split()[0]: int(l.split()[1]) for l in open(t + "/modes.txt")}
got = {x["mode"]: x["count"] for x in r["compositions"]}
if got != want:
    sys.exit("compositions: expected %r, got %r" % (want, got))
tg = r["tags"]
for k in ("samples", "captions", "tags", "distinct", "tags_per_caption", "share_0_tags"):
    if tg[k] != ts[k]:
        sys.exit("tags.%s: report %r, tags stats %r" % (k, tg[k], ts[k]))
top = [[x["lemma"], x["count"]] for x in tg["top"]]
want_top = [[x["lemma"], x["count"]] for x in ts["top"]][:len(top)]
if top != want_top:
    sys.exit("top tags: report %r, tags stats %r" % (top, want_top))
per = {str(x["tags"]): x["captions"] for x in tg["per_caption"]}
if per != {k: v for k, v in ts["histogram"].items() if v}:
    sys.exit("tags per caption: report %r, tags stats %r" % (per, ts["histogram"]))
for s in r["contact_sheet"]["samples"]:
    if len(s.get("regions", [])) != 2 or len(s.get("join", [])) != 2 or not s.get("tags"):
        sys.exit("sample %s: regions %r, join %r, %d tags" % (s["key"], s.get("regions"), s.get("join"), len(s.get("tags", []))))
    for a, b in s["join"]:
        if not (0 <= a < b <= len(s["caption"].encode())):
            sys.exit("sample %s: join span %r outside its caption" % (s["key"], [a, b]))
PYEOF
}

# a merged dataset: the samples and rejects of each partition
merged() {
	for i in 0 1 2; do
		"$TESSERA" ingest -q --format folder --part $i/3 tests/data/sample -o "$TMP/parts" 2>/dev/null
		exists -f "$TMP/parts/part-0000$i/catalog.sqlite" || return 1
	done
	ts shards merge -q "$TMP"/parts/part-* -o "$TMP/merged" 2>/dev/null || return 1
	ts report --json --samples 0 "$TMP/merged" > "$TMP/m.json" 2>/dev/null || return 1
	for i in 0 1 2; do
		sqlite3 -separator ' ' "$TMP/parts/part-0000$i/catalog.sqlite" "select $i, (select count(*) from samples), (select count(*) from rejects)"
	done > "$TMP/parts.txt"
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
t = sys.argv[1]
got = [[p["part"], p["samples"], p["rejects"]] for p in json.load(open(t + "/m.json"))["merged_parts"]]
want = [[int(x) for x in l.split()] for l in open(t + "/parts.txt")]
if got != want:
    sys.exit("per-part counts: expected %r (the partitions' catalogs), got %r" % (want, got))
PYEOF
}

# the same seed gives the same page; another seed another sheet
seeded() {
	demo || return 1
	ts report -q --seed 7 "$TMP/demo" -o "$TMP/s7a.html" || return 1
	ts report -q --seed 7 "$TMP/demo" -o "$TMP/s7b.html" || return 1
	cmp "$TMP/s7a.html" "$TMP/s7b.html" || return 1
	ts report --json --samples 6 --seed 1 "$TMP/demo" > "$TMP/k1.json" 2>/dev/null || return 1
	ts report --json --samples 6 --seed 2 "$TMP/demo" > "$TMP/k2.json" 2>/dev/null || return 1
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
t = sys.argv[1]
k = [[s["key"] for s in json.load(open("%s/k%d.json" % (t, i)))["contact_sheet"]["samples"]] for i in (1, 2)]
if len(k[0]) != 6 or len(set(k[0])) != 6 or k[0] != sorted(k[0]):
    sys.exit("seed 1: expected 6 distinct keys in record order, got %r" % k[0])
if k[0] == k[1]:
    sys.exit("seeds 1 and 2 chose the same samples %r" % k[0])
PYEOF
}

# captions and paths with markup, entities, quotes and non-ASCII are text on the page
escaping() {
	need_vocab || return 0
	d="$TMP/in <b>&amp;\"q\" 'é'"
	mkdir -p "$d/sub <i>" || return 1
	cp tests/data/sample/photos/heather-flowers.jpg "$d/sub <i>/a&b \"x\".jpg" || return 1
	printf '%s\n' '<script>alert("x")</script> A cat & a "dog" '"'"'sit'"'"' — café ☕ <b>bold</b>' > "$d/sub <i>/a&b \"x\".txt"
	cp tests/data/sample/photos/lake-at-dawn.jpg "$d/plain.jpg" && echo 'A calm lake at dawn.' > "$d/plain.txt"
	o="$TMP/out <script>&\"'ü"
	ts ingest -q --format folder "$d" -o "$o" || return 1
	ts report -q "$o" -o "$TMP/esc.html" || return 1
	"$PY" - "$TMP/esc.html" "$o" "$d/sub <i>/a&b \"x\".txt" <<'PYEOF'
import html.parser, sys
page = open(sys.argv[1], encoding="utf-8").read()
caption = open(sys.argv[3], encoding="utf-8").read().strip()
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = []; self.text = []; self.cls = []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag); self.cls.append(dict(attrs).get("class"))
    def handle_endtag(self, tag):
        if self.cls: self.cls.pop()
    def handle_data(self, d):
        self.text.append(d)
p = P(); p.feed(page)
if "script" in p.tags:
    sys.exit("the page has a <script> element: dataset text reached it as markup")
text = "".join(p.text)
for want in (caption, sys.argv[2], 'sub <i>/a&b "x".jpg'):
    if want not in text:
        sys.exit("the page's text does not hold %r" % want)
if "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" not in page:
    sys.exit("the caption's markup is not escaped as expected")
PYEOF
	# a dataset path that is not UTF-8: U+FFFD on the page and in the JSON
	b="$TMP/$(printf 'not\377utf8')"
	cp -r "$o" "$b" && rm -f "$b/.tessera.lock" || return 1
	ts report -q --json --samples 1 "$b" -o "$TMP/b.html" > "$TMP/b.json" || return 1
	"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1], encoding="utf-8")); assert d["dataset"].endswith("not\ufffdutf8"), d["dataset"]; open(sys.argv[2], encoding="utf-8").read()' "$TMP/b.json" "$TMP/b.html"
}

# reading changes nothing, and works on a read-only mount
readonly_use() {
	demo || return 1
	rm -rf "$TMP/ro" && mkdir "$TMP/ro" && cp -r "$TMP/demo/shards" "$TMP/demo/catalog.sqlite" "$TMP/ro/" || return 1
	(cd "$TMP/ro" && find . -type f | sort | xargs sha256sum) > "$TMP/ro.before"
	ts report -q "$TMP/ro" -o "$TMP/ro.html" 2>/dev/null || return 1
	# a reader may add the shared lock file (shards/out.c) and SQLite's files of a WAL catalog
	(cd "$TMP/ro" && find . -type f ! -name 'catalog.sqlite-shm' ! -name 'catalog.sqlite-wal' ! -name .tessera.lock |
		sort | xargs sha256sum) > "$TMP/ro.after"
	diff "$TMP/ro.before" "$TMP/ro.after" || return 1
	rm -f "$TMP/ro/catalog.sqlite-shm" "$TMP/ro/catalog.sqlite-wal" "$TMP/ro/.tessera.lock"
	if ! unshare -m true 2>/dev/null; then
		echo "SKIPPED read-only mount: unshare -m not permitted here"
		return 0
	fi
	unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && ! touch "$1/x" 2>/dev/null &&
		"$2" report --json --samples 3 "$1" > "$3"' sh "$TMP/ro" "$TESSERA" "$TMP/ro.json" 2>/dev/null || return 1
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["samples"] > 0 and len(d["contact_sheet"]["samples"]) == 3, d["samples"]' "$TMP/ro.json"
}

cli() {
	ts report 2>/dev/null; check $? -eq 2 || return 1
	ts report "$TMP" 2> "$TMP/err"; check $? -eq 2 && has "see 'tessera report --help'" "$TMP/err" || return 1
	ts report --samples x "$TMP" -o x.html 2>/dev/null; check $? -eq 2 || return 1
	ts report "$TMP/nothing-here" -o "$TMP/x.html" 2> "$TMP/err"; check $? -eq 1 || return 1
	has "not a tessera dataset" "$TMP/err" && absent "$TMP/x.html" && absent "$TMP/x.html.tmp" || return 1
	ts help | has '^  report ' || return 1
	"$TESSERA" report --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/help.opts"
	sed 's/\\-/-/g' docs/man/tessera-report.1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$TMP/man.opts"
	diff "$TMP/help.opts" "$TMP/man.opts"
}

# --- in the browser -----------------------------------------------------------------

chrome() {  # chrome OUTFILE ARGS... (a fresh profile, bounded in time)
	out=$1; shift
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
		--disable-extensions --disable-background-networking --disable-sync --disable-component-update \
		--user-data-dir="$TMP/chrome" "$@" > "$out" 2> "$TMP/chrome.err"
}

browser_demo() {
	need_vocab || return 0
	demo || return 1
	ts report -q "$TMP/demo" -o "$TMP/demo.html" || return 1
	ts captions stats --json "$TMP/demo" > "$TMP/ds.json" || return 1
	# one browser run: the DOM on stdout and the screenshot
	chrome "$TMP/demo.dom" --dump-dom --screenshot="$TMP/demo.png" --window-size=1200,2400 "file://$TMP/demo.html" ||
		{ cat "$TMP/chrome.err"; return 1; }
	sqlite3 -separator ' ' "$TMP/demo/catalog.sqlite" "select reason, count(*) from rejects group by reason" > "$TMP/rej.txt"
	sqlite3 "$TMP/demo/catalog.sqlite" "select count(*) from samples" > "$TMP/n.txt"
	"$PY" - "$TMP" <<'PYEOF'
import html.parser, json, sys
t = sys.argv[1]
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.bars = {}; self.limits = {}; self.rows = []; self.imgs = 0; self.cur = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg": self.stack.append(a.get("id"))
        if tag == "rect" and a.get("class") == "bar" and self.stack:
            self.bars.setdefault(self.stack[-1], []).append(int(a["data-count"]))
        if tag == "g" and a.get("class") == "limit" and self.stack:
            self.limits.setdefault(self.stack[-1], []).append(int(a["data-limit"]))
        if tag == "tr" and a.get("class") == "reject": self.cur = []; self.rows.append(self.cur)
        if tag == "td" and self.cur is not None: self.cur.append("")
        if tag == "img" and a.get("src", "").startswith("data:image/jpeg;base64,") and a.get("width"): self.imgs += 1
        if tag == "table" and a.get("id") == "fixes": self.fixes = []
        if tag == "tr" and getattr(self, "fixes", None) is not None and a.get("class") is None: self.fixes.append("")
    def handle_endtag(self, tag):
        if tag == "svg" and self.stack: self.stack.pop()
        if tag == "tr": self.cur = None
        if tag == "table" and getattr(self, "fixes", None) is not None: self.fixtab = self.fixes; self.fixes = None
    def handle_data(self, d):
        if self.cur: self.cur[-1] += d
        if getattr(self, "fixes", None): self.fixes[-1] += d + "|"
p = P(); p.feed(open(t + "/demo.dom", encoding="utf-8").read())
rows = [r.split("|") for r in getattr(p, "fixtab", [])[1:]]
if [r[0] for r in rows][:7] != ["orientation", "cmyk", "alpha", "16bit", "gray", "palette", "animated"]:
    sys.exit("fixes table: expected one row per fix, got %r" % rows)
s = json.load(open(t + "/ds.json"))
want = [b["count"] for b in s["histogram"]["bins"]]
if p.bars.get("hist-tokens") != want:
    sys.exit("histogram bars: expected counts %r (captions stats), got %r" % (want, p.bars.get("hist-tokens")))
if p.limits.get("hist-tokens") != [20, 77, 248]:
    sys.exit("limit markers: expected [20, 77, 248], got %r" % p.limits.get("hist-tokens"))
want = {l.split()[0]: int(l.split()[1]) for l in open(t + "/rej.txt")}
got = {r[0].strip(): int(r[1].replace(",", "")) for r in p.rows}
if got != want:
    sys.exit("rejects table: expected %r (sqlite3), got %r" % (want, got))
n = int(open(t + "/n.txt").read())
if p.imgs != min(48, n):
    sys.exit("contact sheet: expected %d images, got %d" % (min(48, n), p.imgs))
from PIL import Image
im = Image.open(t + "/demo.png")
if im.format != "PNG" or im.size != (1200, 2400):
    sys.exit("screenshot: expected a 1200x2400 PNG, got %s %r" % (im.format, im.size))
colours = im.convert("RGB").getcolors(1 << 20) or []
if len(colours) < 50:
    sys.exit("screenshot looks blank: %d colours" % len(colours))
PYEOF
}

browser_composed() {
	composed || return 1
	ts report -q "$TMP/ct" -o "$TMP/ct.html" || return 1
	chrome "$TMP/ct.dom" --dump-dom "file://$TMP/ct.html" || { cat "$TMP/chrome.err"; return 1; }
	sqlite3 "$TMP/ct/catalog.sqlite" "select count(*) from compositions" > "$TMP/nc.txt"
	"$PY" - "$TMP" <<'PYEOF'
import html.parser, sys
t = sys.argv[1]
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.fig = 0; self.regions = []; self.tags = 0; self.parts = set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure": self.fig += 1
        if tag == "rect" and a.get("class") == "region": self.regions.append(a["data-region"])
        if tag == "li" and self.fig: self.tags += 1
        if tag == "span" and a.get("class") in ("r1", "r2"): self.parts.add(a["class"])
p = P(); p.feed(open(t + "/ct.dom", encoding="utf-8").read())
n = min(48, int(open(t + "/nc.txt").read()))
if p.fig != n or p.regions != ["1", "2"] * n:
    sys.exit("expected %d composites with regions 1 and 2 outlined, got %d figures, regions %r" % (n, p.fig, p.regions))
if p.parts != {"r1", "r2"} or p.tags < n:
    sys.exit("caption parts coloured %r, %d tags listed" % (sorted(p.parts), p.tags))
PYEOF
}

# what decoding fixed, per sample, against what Pillow (and the PNG header)
# says about each source file; the report's counts are the catalog's
fixes() {
	demo || return 1
	"$PY" -c 'import PIL' 2>/dev/null || { echo "SKIPPED: Debian python3-pil not installed"; return 0; }
	ts report --json "$TMP/demo" > "$TMP/fx.json" || return 1
	sqlite3 -separator '	' "$TMP/demo/catalog.sqlite" "select path, source_format, fixes from samples order by record" > "$TMP/fx.tsv"
	"$PY" - "$TMP" <<'PYEOF'
import json, sys
from PIL import Image
t = sys.argv[1]
bad = []
counts = {}
rows = [l.rstrip("\n").split("\t") for l in open(t + "/fx.tsv", encoding="utf-8")]
for path, fmt, fixes in rows:
    im = Image.open(path)
    want = []
    if im.format == "JPEG" and im.getexif().get(274, 1) in range(2, 9):
        want.append("orientation")
    if im.mode == "CMYK":
        want.append("cmyk")
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        want.append("alpha")
    raw = open(path, "rb").read(32)
    if im.format == "PNG" and raw[24] == 16:
        want.append("16bit")
    if im.mode in ("L", "LA", "1", "I", "I;16") and im.format in ("JPEG", "PNG", "WEBP"):
        want.append("gray")
    if im.mode == "P":
        want.append("palette")
    if getattr(im, "n_frames", 1) > 1:
        want.append("animated")
    if fixes != ",".join(want) or fmt != im.format.lower():
        bad.append("%s: expected format %s, fixes %r; catalog says %s, %r" % (path, im.format.lower(), ",".join(want), fmt, fixes))
    for f in want:
        counts[f] = counts.get(f, 0) + 1
if bad:
    sys.exit("\n".join(bad))
if not {"orientation", "cmyk", "alpha", "16bit", "gray", "palette"} <= set(counts):
    sys.exit("the demo sample should exercise every fix but animation, got %r" % counts)
r = json.load(open(t + "/fx.json"))["images"]
got = {x["fix"]: x["count"] for x in r["fixes"]["by_fix"] if x["count"]}
if got != counts or r["fixes"]["recorded"] != len(rows) or r["fixes"]["unchanged"] != sum(1 for x in rows if not x[2]):
    sys.exit("report fixes: expected %r (%d recorded), got %r" % (counts, len(rows), r["fixes"]))
sf = {}
for x in rows:
    sf[x[1]] = sf.get(x[1], 0) + 1
if {x["format"]: x["count"] for x in r["source_formats"]} != sf:
    sys.exit("source formats: expected %r, got %r" % (sf, r["source_formats"]))
PYEOF
}

t json_matches_stats json_matches_stats
t fixes fixes
t split_stats split_stats
t catalog_tokens catalog_tokens
t composed_json composed_json
t merged merged
t seeded seeded
t escaping escaping
t readonly readonly_use
t cli cli
if [ -z "$CHROMIUM" ]; then
	skip browser "chromium not installed"
elif ! /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
	skip browser "Debian python3-pil not installed"
else
	t browser.demo browser_demo
	t browser.composed browser_composed
fi
finish
