/*
 * core/pool.c — cache of large touched blocks (see pool.h).
 */
#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HDR 64 /* header in front of each block: keeps the block 64-byte aligned */
struct hdr {
	size_t cap; /* usable bytes after the header */
};

struct mem_pool {
	int n;
	void *blk[POOL_MAX_BLOCKS]; /* user pointers */
	size_t bytes, hits;
};

static struct hdr *hdr_of(void *ptr)
{
	return (struct hdr *)((char *)ptr - HDR);
}

static void block_free(void *ptr)
{
	free(hdr_of(ptr));
}

mem_pool *pool_new(void)
{
	return calloc(1, sizeof(mem_pool));
}

void pool_free(mem_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		block_free(p->blk[i]);
	free(p);
}

void *pool_get(mem_pool *p, size_t n)
{
	void *raw = NULL;
	if (!n)
		n = 1;
	if (p && n >= POOL_MIN_BYTES) {
		int best = -1;
		for (int i = 0; i < p->n; i++) {
			size_t cap = hdr_of(p->blk[i])->cap;
			if (cap >= n && cap / 2 <= n &&
			    (best < 0 || cap < hdr_of(p->blk[best])->cap))
				best = i;
		}
		if (best >= 0) {
			void *ptr = p->blk[best];
			p->blk[best] = p->blk[--p->n];
			p->bytes -= hdr_of(ptr)->cap;
			p->hits++;
			return ptr;
		}
	}
	/* Large blocks start on a 2 MB boundary, so that all of them can be
	 * huge pages (pool_advise_huge). */
	size_t align = n >= POOL_HUGE_MIN_BYTES ? (size_t)2 << 20 : HDR;
	if (n > SIZE_MAX - HDR || posix_memalign(&raw, align, n + HDR))
		return NULL;
	pool_advise_huge(raw, n + HDR);
	struct hdr *h = raw;
	h->cap = n;
	return (char *)raw + HDR;
}

void *pool_get_zero(mem_pool *p, size_t n)
{
	void *ptr = pool_get(p, n);
	if (ptr)
		memset(ptr, 0, n);
	return ptr;
}

void pool_put(mem_pool *p, void *ptr)
{
	if (!ptr)
		return;
	size_t cap = hdr_of(ptr)->cap;
	if (!p || cap < POOL_MIN_BYTES || cap > POOL_MAX_BYTES) {
		block_free(ptr);
		return;
	}
	/* Make room by dropping smaller blocks; if that is not enough, the
	 * new block is the one dropped. */
	while (p->n > 0 && (p->n == POOL_MAX_BLOCKS || p->bytes + cap > POOL_MAX_BYTES)) {
		int small = 0;
		for (int i = 1; i < p->n; i++)
			if (hdr_of(p->blk[i])->cap < hdr_of(p->blk[small])->cap)
				small = i;
		if (hdr_of(p->blk[small])->cap >= cap) {
			block_free(ptr);
			return;
		}
		p->bytes -= hdr_of(p->blk[small])->cap;
		block_free(p->blk[small]);
		p->blk[small] = p->blk[--p->n];
	}
	p->blk[p->n++] = ptr;
	p->bytes += cap;
}

size_t pool_cached_bytes(const mem_pool *p)
{
	return p ? p->bytes : 0;
}

size_t pool_hits(const mem_pool *p)
{
	return p ? p->hits : 0;
}

void pool_advise_huge(void *ptr, size_t n)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t a = (uintptr_t)ptr, b = a + n;
	if (!ptr || n < POOL_HUGE_MIN_BYTES || b < a)
		return;
	a = (a + huge - 1) & ~(huge - 1);
	b &= ~(huge - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
	(void)ptr;
	(void)n;
#endif
}
