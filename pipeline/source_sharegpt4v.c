/* source_sharegpt4v.c - placeholder until the reader lands. */
#include "source_impl.h"

static int x_open(struct ts_source *src, struct ts_err *err)
{
	return ts_err_set(err, TS_ERR_UNSUPPORTED, TS_R_NONE, "'%s': sharegpt4v input is not implemented yet", src->input);
}

static int x_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	return 0;
}

static void x_close(struct ts_source *src)
{
}

const struct ts_source_ops ts_source_sharegpt4v_ops = { x_open, x_next, x_close };
