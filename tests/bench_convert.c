/*
 * tests/bench_convert.c — time the load + convert read of whole groups, the
 * way the daemon reads them (convert_load_group with a reused buffer), for
 * the chunked/contiguous comparison of docs/performance.md; `make bench`
 * runs it (tests/bench.sh).
 *
 *   bench_convert [--reps N] [--threads N] [--hdf5] [--compare] DIR...
 *
 * Each DIR holds one group's subband files (*_sbNN.hdf5).  For each DIR it
 * loads the group N + 1 times (default 3 + 1; the first load touches the
 * fresh buffer and is reported but left out of the summary) without
 * rephasing, and prints one line per load: wall seconds of the read
 * (convert_info.read_s: headers, checks, data), the process CPU seconds
 * (user + system) it took, MB/s of file data, and how many subbands went
 * the direct way and of those how many were chunked; then one summary line
 * "summary DIR path min median max cpu_min cpu_median MBps_median".
 * --hdf5 reads through HDF5's generic path (convert_params.direct_read = 0:
 * what chunked files got before issue 19).  --compare loads every DIR once
 * more and checks that all give bit-identical visibilities, flags and
 * weights (exit 1 if not): the same group written in two layouts must read
 * the same.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/convert.h"
#include "core/err.h"
#include "core/vis.h"

#define MAX_FILES 32
#define MAX_REPS 100

static double cpu_s(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The subband files of dir (names ending in _sbNN.hdf5) and their bytes. */
static int list_group(const char *dir, char paths[MAX_FILES][1024], double *ret_bytes)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0, sb;

	*ret_bytes = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) && n < MAX_FILES) {
		struct stat st;
		if (convert_subband_from_name(e->d_name, &sb) != 0)
			continue;
		snprintf(paths[n], 1024, "%s/%s", dir, e->d_name);
		if (stat(paths[n], &st) == 0)
			*ret_bytes += (double)st.st_size;
		n++;
	}
	closedir(d);
	return n;
}

static int load(const char *dir, const convert_params *p, vis_set **v, convert_info *info,
		double *ret_bytes)
{
	static char paths[MAX_FILES][1024];
	const char *ptr[MAX_FILES];
	char err[ERR_LEN];
	int n = list_group(dir, paths, ret_bytes);

	if (n <= 0) {
		fprintf(stderr, "bench_convert: no subband files in %s\n", dir);
		return -1;
	}
	for (int i = 0; i < n; i++)
		ptr[i] = paths[i];
	if (convert_load_group(ptr, n, p, v, info, err, sizeof err) != 0) {
		fprintf(stderr, "bench_convert: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int reps = 3, threads = 0, hdf5 = 0, compare = 0, ndir = 0, rc = 0;
	const char *dirs[64];
	convert_params p;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--hdf5"))
			hdf5 = 1;
		else if (!strcmp(argv[i], "--compare"))
			compare = 1;
		else if (argv[i][0] != '-' && ndir < 64)
			dirs[ndir++] = argv[i];
		else {
			fprintf(stderr, "usage: bench_convert [--reps N] [--threads N] [--hdf5] "
				"[--compare] DIR...\n");
			return 2;
		}
	}
	if (ndir == 0 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "usage: bench_convert [--reps N (1..%d)] [--threads N] [--hdf5] "
			"[--compare] DIR...\n", MAX_REPS);
		return 2;
	}
	convert_params_default(&p);
	p.nthreads = threads;
	p.rephase = 0;
	p.direct_read = !hdf5;
	for (int k = 0; k < ndir; k++) {
		double wall[MAX_REPS], cpu[MAX_REPS], mbps[MAX_REPS], bytes = 0;
		vis_set *v = NULL;

		for (int r = 0; r <= reps; r++) {
			convert_info info;
			double c0 = cpu_s();

			p.reuse = v;
			if (load(dirs[k], &p, &v, &info, &bytes)) {
				vis_free(v);
				return 1;
			}
			printf("%s %s load %d: %.2f s wall, %.2f CPU-s, %.0f MB/s, %d direct, %d chunked%s\n",
			       dirs[k], hdf5 ? "hdf5" : "direct", r, info.read_s, cpu_s() - c0,
			       bytes / 1e6 / info.read_s, info.nsub_direct, info.nsub_chunked,
			       r ? "" : " (fresh buffer, not in the summary)");
			if (r) {
				wall[r - 1] = info.read_s;
				cpu[r - 1] = cpu_s() - c0;
				mbps[r - 1] = bytes / 1e6 / info.read_s;
			}
			fflush(stdout);
		}
		qsort(wall, reps, sizeof wall[0], cmp_double);
		qsort(cpu, reps, sizeof cpu[0], cmp_double);
		qsort(mbps, reps, sizeof mbps[0], cmp_double);
		printf("summary %s %s wall %.2f %.2f %.2f cpu %.2f %.2f MBps %.0f\n", dirs[k],
		       hdf5 ? "hdf5" : "direct", wall[0], wall[reps / 2], wall[reps - 1], cpu[0],
		       cpu[reps / 2], mbps[reps / 2]);
		vis_free(v);
	}
	if (compare && ndir > 1) {
		vis_set *first = NULL;
		for (int k = 0; k < ndir && !rc; k++) {
			vis_set *v = NULL;
			convert_info info;
			double bytes;
			size_t bad = 0, n;

			p.reuse = NULL;
			if (load(dirs[k], &p, k ? &v : &first, &info, &bytes))
				return 1;
			if (!k)
				continue;
			n = vis_nsamples(first);
			if (vis_nsamples(v) != n) {
				printf("compare %s: shape differs from %s\n", dirs[k], dirs[0]);
				rc = 1;
			} else {
				for (size_t i = 0; i < n; i++)
					bad += memcmp(&v->vis[i], &first->vis[i], sizeof v->vis[i]) ||
					       v->flags[i] != first->flags[i] ||
					       memcmp(&v->weight[i], &first->weight[i], sizeof v->weight[i]);
				printf("compare %s vs %s: %zu of %zu samples differ\n", dirs[k], dirs[0], bad, n);
				rc = bad != 0;
			}
			vis_free(v);
		}
		vis_free(first);
	}
	return rc;
}
