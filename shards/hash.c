/*
 * hash.c - content hashes: XXH3-128 (seed 0) as 32 lower-case hex digits.
 *
 * The hex form is the canonical (big-endian) representation, high 64 bits
 * first, which is what `xxhsum -H2` prints, so a hash in the catalog can be
 * checked with stock tools.  One-shot and streaming give the same digits.
 * MD5 (libmd) only for the wids shard index, which names its field md5sum.
 */
#include "shards/shards.h"

#include "base/ts_io.h"

#include <errno.h>
#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct ts_hasher {
	XXH3_state_t *st;
};

static void hex128(XXH128_hash_t h, char *out)
{
	static const char digits[] = "0123456789abcdef";
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	for (size_t i = 0; i < sizeof(c.digest); i++) {
		out[2 * i] = digits[c.digest[i] >> 4];
		out[2 * i + 1] = digits[c.digest[i] & 15];
	}
	out[TS_HASH_HEX_LEN] = '\0';
}

void ts_hash_hex(const void *data, size_t len, char *out)
{
	hex128(XXH3_128bits(len ? data : "", len), out);
}

struct ts_hasher *ts_hasher_new(void)
{
	struct ts_hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->st = XXH3_createState();
	if (!h->st || XXH3_128bits_reset(h->st) != XXH_OK) {
		ts_hasher_free(h);
		return NULL;
	}
	return h;
}

void ts_hasher_update(struct ts_hasher *h, const void *data, size_t len)
{
	if (len)
		XXH3_128bits_update(h->st, data, len);
}

void ts_hasher_hex(struct ts_hasher *h, char *out)
{
	hex128(XXH3_128bits_digest(h->st), out);
}

void ts_hasher_free(struct ts_hasher *h)
{
	if (!h)
		return;
	XXH3_freeState(h->st);
	free(h);
}

int ts_file_hash_hex(const char *path, char *xxh3_hex, char *md5_hex, struct ts_err *err)
{
	FILE *f = fopen(path, "rb");
	struct ts_hasher *h = NULL;
	MD5_CTX md5;
	uint8_t buf[1 << 16], dig[MD5_DIGEST_LENGTH];
	size_t n;
	int fe = ts_io_fault(TS_IO_READ);   /* counted: the tests check a run reads none back */

	if (fe) {
		if (f)
			fclose(f);
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s", path, strerror(fe));
	}
	if (!f)
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", path,
				  strerror(errno));
	if (xxh3_hex && !(h = ts_hasher_new())) {
		fclose(f);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	MD5Init(&md5);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (h)
			ts_hasher_update(h, buf, n);
		if (md5_hex)
			MD5Update(&md5, buf, n);
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		ts_hasher_free(h);
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s'", path);
	}
	if (h)
		ts_hasher_hex(h, xxh3_hex);
	ts_hasher_free(h);
	if (md5_hex) {
		MD5Final(dig, &md5);
		for (int i = 0; i < MD5_DIGEST_LENGTH; i++)
			snprintf(md5_hex + 2 * i, 3, "%02x", dig[i]);
	}
	return TS_OK;
}
