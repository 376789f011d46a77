/* test_map.c: unit tests of core/map: SipHash against the paper's
 * vectors, the random seed (two processes disagree), the owning map
 * (put, replace, delete, growth, a walk that deletes as it goes) and the
 * intrusive table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SipHash-2-4, key 00 01 .. 0f, message 00 01 .. (len-1): the reference
 * outputs of the paper's appendix and its test vector file. */
static void test_siphash_vectors(void **state)
{
	(void)state;
	unsigned char key[16], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	assert_true(sl_map__siphash(key, 2, 4, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(sl_map__siphash(key, 2, 4, msg, 1) == 0x74f839c593dc67fdULL);
	assert_true(sl_map__siphash(key, 2, 4, msg, 15) == 0xa129ca6149be45e5ULL);
}

/* The seed is drawn per process: a fresh run of this binary (it prints
 * the hash when asked, see main) hashes the same key differently; a false
 * failure has a 2^-64 chance. */
static void test_seed_per_process(void **state)
{
	(void)state;
	uint64_t mine = sl_map_hash("m-0001", 6);
	assert_true(mine == sl_map_hash("m-0001", 6));
	char exe[4096], cmd[4200];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(len > 0);
	exe[len] = '\0';
	snprintf(cmd, sizeof(cmd), "'%s' --print-hash m-0001", exe);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	unsigned long long theirs = 0;
	assert_int_equal(fscanf(f, "%llx", &theirs), 1);
	assert_int_equal(pclose(f), 0);
	assert_true(theirs != mine);
}

static void test_smap_basic(void **state)
{
	(void)state;
	sl_smap_t *m = sl_smap_new();
	void *old = (void *)1;
	assert_int_equal(sl_smap_count(NULL), 0);
	assert_null(sl_smap_get(NULL, "a", 1));
	assert_false(sl_smap_has(m, "a", 1));
	assert_true(sl_smap_put(m, "a", 1, (void *)10, &old));
	assert_null(old);
	assert_false(sl_smap_put(m, "a", 1, (void *)11, &old));
	assert_ptr_equal(old, (void *)10);
	assert_ptr_equal(sl_smap_get(m, "a", 1), (void *)11);
	/* Keys are bytes with a length: a prefix and a NUL are other keys. */
	assert_true(sl_smap_put(m, "ab", 2, (void *)12, NULL));
	assert_true(sl_smap_put(m, "a\0b", 3, (void *)13, NULL));
	assert_true(sl_smap_put(m, "", 0, (void *)14, NULL));
	assert_int_equal(sl_smap_count(m), 4);
	assert_ptr_equal(sl_smap_get(m, "a\0b", 3), (void *)13);
	assert_ptr_equal(sl_smap_get(m, "", 0), (void *)14);
	assert_true(sl_smap_del(m, "a", 1, &old));
	assert_ptr_equal(old, (void *)11);
	assert_false(sl_smap_del(m, "a", 1, NULL));
	assert_false(sl_smap_has(m, "a", 1));
	assert_true(sl_smap_has(m, "ab", 2));
	assert_int_equal(sl_smap_count(m), 3);
	sl_smap_free(m);
	sl_smap_free(NULL);
}

static void test_smap_grow_and_walk(void **state)
{
	(void)state;
	enum { N = 20000 };
	sl_smap_t *m = sl_smap_new();
	char k[32];
	for (int i = 0; i < N; i++) {
		int n = snprintf(k, sizeof(k), "m-%05d", i);
		assert_true(sl_smap_put(m, k, (size_t)n, (void *)(intptr_t)(i + 1), NULL));
	}
	assert_int_equal(sl_smap_count(m), N);
	for (int i = 0; i < N; i++) {
		int n = snprintf(k, sizeof(k), "m-%05d", i);
		assert_ptr_equal(sl_smap_get(m, k, (size_t)n), (void *)(intptr_t)(i + 1));
	}
	/* One walk sees every entry once and deletes the odd ones as it goes. */
	char *seen = sl_xcalloc(N, 1);
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	const char *key;
	size_t klen;
	void *val;
	while (sl_smap_next(m, &it, &key, &klen, &val)) {
		intptr_t i = (intptr_t)val - 1;
		assert_true(i >= 0 && i < N);
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		assert_int_equal(klen, strlen(key));
		if (i & 1)
			assert_true(sl_smap_del(m, key, klen, NULL));
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(sl_smap_count(m), N / 2);
	free(seen);
	sl_smap_free(m);
	/* An empty map walks nothing. */
	sl_map_iter_t it2 = SL_MAP_ITER_INIT;
	assert_false(sl_smap_next(NULL, &it2, NULL, NULL, NULL));
}

typedef struct item {
	sl_map_node_t node;
	char name[16];
	int v;
} item_t;

static void test_intrusive(void **state)
{
	(void)state;
	sl_map_t t;
	sl_map_init(&t);
	assert_null(sl_map_find(&t, "x", 1));
	item_t items[100];
	for (int i = 0; i < 100; i++) {
		int n = snprintf(items[i].name, sizeof(items[i].name), "chan-%d", i);
		items[i].v = i;
		sl_map_insert(&t, &items[i].node, items[i].name, (size_t)n);
	}
	assert_int_equal(sl_map_count(&t), 100);
	sl_map_node_t *e = sl_map_find(&t, "chan-42", 7);
	assert_non_null(e);
	assert_int_equal(sl_container_of(e, item_t, node)->v, 42);
	assert_true(e->hash == sl_map_hash("chan-42", 7));
	sl_map_remove(&t, e);
	assert_null(sl_map_find(&t, "chan-42", 7));
	assert_int_equal(sl_map_count(&t), 99);
	int n = 0;
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	while ((e = sl_map_next(&t, &it))) {
		sl_map_remove(&t, e);
		n++;
	}
	assert_int_equal(n, 99);
	assert_int_equal(sl_map_count(&t), 0);
	sl_map_close(&t);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--print-hash")) {
		printf("%llx\n", (unsigned long long)sl_map_hash(argv[2], strlen(argv[2])));
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_seed_per_process),
		cmocka_unit_test(test_smap_basic),
		cmocka_unit_test(test_smap_grow_and_walk),
		cmocka_unit_test(test_intrusive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
