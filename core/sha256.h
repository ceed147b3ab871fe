/*
 * core/sha256.h — SHA-256 (FIPS 180-4, §6.2; unchanged from FIPS 180-2), for
 * the configuration digest that products name in their history (FITS
 * HISTORY, calibration-table exports): two files with the same digest were
 * made under the same effective configuration.
 *
 * Not for secrets: no constant-time care, no key handling.  Checked against
 * the FIPS 180-2 appendix vectors in tests/core/test_sha256.c.
 *
 * Use: sha256_init, sha256_update any number of times, sha256_final; or
 * sha256_hex for one buffer.  The context is a plain struct the caller owns
 * (no allocation).
 */
#ifndef CONTIMG_SHA256_H
#define CONTIMG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 65 /* 64 hex digits and the NUL */

typedef struct sha256_ctx {
	uint32_t h[8];
	uint64_t nbytes;     /* message length so far */
	uint8_t block[64];   /* the partial block */
	size_t nblock;       /* bytes in it */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Pad, finish and write the 32-byte digest into out; c must be initialised
 * again before reuse. */
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* The digest of data[0 .. len) as 64 lower-case hex digits into hex
 * (SHA256_HEX_LEN bytes).  Returns hex. */
char *sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN]);

/* The digest c's final would give, as hex (c is finished as sha256_final). */
char *sha256_final_hex(sha256_ctx *c, char hex[SHA256_HEX_LEN]);

#endif
