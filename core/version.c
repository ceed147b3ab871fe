/*
 * core/version.c — the one object built with -DCONTIMG_VERSION (see version.h).
 */
#include "core/version.h"

#ifndef CONTIMG_VERSION
#define CONTIMG_VERSION "unknown"
#endif

const char *contimg_version(void)
{
	return CONTIMG_VERSION;
}
