/*
 * cmd_parquet.c - `tessera parquet head|schema`: look inside a parquet
 * metadata file (LAION, DataComp, COYO, img2dataset) without Python.
 * head prints the first rows (a tab-separated table, or one JSON object per
 * row with --json, nulls as JSON null); schema prints the columns, their
 * types, nullability and codec.  Columns the reader cannot read (structs,
 * maps, INT96, DECIMAL) are listed by schema with the reason and left out
 * of head with a notice.  Usage errors exit 2; a damaged file exits 1.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shards/parquet.h"
#include "pipeline/cmd.h"
#include "pipeline/commands/opt.h"
#include "pipeline/util.h"

void usage_parquet(FILE *f)
{
	fputs(
"usage: tessera parquet head [options] FILE\n"
"       tessera parquet schema FILE\n"
"\n"
"Show what a parquet file holds (the URL/caption lists of LAION, DataComp,\n"
"COYO and img2dataset).  head prints the first rows: a header line of\n"
"column names, then one line per row with tab-separated values (tabs,\n"
"newlines and backslashes escaped as \\t, \\n, \\\\; a null is empty; a list\n"
"column is its JSON array).  schema prints the row count, the row groups,\n"
"the writer, and one line per column: name, type, required or optional,\n"
"codec, and why the column cannot be read when it cannot.\n"
"\n"
"Options:\n"
"  -n, --rows N     rows to print (default: 10; 0 for all)\n"
"  -c, --columns A,B  print only these columns, in this order (only they\n"
"                   are read)\n"
"      --json       one JSON object per row (null for a null value)\n"
"  -h, --help       this help\n"
"\n"
"Exit status: 0 done, 1 a file that is missing, not parquet or damaged\n"
"(the message names the column and what is wrong), 2 a usage error.\n"
"See tessera-parquet(1) and docs/inputs.md.\n", f);
}

static int usage_err(const char *msg)
{
	ts_error("%s", msg);
	fputs("see 'tessera parquet --help'\n", stderr);
	return TS_EXIT_USAGE;
}

static void print_escaped(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '\t')
			fputs("\\t", stdout);
		else if (ch == '\n')
			fputs("\\n", stdout);
		else if (ch == '\r')
			fputs("\\r", stdout);
		else if (ch == '\\')
			fputs("\\\\", stdout);
		else
			putchar(ch);
	}
}

static int schema(const char *path)
{
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	if (ts_pq_open(&pq, path, NULL, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	printf("file: %s\nrows: %lld\nrow groups: %zu\ncreated by: %s\ncolumns: %zu\n", path,
	       (long long)ts_pq_num_rows(pq), ts_pq_num_groups(pq), ts_pq_created_by(pq),
	       ts_pq_nfields(pq));
	size_t w = 4;
	for (size_t i = 0; i < ts_pq_nfields(pq); i++) {
		size_t l = strlen(ts_pq_field_at(pq, i)->name);
		if (l > w)
			w = l;
	}
	for (size_t i = 0; i < ts_pq_nfields(pq); i++) {
		const struct ts_pq_field *f = ts_pq_field_at(pq, i);
		printf("  %-*s  %-12s  %-8s  %s", (int)w, f->name, f->type_desc,
		       f->optional ? "optional" : "required", ts_pq_codec_name(pq, i));
		if (f->unsupported)
			printf("  (not readable: %s)", f->unsupported);
		putchar('\n');
	}
	ts_pq_close(pq);
	return TS_EXIT_OK;
}

static int head(const char *path, uint64_t nrows, int json, const char *columns)
{
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	int *sel = NULL, rc = TS_EXIT_FAIL;
	size_t nsel = 0;

	if (ts_pq_open(&pq, path, NULL, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	size_t nf = ts_pq_nfields(pq);
	if (!(sel = calloc(nf ? nf : 1, sizeof(*sel))))
		goto out;
	for (const char *p = columns; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		char name[256];
		int i;
		if (l >= sizeof(name) || (memcpy(name, p, l), name[l] = '\0', (i = ts_pq_find(pq, name)) < 0)) {
			ts_error("no column '%.*s' in '%s'", (int)l, p, path);
			goto out;
		}
		if (nsel == nf) {
			ts_error("more columns given than '%s' has", path);
			goto out;
		}
		sel[nsel++] = i;
		p += l + (comma ? 1 : 0);
	}
	for (size_t i = 0; !columns && i < nf; i++) {
		const struct ts_pq_field *f = ts_pq_field_at(pq, i);
		if (f->unsupported)
			ts_warning("'%s': column '%s' left out: %s are not supported", path, f->name,
				   f->unsupported);
		else
			sel[nsel++] = (int)i;
	}
	if (ts_pq_select(pq, sel, nsel, &e))
		goto fail;
	if (!json) {
		for (size_t k = 0; k < nsel; k++) {
			if (k)
				putchar('\t');
			const char *n = ts_pq_field_at(pq, (size_t)sel[k])->name;
			print_escaped(n, strlen(n));
		}
		putchar('\n');
	}
	uint64_t done = 0;
	size_t n;
	int r;
	while ((nrows == 0 || done < nrows) && (r = ts_pq_next_group(pq, &n, &e)) == 1) {
		for (size_t row = 0; row < n && (nrows == 0 || done < nrows); row++, done++) {
			if (json) {
				json_t *o = json_object();
				if (!o)
					goto nomem;
				for (size_t k = 0; k < nsel; k++) {
					json_t *v = ts_pq_get_json(pq, k, row, &e);
					if (!v || json_object_set_new(o, ts_pq_field_at(pq, (size_t)sel[k])->name, v)) {
						json_decref(o);
						goto nomem;
					}
				}
				char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
				json_decref(o);
				if (!s)
					goto nomem;
				puts(s);
				free(s);
				continue;
			}
			for (size_t k = 0; k < nsel; k++) {
				struct ts_pq_value v;
				if (k)
					putchar('\t');
				ts_pq_get(pq, k, row, &v);
				const struct ts_pq_field *f = ts_pq_field_at(pq, (size_t)sel[k]);
				if (v.kind == TS_PQV_REAL && !f->nested && isfinite(v.d)) {
					/* the shortest form that reads back as the same double */
					char num[32];
					for (int p = 1; p <= 17; p++) {
						snprintf(num, sizeof(num), "%.*g", p, v.d);
						if (strtod(num, NULL) == v.d)
							break;
					}
					fputs(num, stdout);
				} else if (f->nested || v.kind == TS_PQV_REAL ||
				    (v.kind == TS_PQV_BYTES && !f->is_string)) {
					json_t *j = ts_pq_get_json(pq, k, row, &e);
					char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
					json_decref(j);
					if (!s)
						goto nomem;
					print_escaped(s, strlen(s));
					free(s);
				} else if (v.kind == TS_PQV_BYTES) {
					print_escaped((const char *)v.s, v.len);
				} else if (v.kind == TS_PQV_INT) {
					printf("%lld", (long long)v.i);
				} else if (v.kind == TS_PQV_BOOL) {
					fputs(v.i ? "true" : "false", stdout);
				}
			}
			putchar('\n');
		}
	}
	if (e.status)
		goto fail;
	rc = TS_EXIT_OK;
	goto out;
