/*
 * jpeg_err.h - the libjpeg error manager of the bench's floor programs
 * (decode_floor.c, compose_floor.c): an error longjmps to the caller's
 * jmp_buf, warnings are dropped.  Include after <setjmp.h> and <jpeglib.h>.
 */
#ifndef BENCH_JPEG_ERR_H
#define BENCH_JPEG_ERR_H

struct err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
};

static void on_error(j_common_ptr ci)
{
	longjmp(((struct err *)ci->err)->jb, 1);
}

static void on_message(j_common_ptr ci, int level)
{
	(void)ci;
	(void)level;
}

#endif
