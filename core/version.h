/*
 * core/version.h — contimg's version, as `git describe --always --dirty`
 * said when the library was built ("unknown" outside a git checkout).
 *
 * Only core/version.c is compiled with the version (-DCONTIMG_VERSION, from
 * the Makefile), so a new commit rebuilds that one object and relinks.
 * Programs print it for --version; exported files name it in their history.
 */
#ifndef CONTIMG_VERSION_H
#define CONTIMG_VERSION_H

/* The version string (static storage; never NULL). */
const char *contimg_version(void);

#endif
