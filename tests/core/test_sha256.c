/*
 * tests/core/test_sha256.c — core/sha256 against the FIPS 180-2 appendix B
 * vectors ("abc", the 448-bit two-block message, one million 'a'), the empty
 * message, and the same digests fed in uneven pieces (the buffering across
 * block boundaries).
 */
#include "core/sha256.h"
#include "tests/test.h"

static const char ABC[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char TWO[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char MILLION[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
static const char EMPTY[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char MSG2[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void test_fips_vectors(void)
{
	char hex[SHA256_HEX_LEN];

	CHECK(!strcmp(sha256_hex("abc", 3, hex), ABC), "abc: %s", hex);
	CHECK(!strcmp(sha256_hex(MSG2, strlen(MSG2), hex), TWO), "448-bit: %s", hex);
	CHECK(!strcmp(sha256_hex("", 0, hex), EMPTY), "empty: %s", hex);
}

static void test_million_a(void)
{
	char hex[SHA256_HEX_LEN], a[1000];
	sha256_ctx c;

	memset(a, 'a', sizeof a);
	sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, a, sizeof a);
	CHECK(!strcmp(sha256_final_hex(&c, hex), MILLION), "1e6 a: %s", hex);
}

/* The two-block message in pieces of 1, 3, 7 ... bytes crosses the 64-byte
 * block boundary at every offset. */
static void test_pieces(void)
{
	char hex[SHA256_HEX_LEN];
	size_t n = strlen(MSG2);

	for (size_t step = 1; step <= 64; step += 2) {
		sha256_ctx c;
		sha256_init(&c);
		for (size_t i = 0; i < n; i += step)
			sha256_update(&c, MSG2 + i, n - i < step ? n - i : step);
		sha256_final_hex(&c, hex);
		CHECK(!strcmp(hex, TWO), "step %zu: %s", step, hex);
	}
	/* 55, 56 and 64 bytes: the padding fits, just does not, needs a block. */
	const char *want[3] = { "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
				"b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
				"ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" };
	size_t lens[3] = { 55, 56, 64 };
	char a[64];
	memset(a, 'a', sizeof a);
	for (int k = 0; k < 3; k++)
		CHECK(!strcmp(sha256_hex(a, lens[k], hex), want[k]), "%zu a: %s", lens[k], hex);
}

int main(void)
{
	RUN(test_fips_vectors);
	RUN(test_million_a);
	RUN(test_pieces);
	return TEST_DONE();
}
