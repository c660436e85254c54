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
	gsub(/\\/, "\\\\", when); gsub(/"/, "\\\"", when)
	printf "\t{ \"%s\", \"%s\" },\n", code, when
}
