/*
 * core/err.h — error reporting convention shared by every module.
 *
 * Functions that can fail return int: 0 on success, a negative errno-style
 * code on failure (-EINVAL bad input, -EIO I/O or format error, -ENOMEM,
 * -ENOENT missing file/dataset, -ERANGE out-of-range value ...).  When there is
 * context to give, the caller passes `char *err, size_t errlen` and the callee
 * writes one human-readable sentence there (naming the file, dataset, group).
 * err may be NULL.  err_set() formats the message and returns `code`, so a
 * failure path reads `return err_set(err, errlen, -EIO, "%s: ...", path);`.
 */
#ifndef CONTIMG_ERR_H
#define CONTIMG_ERR_H

#include <errno.h>
#include <stddef.h>

#define ERR_LEN 1024 /* a comfortable size for caller-owned error buffers */

/* Format a message into err (if non-NULL) and return code (a negative errno). */
int err_set(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefix an existing message in err with "prefix: " (keeps it NUL-terminated). */
void err_prefix(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
