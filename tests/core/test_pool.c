/*
 * tests/core/test_pool.c — the block cache: a block given back is handed out
 * again (same pages) for a request it fits, best fit, never more than twice
 * the request, small blocks not cached, the limits, and the NULL pool; large
 * blocks start on a 2 MB boundary and are backed by transparent huge pages
 * where the kernel offers them.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/pool.h"
#include "tests/test.h"

#define MB ((size_t)1 << 20)

static void test_reuse_and_fit(void)
{
	mem_pool *p = pool_new();
	CHECK(p != NULL);
	if (!p)
		return;
	char *a = pool_get(p, 8 * MB), *b = pool_get(p, 3 * MB);
	CHECK(a && b);
	CHECK(((uintptr_t)a & 63) == 0 && ((uintptr_t)b & 63) == 0, "not 64-byte aligned");
	memset(a, 1, 8 * MB);
	memset(b, 2, 3 * MB);
	pool_put(p, a);
	pool_put(p, b);
	CHECK(pool_cached_bytes(p) == 11 * MB, "%zu cached", pool_cached_bytes(p));
	/* 2.5 MB: the 3 MB block is the best fit. */
	char *c = pool_get(p, 5 * MB / 2);
	CHECK(c == b, "best fit not taken");
	/* 3 MB: only the 8 MB block is left, more than twice the request. */
	char *d = pool_get(p, 3 * MB);
	CHECK(d != a, "a block more than twice the request was handed out");
	/* 6 MB: the 8 MB block, same pages, contents as left. */
	char *e = pool_get(p, 6 * MB);
	CHECK(e == a && e[0] == 1 && e[6 * MB - 1] == 1);
	CHECK(pool_hits(p) == 2, "%zu hits", pool_hits(p));
	/* Zeroing variant. */
	pool_put(p, e);
	char *z = pool_get_zero(p, 7 * MB);
	CHECK(z == a && z[0] == 0 && z[7 * MB - 1] == 0);
	pool_put(p, c);
	pool_put(p, d);
	pool_put(p, z);
	pool_free(p);
}

static void test_small_and_null(void)
{
	mem_pool *p = pool_new();
	char *s = pool_get(p, 1000);
	CHECK(s != NULL);
	pool_put(p, s); /* below POOL_MIN_BYTES: freed, not cached */
	CHECK(pool_cached_bytes(p) == 0);
	/* The NULL pool: plain aligned allocations, put frees. */
	char *n = pool_get(NULL, 2 * MB);
	CHECK(n && ((uintptr_t)n & 63) == 0);
	pool_put(NULL, n);
	pool_put(p, NULL);
	pool_put(NULL, NULL);
	CHECK(pool_cached_bytes(NULL) == 0 && pool_hits(NULL) == 0);
	pool_free(p);
	pool_free(NULL);
}

static void test_block_limit(void)
{
	/* More blocks than the cache holds: the smallest are dropped first. */
	mem_pool *p = pool_new();
	char *blk[POOL_MAX_BLOCKS + 2];
	for (int i = 0; i < POOL_MAX_BLOCKS + 2; i++)
		blk[i] = pool_get(p, (size_t)(i + 1) * MB);
	for (int i = 0; i < POOL_MAX_BLOCKS + 2; i++)
		pool_put(p, blk[i]);
	size_t want = 0;
	for (int i = 2; i < POOL_MAX_BLOCKS + 2; i++)
		want += (size_t)(i + 1) * MB;
	CHECK(pool_cached_bytes(p) == want, "%zu cached, want %zu", pool_cached_bytes(p), want);
	/* The 1 and 2 MB blocks were dropped: a 1 MB request is a new
	 * allocation (the 3 MB one is more than twice it), not a hit. */
	size_t hits = pool_hits(p);
	char *x = pool_get(p, MB);
	CHECK(x != NULL && pool_hits(p) == hits);
	pool_put(p, x);
	pool_free(p);
}

/* kB of AnonHugePages in the mapping of /proc/self/smaps that contains
 * addr, or -1 when it cannot be read. */
static long huge_kb_at(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static void test_huge_pages(void)
{
	size_t n = 32 * MB;
	char *a = pool_get(NULL, n), mode[128];
	CHECK(a != NULL);
	if (!a)
		return;
	/* The block behind the 64-byte header starts on a 2 MB boundary. */
	CHECK((((uintptr_t)a - 64) & (2 * MB - 1)) == 0, "large block not 2 MB aligned: %p",
	      (void *)a);
	memset(a, 7, n);
	char defrag[128];
	test_first_line("/sys/kernel/mm/transparent_hugepage/enabled", mode, sizeof mode);
	test_first_line("/sys/kernel/mm/transparent_hugepage/defrag", defrag, sizeof defrag);
	long kb = huge_kb_at(a);
	if ((strstr(mode, "[always]") || strstr(mode, "[madvise]")) && kb >= 0 &&
	    !strstr(defrag, "[never]")) {
		/* At least one of the 16 possible huge pages: without the advice
		 * there are none under "madvise"; the kernel may fall back to
		 * small pages for some when it has no free 2 MB frame at hand. */
		CHECK(kb >= 2048, "%ld kB of a 32 MB advised block in huge pages (THP: %s)", kb,
		      mode);
		printf("# %ld kB of the 32 MB block in huge pages\n", kb);
	} else {
		printf("# THP not usable here (enabled: %s, defrag: %s): huge-page backing not "
		       "checked\n", mode[0] ? mode : "no /sys/kernel/mm/transparent_hugepage",
		       defrag[0] ? defrag : "-");
	}
	pool_put(NULL, a);
	/* Small, NULL and unaligned ranges are left alone. */
	char small[64];
	pool_advise_huge(NULL, n);
	pool_advise_huge(small, sizeof small);
	pool_advise_huge(small + 1, 2);
}

int main(void)
{
	RUN(test_reuse_and_fit);
	RUN(test_small_and_null);
	RUN(test_block_limit);
	RUN(test_huge_pages);
	return TEST_DONE();
}
