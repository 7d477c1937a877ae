/* SPDX-License-Identifier: MIT */
/*
 * Hostile kernel files: random bytes, random bytes behind a valid magic,
 * every truncated prefix of a valid image, and valid images with bytes of
 * their headers flipped. The loaders must either succeed with an entry and
 * kernel inside guest RAM, or fail with one clean line; never crash or
 * touch memory outside the guest (the suite also runs under ASan/UBSan).
 * The generator is a fixed-seed xorshift, so a failure reproduces.
 */
#include <errno.h>
#include <stdint.h>

#include "test_loader_fixture.h"

#define RAM_SIZE (128 * MiB)
#define ROUNDS	 2000

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

/* Run both loaders on buf (and the dispatcher through a file, if asked). */
static void check_one(struct fake_guest *g, const uint8_t *buf, size_t len, int *nok)
{
	struct x86_boot_request req = fake_request(g, "console=ttyS0");
	struct x86_boot_result res;
	int (*const loaders[])(const struct guest_mem *, const uint8_t *, size_t,
			       const struct x86_boot_request *, struct x86_boot_result *) = {
		x86_load_bzimage,
		x86_load_elf,
	};
	unsigned int i;
	int ret;

	for (i = 0; i < 2; i++) {
		memset(&res, 0x5a, sizeof(res));
		ret = loaders[i](&g->gm, buf, len, &req, &res);
		if (ret == 0) {
			(*nok)++;
			assert_true(res.kernel_start >= LAYOUT_KERNEL_START);
			assert_true(res.kernel_start <= res.kernel_end);
			assert_true(res.kernel_end <= g->size);
			assert_true(res.entry < g->size);
			assert_int_equal(res.zero_page, LAYOUT_ZERO_PAGE);
		} else {
			assert_clean_error(&res, ret);
			assert_true(ret >= -4095);
		}
	}
}

static void test_random_bytes(void **state)
{
	struct fake_guest g;
	struct rng r = { 0x9e3779b97f4a7c15ULL };
	static uint8_t buf[8192];
	int nok = 0;
	unsigned int round;
	size_t i, len;

	fake_guest_init(&g, RAM_SIZE);
	for (round = 0; round < ROUNDS; round++) {
		len = rng_next(&r) % sizeof(buf);
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)rng_next(&r);
		/* a third plain noise, a third behind "HdrS" + a 2.12+ version, a
		 * third behind an ELF64 x86-64 executable header */
		if (round % 3 == 1 && len > 0x210) {
			memcpy(buf + 0x202, "HdrS", 4);
			buf[0x207] = 0x02;
			buf[0x206] |= 0x0c;
		} else if (round % 3 == 2 && len > sizeof(Elf64_Ehdr)) {
			Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;

			memcpy(eh->e_ident, ELFMAG, SELFMAG);
			eh->e_ident[EI_CLASS] = ELFCLASS64;
			eh->e_ident[EI_DATA] = ELFDATA2LSB;
			eh->e_type = ET_EXEC;
			eh->e_machine = EM_X86_64;
			eh->e_phentsize = sizeof(Elf64_Phdr);
			eh->e_phoff %= len;
			eh->e_phnum %= 8;
		}
		check_one(&g, buf, len, &nok);
	}
	print_message("random: %d of %d loads succeeded\n", nok, 2 * ROUNDS);
	fake_guest_destroy(&g);
}

/* Every proper prefix of a valid image must fail cleanly. */
static void test_truncated_prefixes(void **state)
{
	struct fake_guest g;
	struct bz_image bz;
	struct elf_image e;
	struct x86_boot_request req;
	struct x86_boot_result res;
	size_t len;

	fake_guest_init(&g, RAM_SIZE);
	bz_build(&bz, 0x27, 4096); /* syssize covers exactly the payload */
	req = fake_request(&g, "");
	for (len = 0; len < bz.len; len += len < 0x300 ? 1 : 61) {
		assert_clean_error(&res, x86_load_bzimage(&g.gm, bz.buf, len, &req, &res));
		assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, len, &req, &res), -ENOEXEC);
	}
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);

	elf_build(&e);
	for (len = 0; len < sizeof(e.buf); len++)
		assert_clean_error(&res, x86_load_elf(&g.gm, e.buf, len, &req, &res));
	assert_int_equal(x86_load_elf(&g.gm, e.buf, sizeof(e.buf), &req, &res), 0);

	/* and through the file reader: a prefix of a bzImage on disk */
	{
		char path[32];

		temp_file(path, bz.buf, bz.len - 16);
		req.kernel_path = path;
		assert_int_equal(x86_load_kernel(&g.gm, &req, &res), -ENOEXEC);
		assert_err_has(&res, "truncated");
		unlink(path);
	}
	bz_free(&bz);
	fake_guest_destroy(&g);
}

/* Valid images with random bytes of their headers replaced. */
static void test_mutated_headers(void **state)
{
	struct fake_guest g;
	struct rng r = { 0x1234567887654321ULL };
	struct bz_image bz;
	struct elf_image e;
	int nok = 0;
	unsigned int round, k;

	fake_guest_init(&g, RAM_SIZE);
	for (round = 0; round < ROUNDS; round++) {
		bz_build(&bz, 0x27, 4096);
		for (k = 0; k < 1 + rng_next(&r) % 4; k++)
			bz.buf[0x1f1 + rng_next(&r) % (0x26c - 0x1f1)] = (uint8_t)rng_next(&r);
		check_one(&g, bz.buf, bz.len, &nok);
		bz_free(&bz);

		elf_build(&e);
		for (k = 0; k < 1 + rng_next(&r) % 4; k++)
			e.buf[rng_next(&r) % (sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr))] =
				(uint8_t)rng_next(&r);
		check_one(&g, e.buf, sizeof(e.buf), &nok);
	}
	/* some mutations are harmless (reserved fields): both outcomes occur */
	print_message("mutated: %d of %d loads succeeded\n", nok, 4 * ROUNDS);
	assert_true(nok > 0);
	assert_true(nok < 4 * ROUNDS);
	fake_guest_destroy(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_mutated_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
