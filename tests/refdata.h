/*
 * tests/refdata.h — the files of a reference group in the shared test data
 * (../shared/data/reference/<group>/), for the unit tests that load one.
 * Static: each test includes this header once.
 */
#ifndef CONTIMG_TEST_REFDATA_H
#define CONTIMG_TEST_REFDATA_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* The subband files (*_sbNN.hdf5, at most max) of the reference group in dir
 * into paths[], sorted by name, and the truth_* and gains_* file paths into
 * truth and gains (1024 bytes each, left as they are when absent); returns
 * the number of subband files (0 when dir cannot be opened). */
static int group_files(const char *dir, char paths[][1024], int max, char *truth, char *gains)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 10 && strstr(e->d_name, "_sb") && !strcmp(e->d_name + l - 5, ".hdf5") && n < max)
			snprintf(paths[n++], 1024, "%s/%s", dir, e->d_name);
		else if (!strncmp(e->d_name, "truth_", 6))
			snprintf(truth, 1024, "%s/%s", dir, e->d_name);
		else if (!strncmp(e->d_name, "gains_", 6))
			snprintf(gains, 1024, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	/* readdir order is the file system's: sort so every run sees the same
	 * first file. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
			char t[1024];
			memcpy(t, paths[j], 1024);
			memcpy(paths[j], paths[j - 1], 1024);
			memcpy(paths[j - 1], t, 1024);
		}
	return n;
}

#endif
