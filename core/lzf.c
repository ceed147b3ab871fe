/*
 * core/lzf.c — the LZF decoder (see lzf.h).
 */
#include "core/lzf.h"

#include <stdint.h>
#include <string.h>

size_t lzf_decode(const void *in, size_t in_len, void *out, size_t out_len, int *ret_full)
{
	const uint8_t *ip = in, *const ie = ip + in_len;
	uint8_t *const o0 = out, *op = o0, *const oe = o0 + out_len;

	*ret_full = 0;
	while (ip < ie) {
		unsigned ctrl = *ip++;
		if (ctrl < 32) {
			size_t n = ctrl + 1;
			if ((size_t)(ie - ip) < n)
				return 0;
			if ((size_t)(oe - op) < n) {
				*ret_full = 1;
				return 0;
			}
			memcpy(op, ip, n);
			op += n;
			ip += n;
		} else {
			size_t len = ctrl >> 5, off;
			if (len == 7) {
				if (ip >= ie)
					return 0;
				len += *ip++;
			}
			if (ip >= ie)
				return 0;
			off = ((size_t)(ctrl & 31) << 8) + *ip++ + 1;
			len += 2;
			if ((size_t)(op - o0) < off)
				return 0;
			if ((size_t)(oe - op) < len) {
				*ret_full = 1;
				return 0;
			}
			for (size_t i = 0; i < len; i++) /* may overlap: byte by byte */
				op[i] = op[i - off];
			op += len;
		}
	}
	return (size_t)(op - o0);
}