nomem:
	ts_error("out of memory reading '%s'", path);
	goto out;
fail:
	ts_error("%s", e.msg);
out:
	fflush(stdout);
	free(sel);
	ts_pq_close(pq);
	return rc;
}

static const struct option long_opts[] = {
	{ "rows", required_argument, NULL, 'n' },
	{ "json", no_argument, NULL, 'J' },
	{ "columns", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_parquet(int argc, char **argv)
{
	int c, json = 0, rows_given = 0;
	const char *columns = NULL;
	uint64_t rows = 10;

	static const char *const subs[] = { "head", "schema", NULL };
	int prc;
	if (ts_subcmd_pick("parquet", subs, usage_parquet, argc, argv, &prc) < 0)
		return prc;
	const char *sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:c:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (ts_parse_u64(optarg, 0, &rows)) {
				ts_error("invalid value '%s' for --rows: expected a number", optarg);
				fputs("see 'tessera parquet --help'\n", stderr);
				return TS_EXIT_USAGE;
			}
			rows_given = 1;
			break;
		case 'J': json = 1; break;
		case 'c': columns = optarg; break;
		case 'h': usage_parquet(stdout); return TS_EXIT_OK;
		default:
			fputs("see 'tessera parquet --help'\n", stderr);
			return TS_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return usage_err(optind >= argc ? "no FILE given" : "more than one FILE given");
	if (!strcmp(sub, "schema")) {
		if (json || rows_given || columns)
			return usage_err("schema takes no options");
		return schema(argv[optind]);
	}
	return head(argv[optind], rows, json, columns);
}
