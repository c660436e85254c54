/*
 * captions_split.c - `tessera captions split`: a short and a long caption
 * for every sample (captions/sentence.h has the rules), written as members
 * KEY.short.txt and KEY.long.txt next to the sample's others, with the
 * short caption and token counts in the catalog.
 *
 * The dataset is rewritten through the dataset writer (dsw.h), shard for
 * shard with the input's boundaries and record ranges, so keys, shard names
 * and rejects stay where they were.  In place, the new dataset is built in
 * OUTDIR/.split.tmp and then moved in:
 *   1. build .split.tmp/shards/ and .split.tmp/catalog.sqlite (fsync'ed);
 *   2. create .split.tmp/READY (fsync'ed): from here the split is decided;
 *   3. rename each new shard over the old one, then the catalog; rename
 *      READY to INDEX; rewrite the sidecars; remove .split.tmp.
 * A run interrupted before step 2 leaves the dataset untouched (the next
 * split throws .split.tmp away); after it, the next split (or any command,
 * which refuses the half-moved dataset until then) finishes step 3 first.
 * Running split twice gives the same bytes as once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../captions/bpe.h"
#include "../captions/sentence.h"
#include "../shards/dataset.h"
#include "../shards/shards.h"
#include "captions_cmds.h"
#include "cmd.h"
#include "dsw.h"
#include "shards_ops.h"
#include "util.h"

#define TMPDIR_NAME ".split.tmp"

struct split_run {
	struct ts_dataset *ds;
	struct ts_dsw *w;
	struct ts_bpe_ctx *bpe;
	struct ts_sentences *sp;
	enum ts_split_rule rule;
	size_t short_max;
	struct ts_ds_iter *ri;
	const struct ts_ds_reject *r;
	uint64_t samples, rejects, fallbacks, short_tokens, long_tokens;
	struct ts_err e;
};

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static void maybe_crash(const char *point, unsigned *count)
{
	const char *c = getenv("TESSERA_CRASH_AT");
	size_t n = strlen(point);
	if (c && !strncmp(c, point, n) && (c[n] == 0 || c[n] == ':')) {
		unsigned want = c[n] == ':' ? (unsigned)strtoul(c + n + 1, NULL, 10) : 1;
		if (++*count == want) {
			fflush(NULL);
			kill(getpid(), SIGKILL);
		}
	}
}

/* Remove dir and the files in it and in its shards/ (what a split writes). */
static void remove_tmp(const char *dir)
{
	char p[PATH_MAX + 300];
	const char *subs[] = { "shards", "" };
	for (int k = 0; k < 2; k++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[k]);
		DIR *d = opendir(p);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char f[PATH_MAX + 600];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "shards"))
				continue;
			snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
			unlink(f);
		}
		if (d)
			closedir(d);
		if (k == 0)
			rmdir(p);
	}
	rmdir(dir);
}

