# reject_doc.awk - docs/formats.md's reject-reason table as a C table
# ({ "code", "when" }, ...) for `tessera report`, generated at build time
# so the report's meanings are the documented ones, word for word.
/^## Reject reasons/ { on = 1; next }
on && /^## / { on = 0 }
on && /^\| `/ {
	line = $0
	sub(/^\| `/, "", line)
	code = line; sub(/`.*/, "", code)
	when = line; sub(/^[^|]*\| */, "", when); sub(/ *\|$/, "", when)
	# Markdown links keep their text: "see [Decoder limits](#decoder-limits)"
	while (match(when, /\[[^]]*\]\([^)]*\)/)) {
		link = substr(when, RSTART, RLENGTH)
		sub(/\]\(.*/, "", link)
		when = substr(when, 1, RSTART - 1) substr(link, 2) substr(when, RSTART + RLENGTH)
	}
	gsub(/\\/, "\\\\", when); gsub(/"/, "\\\"", when)
	printf "\t{ \"%s\", \"%s\" },\n", code, when
}
