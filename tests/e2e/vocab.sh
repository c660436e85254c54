#!/bin/sh
# e2e: the CLIP vocabulary ships with tessera (data/), is installed by
# `make install` and is found from any working directory: next to the
# binary's install prefix, else in the source tree the binary was built
# from; $TESSERA_VOCAB and --vocab override it, and a wrong override is an
# error, never a silent fallback.
SUITE=vocab
. tests/e2e/lib.sh
TOP=$(pwd)
BIN=$(cd "$(dirname "$TESSERA")" && pwd)/$(basename "$TESSERA")
VOCAB=data/bpe_simple_vocab_16e6.txt.gz
CAP='A cat sleeps on a couch.'
# the ids of $CAP as OpenAI's tokenizer gives them
WANT='[49406, 320, 2368, 16610, 525, 320, 12724, 269, 49407]'

shipped() {
	[ -f "$VOCAB" ] && [ -f data/LICENSE ] || { echo "data/ lacks the vocabulary or its licence"; return 1; }
	grep -q 'Copyright (c) 2021 OpenAI' data/LICENSE || { echo "data/LICENSE lacks OpenAI's notice"; return 1; }
	sum=$(sha256sum "$VOCAB" | cut -d' ' -f1)
	[ "$sum" = 924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a ] ||
		{ echo "data/ vocabulary sha256 $sum, not CLIP's"; return 1; }
}

# two photos with captions, for ingest's token counts
mkdir -p "$TMP/photos" && for f in $(ls tests/data/sample/photos/*.jpg | head -2); do
	cp "$f" "${f%.jpg}.txt" "$TMP/photos/"
done

# one binary from another directory: tokenize, tags extract (when TAGS is
# set), ingest token counts
other_dir() {  # BIN DIR
	b=$1; d=$2
	got=$(cd "$d" && printf '%s\n' "$CAP" | env -u TESSERA_VOCAB "$b" captions tokenize) ||
		{ echo "captions tokenize failed in $d"; return 1; }
	[ "$got" = "$WANT" ] || { echo "tokenize in $d: got $got, want $WANT"; return 1; }
	if [ -n "$TAGS" ]; then
		got=$(cd "$d" && printf '%s\n' "$CAP" | env -u TESSERA_VOCAB "$b" tags extract) ||
			{ echo "tags extract failed in $d"; return 1; }
		echo "$got" | grep -q '"lemma":"couch"' || { echo "tags extract in $d: $got"; return 1; }
	fi
	rm -rf "$TMP/ds" "$TMP/ing.err"
	(cd "$d" && env -u TESSERA_VOCAB "$b" ingest -q --size 32 "$TMP/photos" -o "$TMP/ds") 2> "$TMP/ing.err" ||
		{ cat "$TMP/ing.err"; return 1; }
	n=$(sqlite3 "$TMP/ds/catalog.sqlite" "select count(*) from samples where tokens is null")
	m=$(sqlite3 "$TMP/ds/catalog.sqlite" "select count(*) from samples")
	[ "$m" -gt 0 ] && [ "$n" = 0 ] || { echo "ingest in $d: $n of $m samples without token counts"; return 1; }
}

from_tmp() {
	mkdir -p "$TMP/elsewhere" && TAGS=1 other_dir "$BIN" "$TMP/elsewhere"
}

# make install into a staging directory: the staged binary finds its own
# copy (../share/tessera next to it), proved by spoiling that copy
installed() {
	root=$TMP/root
	make --no-print-directory -s -o tessera install DESTDIR="$root" PREFIX=/opt/ts \
		BUILD="$(dirname "$BIN")" > "$TMP/inst.log" 2>&1 || { cat "$TMP/inst.log"; return 1; }
	sb=$root/opt/ts/bin/tessera
	[ -f "$root/opt/ts/share/tessera/bpe_simple_vocab_16e6.txt.gz" ] &&
		[ -f "$root/opt/ts/share/tessera/LICENSE" ] || { echo "vocabulary or licence not installed"; return 1; }
	other_dir "$sb" "$TMP" || return 1
	cp "$root/opt/ts/share/tessera/bpe_simple_vocab_16e6.txt.gz" "$TMP/keep.gz"
	echo spoiled | gzip > "$root/opt/ts/share/tessera/bpe_simple_vocab_16e6.txt.gz"
	(cd "$TMP" && echo x | env -u TESSERA_VOCAB "$sb" captions tokenize) > /dev/null 2> "$TMP/err" &&
		{ echo "a spoiled installed vocabulary was not used"; return 1; }
	grep -q "$root/opt/ts/bin/../share/tessera/bpe_simple_vocab_16e6.txt.gz" "$TMP/err" ||
		{ echo "the error does not name the installed copy:"; cat "$TMP/err"; return 1; }
	cp "$TMP/keep.gz" "$root/opt/ts/share/tessera/bpe_simple_vocab_16e6.txt.gz"
	# the binary alone, copied to a prefix without share/: the source tree's copy
	mkdir -p "$TMP/bare/bin" && cp "$BIN" "$TMP/bare/bin/tessera" && other_dir "$TMP/bare/bin/tessera" "$TMP"
}

overrides() {
	got=$(cd "$TMP" && echo "$CAP" | TESSERA_VOCAB="$TOP/$VOCAB" "$BIN" captions tokenize) && [ "$got" = "$WANT" ] ||
		{ echo "TESSERA_VOCAB: $got"; return 1; }
	(cd "$TMP" && echo x | TESSERA_VOCAB=/nonexistent/v.gz "$BIN" captions tokenize) > /dev/null 2> "$TMP/err"
	[ $? -eq 1 ] && grep -q "cannot open the CLIP vocabulary '/nonexistent/v.gz'" "$TMP/err" ||
		{ echo "a missing TESSERA_VOCAB:"; cat "$TMP/err"; return 1; }
	(cd "$TMP" && "$BIN" ingest -q --vocab /nonexistent/v.gz "$TMP/photos" -o "$TMP/dv") 2> "$TMP/err"
	[ $? -eq 1 ] && grep -q "cannot open the CLIP vocabulary" "$TMP/err" ||
		{ echo "ingest --vocab missing:"; cat "$TMP/err"; return 1; }
}

t shipped shipped
t from_other_directory from_tmp
if command -v make > /dev/null; then
	t installed_prefix installed
else
	skip installed_prefix "make not found"
fi
t overrides overrides
finish
