/*
 * ts_io.h - the write-side system calls of the storage layer, with fault
 * injection for the tests (like SQLite's test VFS; docs/testing.md).
 *
 * TESSERA_FAULT=KIND:N:ERRNO[,KIND:N:ERRNO...] makes the N-th call (counted
 * from 1 across the process) of KIND fail with ERRNO, once:
 *   KIND   write (tar shards, sidecars, the catalog's writes through SQLite),
 *          fsync (files, directories and the catalog's syncs), rename,
 *          open (files created for writing), read (a shard file read back
 *          whole to hash it: `shards index`, `shards verify`, an SQLite
 *          shard when it closes; a run's end reads none)
 *   ERRNO  ENOSPC, EIO, EDQUOT, EROFS, EACCES
 * TESSERA_FAULT=count prints, at exit, how many calls of each kind the
 * process made ("tessera: io calls: write=N fsync=N rename=N open=N read=N"), so a
 * test knows which N to try.  Compiled in always; without the variable the
 * wrappers cost one branch.
 */
#ifndef TS_IO_H
#define TS_IO_H

#include <stddef.h>
#include <sys/types.h>

enum ts_io_kind { TS_IO_WRITE, TS_IO_FSYNC, TS_IO_RENAME, TS_IO_OPEN, TS_IO_READ, TS_IO__COUNT };

/* 0 to go on, or an errno value the caller must fail with (the call is
 * then not made).  Counts the call. */
int ts_io_fault(enum ts_io_kind kind);

ssize_t ts_io_write(int fd, const void *buf, size_t n);
int ts_io_fsync(int fd);
int ts_io_rename(const char *from, const char *to);
/* open(2) for files created for writing (O_CREAT in flags). */
int ts_io_open(const char *path, int flags, int mode);

#endif