/* Step 3 of the protocol above; safe to repeat after a crash at any point. */
static int roll_forward(const char *outdir)
{
	char tmp[PATH_MAX], from[PATH_MAX + 300], to[PATH_MAX + 300];
	unsigned moved = 0;
	snprintf(tmp, sizeof(tmp), "%s/" TMPDIR_NAME "/shards", outdir);
	DIR *d = opendir(tmp);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || !((l > 4 && !strcmp(de->d_name + l - 4, ".tar")) ||
					      (l > 7 && !strcmp(de->d_name + l - 7, ".sqlite"))))
			continue;
		snprintf(from, sizeof(from), "%s/%s", tmp, de->d_name);
		snprintf(to, sizeof(to), "%s/shards/%s", outdir, de->d_name);
		if (rename(from, to)) {
			ts_error("cannot move '%s' to '%s': %s", from, to, strerror(errno));
			closedir(d);
			return -1;
		}
		maybe_crash("split-moved", &moved);
	}
	if (d)
		closedir(d);
	snprintf(to, sizeof(to), "%s/shards", outdir);
	fsync_path(to, 1);
	snprintf(from, sizeof(from), "%s/" TMPDIR_NAME "/catalog.sqlite", outdir);
	if (access(from, F_OK) == 0) {
		/* the old catalog was checkpointed and closed: its -wal and -shm are
		 * empty or gone, and must not be applied to the new file */
		snprintf(to, sizeof(to), "%s/catalog.sqlite-wal", outdir);
		unlink(to);
		snprintf(to, sizeof(to), "%s/catalog.sqlite-shm", outdir);
		unlink(to);
		snprintf(to, sizeof(to), "%s/catalog.sqlite", outdir);
		if (rename(from, to)) {
			ts_error("cannot move '%s' to '%s': %s", from, to, strerror(errno));
			return -1;
		}
		fsync_path(outdir, 1);
	}
	/* the dataset is whole again: READY becomes INDEX (readers may open
	 * it), and a crash before the sidecars are rewritten leaves INDEX for
	 * the next split to finish */
	snprintf(from, sizeof(from), "%s/" TMPDIR_NAME "/READY", outdir);
	snprintf(to, sizeof(to), "%s/" TMPDIR_NAME "/INDEX", outdir);
	if (access(from, F_OK) == 0 && rename(from, to)) {
		ts_error("cannot rename '%s': %s", from, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s/" TMPDIR_NAME, outdir);
	fsync_path(tmp, 1);
	if (ts_shards_index(outdir))
		return -1;
	remove_tmp(tmp);
	fsync_path(outdir, 1);
	return 0;
}

static int next_reject(struct split_run *r)
{
	int k = ts_ds_next_reject(r->ri, &r->r, &r->e);
	if (k <= 0)
		r->r = NULL;
	return k < 0 ? -1 : 0;
}

/* Copy the rejects with record < end. */
static int rejects_before(struct split_run *r, uint64_t end)
{
	while (r->r && r->r->record < end) {
		if (ts_dsw_reject(r->w, r->r->record, r->r->source, r->r->stage, r->r->reason,
				  r->r->message, &r->e) || next_reject(r))
			return -1;
		r->rejects++;
	}
	return 0;
}

static int is_split_member(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot && (!strcmp(dot, ".short.txt") || !strcmp(dot, ".long.txt"));
}

static int split_sample(struct split_run *r, const struct ts_ds_sample *s)
{
	struct ts_dsw_member m[TS_DSW_MAX_MEMBERS];
	uint8_t *data[TS_DSW_MAX_MEMBERS] = { 0 };
	char path[PATH_MAX + 64];
	struct ts_split sp;
	size_t nm = 0;
	int rc;

	if (rejects_before(r, s->record))
		return -1;
	if ((rc = ts_caption_split(r->sp, r->bpe, r->rule, r->short_max, s->caption ? s->caption : "",
				   s->caption ? strlen(s->caption) : 0, &sp, &r->e)))
		return rc;
	ts_dataset_shard_path(r->ds, s->shard_name, path, sizeof(path));
	for (size_t i = 0; i < s->nmembers && !rc; i++) {
		if (is_split_member(s->members[i].name))
			continue;
		if (nm + 2 >= TS_DSW_MAX_MEMBERS) {
			rc = ts_err_set(&r->e, TS_ERR_INVALID, TS_R_NONE, "sample %s has too many members (%zu)",
					s->key, s->nmembers);
			break;
		}
		const char *dot = strchr(s->members[i].name, '.');
		m[nm].ext = dot ? dot + 1 : "";
		rc = ts_shard_read_member(path, s->members[i].name, s->members[i].offset,
					  s->members[i].size, &data[nm], &m[nm].len, &r->e);
		m[nm].data = data[nm];
		nm++;
	}
	if (!rc) {
		m[nm++] = (struct ts_dsw_member){ "short.txt", sp.short_text, strlen(sp.short_text) };
		m[nm++] = (struct ts_dsw_member){ "long.txt", sp.long_text, strlen(sp.long_text) };
		struct ts_dsw_sample ds = {
			.record = s->record, .members = m, .nmembers = nm,
			.width = s->width, .height = s->height,
			.orig_width = s->orig_width, .orig_height = s->orig_height,
			.format = s->format, .content_hash = s->content_hash,
			.image_hash = s->image_hash, .source = s->source,
			.caption = s->caption, .captions_json = s->captions_json,
			.text = {
				.tokens = (long long)sp.long_tokens,
				.short_caption = sp.short_text,
				.short_tokens = (long long)sp.short_tokens,
				.split_rule = r->rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence",
				.split_fallback = sp.fallback,
			},
		};
		rc = ts_dsw_sample(r->w, &ds, &r->e);
		r->samples++;
		r->fallbacks += sp.fallback != NULL;
		r->short_tokens += sp.short_tokens;
		r->long_tokens += sp.long_tokens;
	}
	for (size_t i = 0; i < nm; i++)
		if (i < TS_DSW_MAX_MEMBERS)
			free(data[i]);
	ts_split_free(&sp);
	return rc ? -1 : 0;
}

struct shard_list {
	unsigned *idx;
	uint64_t *end;
	size_t n;
};

static int collect_shard(const struct ts_ds_shard *s, void *user)
{
	struct shard_list *l = user;
	unsigned *a = realloc(l->idx, (l->n + 1) * sizeof(*a));
	if (a)
		l->idx = a;
	uint64_t *b = a ? realloc(l->end, (l->n + 1) * sizeof(*b)) : NULL;
	if (!b)
		return -1;
	l->end = b;
	l->idx[l->n] = s->idx;
	l->end[l->n++] = s->end_record;
	return 0;
}

static int lock_dir(const char *dir)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/.tessera.lock", dir);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		ts_error("'%s' is in use by another tessera process (or cannot be locked: %s)", dir,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int captions_split(int argc, char **argv)
{
	enum { O_RULE = 256, O_SHORT_MAX, O_VOCAB, O_JSON };
	static const struct option opts[] = {
		{ "rule", required_argument, NULL, O_RULE },
		{ "short-max", required_argument, NULL, O_SHORT_MAX },
		{ "output", required_argument, NULL, 'o' },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct split_run r = { .rule = TS_SPLIT_SENTENCE, .short_max = 77, .e = TS_ERR_INIT };
	struct shard_list sl = { 0 };
	struct ts_bpe *bpe = NULL;
	struct ts_catalog *cat = NULL;
	const char *vocab = NULL, *out = NULL, *indir;
	char work[PATH_MAX], path[PATH_MAX + 64], path2[PATH_MAX + 64], *opts_meta = NULL;
	int json = 0, c, rc = TS_EXIT_FAIL, lock_in = -1, lock_out = -1, store = TS_STORE_TAR;
	int64_t run_id = 0;
	long v;
	double t0 = ts_now();
	struct stat st;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_RULE:
			if (!strcmp(optarg, "sentence")) {
				r.rule = TS_SPLIT_SENTENCE;
			} else if (!strcmp(optarg, "longclip")) {
				r.rule = TS_SPLIT_LONGCLIP;
			} else {
				ts_error("invalid value '%s' for --rule: expected sentence or longclip", optarg);
				return TS_EXIT_USAGE;
			}
			break;
		case O_SHORT_MAX:
			if (ts_parse_int(optarg, 3, 1 << 20, &v)) {
				ts_error("invalid value '%s' for --short-max: expected 3 or more", optarg);
				return TS_EXIT_USAGE;
			}
			r.short_max = (size_t)v;
			break;
		case 'o': out = optarg; break;
		case O_VOCAB: vocab = optarg; break;
		case O_JSON: json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_captions(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera captions --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ts_error("captions split takes one OUTDIR (a tessera dataset)");
		return TS_EXIT_USAGE;
	}
	indir = argv[optind];
	snprintf(path, sizeof(path), "%s/catalog.sqlite", indir);
	if (stat(path, &st)) {
		ts_error("'%s' is not a tessera dataset (no catalog.sqlite)", indir);
		return TS_EXIT_FAIL;
	}
	if ((lock_in = lock_dir(indir)) < 0)
		return TS_EXIT_FAIL;
	snprintf(work, sizeof(work), "%s/" TMPDIR_NAME, indir);
	snprintf(path, sizeof(path), "%s/READY", work);
	snprintf(path2, sizeof(path2), "%s/INDEX", work);
	if (access(path, F_OK) == 0 || access(path2, F_OK) == 0) {
		ts_info("finishing an interrupted split of '%s'", indir);
		if (roll_forward(indir))
			goto done;
	} else if (access(work, F_OK) == 0) {
		remove_tmp(work);     /* an interrupted split that had not decided */
	}
	/* checkpoint the catalog (and upgrade an old schema) before reading it */
	snprintf(path, sizeof(path), "%s/catalog.sqlite", indir);
	if (ts_catalog_open(&cat, path, &r.e) ||
	    ts_catalog_meta_get(cat, "ingest_options", &opts_meta, &r.e)) {
		ts_error("%s", r.e.msg);
		goto done;
	}
	ts_catalog_close(cat);
	cat = NULL;
	if (opts_meta) {
		json_t *j = json_loads(opts_meta, 0, NULL);
		const char *sto = json_string_value(json_object_get(j, "store"));
		store = sto && !strcmp(sto, "sqlite") ? TS_STORE_SQLITE : TS_STORE_TAR;
		json_decref(j);
	}
	if (out) {
		snprintf(path, sizeof(path), "%s/catalog.sqlite", out);
		if (stat(path, &st) == 0) {
			ts_error("'%s' already holds a dataset; split into a new directory", out);
			goto done;
		}
		if (ts_mkdirs(out, 0755) || (lock_out = lock_dir(out)) < 0) {
			if (lock_out < 0 && errno)
				ts_error("cannot create '%s': %s", out, strerror(errno));
			goto done;
		}
		snprintf(work, sizeof(work), "%s", out);
	}
	if (ts_dataset_open(&r.ds, indir, &r.e) || ts_bpe_load(&bpe, vocab, &r.e) ||
	    ts_sentences_new(&r.sp, &r.e) || !(r.bpe = ts_bpe_ctx_new(bpe))) {
		ts_error("%s", r.e.msg[0] ? r.e.msg : "out of memory");
		goto done;
	}
	if (ts_dataset_foreach_shard(r.ds, collect_shard, &sl, &r.e)) {
		ts_error("%s", r.e.msg[0] ? r.e.msg : "out of memory");
		goto done;
	}
	snprintf(path, sizeof(path), "%s/shards", work);
	if (ts_mkdirs(path, 0755)) {
		ts_error("cannot create '%s': %s", path, strerror(errno));
		goto done;
	}
	char split_meta[128];
	snprintf(split_meta, sizeof(split_meta), "{\"rule\":\"%s\",\"short_max\":%zu}",
		 r.rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence", r.short_max);
	snprintf(path, sizeof(path), "%s/catalog.sqlite", work);
	if (ts_catalog_open(&cat, path, &r.e) ||
	    (opts_meta && ts_catalog_meta_set(cat, "ingest_options", opts_meta, &r.e)) ||
	    ts_catalog_meta_set(cat, "split", split_meta, &r.e) ||
	    ts_catalog_run_begin(cat, "tessera captions split", TS_VERSION, split_meta, &run_id, &r.e)) {
		ts_error("%s", r.e.msg);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/shards", work);
	struct ts_dsw_opts dopts = { .shards_dir = path, .cat = cat, .shard_samples = UINT64_MAX,
				     .shard_bytes = UINT64_MAX, .store = store };
	if (ts_dsw_new(&r.w, &dopts, &r.e) || ts_ds_iter_rejects(r.ds, &r.ri, &r.e) || next_reject(&r))
		goto fail;
	uint64_t end = 0;
	for (size_t k = 0; k < sl.n; k++) {
		struct ts_ds_iter *si = NULL;
		const struct ts_ds_sample *s;
		int n;
		if (ts_ds_iter_samples(r.ds, (long)sl.idx[k], &si, &r.e))
			goto fail;
		while ((n = ts_ds_next_sample(si, &s, &r.e)) == 1)
			if (split_sample(&r, s))
				break;
		ts_ds_iter_free(si);
		if (n != 0 || rejects_before(&r, sl.end[k]) || ts_dsw_finish(r.w, sl.end[k], &r.e))
			goto fail;
		end = sl.end[k];
		if (ts_verbosity >= 1 && isatty(2))
			fprintf(stderr, "\rsplit: %zu/%zu shards, %" PRIu64 " samples", k + 1, sl.n, r.samples);
	}
	if (ts_verbosity >= 1 && isatty(2) && sl.n)
		fputc('\n', stderr);
	if (rejects_before(&r, UINT64_MAX) || ts_dsw_finish(r.w, end, &r.e))
		goto fail;
	char summary[256];
	snprintf(summary, sizeof(summary),
		 "{\"samples\":%" PRIu64 ",\"rejects\":%" PRIu64 ",\"fallbacks\":%" PRIu64 ",\"seconds\":%.3f}",
		 r.samples, r.rejects, r.fallbacks, ts_now() - t0);
	ts_catalog_run_end(cat, run_id, "ok", summary, &r.e);
	ts_dsw_free(r.w);
	r.w = NULL;
	ts_catalog_close(cat);
	cat = NULL;
	ts_ds_iter_free(r.ri);
	r.ri = NULL;
	ts_dataset_close(r.ds);
	r.ds = NULL;
	if (out) {
		if (ts_shards_index(out))
			goto done;
	} else {
		snprintf(path, sizeof(path), "%s/catalog.sqlite", work);
		fsync_path(path, 0);
		snprintf(path, sizeof(path), "%s/READY", work);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || fsync(fd)) {
			ts_error("cannot create '%s': %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto done;
		}
		close(fd);
		fsync_path(work, 1);
		unsigned never = 0;
		maybe_crash("split-ready", &never);
		if (roll_forward(indir))
			goto done;
	}
	double secs = ts_now() - t0;
	if (json)
		printf("{\"command\": \"captions split\", \"outdir\": \"%s\", \"rule\": \"%s\", \"short_max\": %zu, "
		       "\"samples\": %" PRIu64 ", \"rejects\": %" PRIu64 ", \"fallbacks\": %" PRIu64
		       ", \"short_tokens_mean\": %.2f, \"long_tokens_mean\": %.2f, \"seconds\": %.3f}\n",
		       out ? out : indir, r.rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence", r.short_max,
		       r.samples, r.rejects, r.fallbacks,
		       r.samples ? (double)r.short_tokens / (double)r.samples : 0.0,
		       r.samples ? (double)r.long_tokens / (double)r.samples : 0.0, secs);
	else if (ts_verbosity >= 1)
		fprintf(stderr, "split done: %" PRIu64 " samples (%" PRIu64 " with a fallback), mean tokens short %.1f, long %.1f, %.1f s\n",
			r.samples, r.fallbacks, r.samples ? (double)r.short_tokens / (double)r.samples : 0.0,
			r.samples ? (double)r.long_tokens / (double)r.samples : 0.0, secs);
	rc = TS_EXIT_OK;
	goto done;
fail:
	ts_error("%s", r.e.msg[0] ? r.e.msg : "split failed");
	ts_dsw_discard(r.w);
	if (cat)
		ts_catalog_run_end(cat, run_id, "failed", "{}", &r.e);
done:
	ts_dsw_free(r.w);
	ts_ds_iter_free(r.ri);
	ts_catalog_close(cat);
	ts_dataset_close(r.ds);
	ts_sentences_free(r.sp);
	ts_bpe_ctx_free(r.bpe);
	ts_bpe_free(bpe);
	free(sl.idx);
	free(sl.end);
	free(opts_meta);
	if (lock_out >= 0)
		close(lock_out);
	if (lock_in >= 0)
		close(lock_in);
	return rc;
}
