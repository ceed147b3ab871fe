/*
 * core/pool.h — a cache of large, already-touched memory blocks, kept across
 * groups.
 *
 * On the virtual machines this runs on, the first touch of fresh memory is
 * slow (the kernel clears every page as it is faulted in: measured 0.4 GB/s
 * against 12.7 GB/s for memory already touched), and every large malloc()
 * is a fresh mmap().  The imager alone touches ~1.9 GB per full-size group:
 * 7 s of page faults on 2 cores, as long as everything else it does.  A
 * daemon worker therefore keeps one pool for its life; the stages take
 * their big arrays from it and give them back when done, and the next group
 * (same shapes, five minutes later) gets the same pages back.
 *
 *   pool_get(p, n)    a block of at least n bytes, 64-byte aligned, contents
 *                     undefined: the smallest cached block that is >= n and
 *                     not more than twice n, else a new allocation.
 *   pool_put(p, ptr)  give a block back to the cache (ptr from pool_get of
 *                     the same pool, or NULL).  The cache keeps at most
 *                     POOL_MAX_BLOCKS blocks and POOL_MAX_BYTES in all; what
 *                     does not fit is freed, largest kept first.
 *
 * A NULL pool is valid everywhere and means no caching: pool_get is a
 * 64-byte-aligned malloc and pool_put frees.  Blocks below POOL_MIN_BYTES
 * are never cached (malloc reuses those by itself).  A pool is used by one
 * thread at a time (the worker that owns it); the blocks it hands out may be
 * shared with OpenMP threads as any memory.
 *
 * Ownership: pool_new allocates, pool_free releases the pool and every
 * cached block (blocks still handed out must be pool_put before, or are
 * freed by pool_put(NULL, ptr)).  Out of memory: pool_get returns NULL.
 */
#ifndef CONTIMG_POOL_H
#define CONTIMG_POOL_H

#include <stddef.h>

#define POOL_MAX_BLOCKS 64
#define POOL_MIN_BYTES (1u << 20)
#define POOL_MAX_BYTES ((size_t)8 << 30)

typedef struct mem_pool mem_pool;

mem_pool *pool_new(void);
void pool_free(mem_pool *p);

void *pool_get(mem_pool *p, size_t n);
/* pool_get, then zero the first n bytes (memset: the pages are touched, or
 * will be by the zeroing, either way cheaper than calloc's fresh ones). */
void *pool_get_zero(mem_pool *p, size_t n);
void pool_put(mem_pool *p, void *ptr);

/* Bytes held in the cache (not handed out), and blocks handed out so far
 * that came from the cache rather than a new allocation. */
size_t pool_cached_bytes(const mem_pool *p);
size_t pool_hits(const mem_pool *p);

/* Ask the kernel to back the 2 MB-aligned interior of [ptr, ptr + n) with
 * transparent huge pages (madvise MADV_HUGEPAGE).  Call it on a large,
 * freshly allocated buffer before it is first touched: one fault then maps
 * 2 MB instead of 4 KB.  On the development VM first touch runs at
 * 0.22-0.26 GB/s with 4 KB pages and 0.6-0.7 GB/s with huge pages, and a
 * one-shot `contimgctl process` of a full-size calibrator group went from
 * 48 s to 30 s (docs/performance.md).  pool_get advises its new blocks
 * itself.  Buffers under POOL_HUGE_MIN_BYTES are left alone.  Only a hint:
 * where the kernel has no THP, or the system setting
 * /sys/kernel/mm/transparent_hugepage/enabled is "never", nothing changes
 * (that setting is the operator's switch); errors are ignored. */
#define POOL_HUGE_MIN_BYTES ((size_t)8 << 20)
void pool_advise_huge(void *ptr, size_t n);

#endif
