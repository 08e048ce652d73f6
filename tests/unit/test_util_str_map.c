/* test_util_str_map.c — the string-keyed hash map: get, put (insert and replace), remove and
 * iteration checked against a plain array over a long random run with heavy collisions and removals
 * (the backward shift must never lose an entry), emptying it entry by entry, borrowed keys, and growth
 * from empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str_map.h"

static void puts_gets_replaces_and_removes(void **state)
{
    (void)state;
    str_map map;
    str_map_init(&map);
    int one = 1, two = 2, three = 3;
    assert_null(str_map_get(&map, "missing")); /* before any allocation */
    assert_null(str_map_remove(&map, "missing"));
    assert_true(str_map_put(&map, "alpha", &one));
    assert_true(str_map_put(&map, "beta", &two));
    assert_int_equal(str_map_count(&map), 2);
    assert_ptr_equal(str_map_get(&map, "alpha"), &one);
    assert_ptr_equal(str_map_get(&map, "beta"), &two);
    assert_null(str_map_get(&map, "alph"));
    char key[] = "alpha"; /* another pointer, same text: replaces, and that pointer is kept */
    assert_true(str_map_put(&map, key, &three));
    assert_int_equal(str_map_count(&map), 2);
    assert_ptr_equal(str_map_get(&map, "alpha"), &three);
    size_t cursor = 0;
    const char *seen_key = NULL;
    void *seen_value = NULL;
    int seen = 0;
    while (str_map_next(&map, &cursor, &seen_key, &seen_value)) {
        seen++;
        if (seen_value == &three) assert_ptr_equal(seen_key, key);
    }
    assert_int_equal(seen, 2);
    assert_ptr_equal(str_map_remove(&map, "alpha"), &three);
    assert_null(str_map_remove(&map, "alpha"));
    assert_null(str_map_get(&map, "alpha"));
    assert_int_equal(str_map_count(&map), 1);
    str_map_free(&map);
    assert_int_equal(str_map_count(&map), 0);
    assert_null(str_map_get(&map, "beta"));
}

static void a_random_run_agrees_with_a_plain_array(void **state)
{
    (void)state;
    enum { KEYS = 2000, STEPS = 60000 };
    static char keys[KEYS][16];
    static int values[KEYS];
    static bool present[KEYS];
    for (int i = 0; i < KEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "task-%d", i);
        values[i] = i;
    }
    str_map map;
    str_map_init(&map);
    srand(777);
    size_t expected = 0;
    for (int step = 0; step < STEPS; step++) {
        /* mostly a small range of keys, so runs of neighbours form and are shifted back on removal */
        int i = step % 7 == 0 ? rand() % KEYS : rand() % 200;
        if (rand() % 3 == 0) {
            void *removed = str_map_remove(&map, keys[i]);
            assert_ptr_equal(removed, present[i] ? &values[i] : NULL);
            if (present[i]) expected--;
            present[i] = false;
        } else {
            assert_true(str_map_put(&map, keys[i], &values[i]));
            if (!present[i]) expected++;
            present[i] = true;
        }
        assert_int_equal(str_map_count(&map), expected);
        if (step % 1000 == 0)
            for (int k = 0; k < KEYS; k++)
                assert_ptr_equal(str_map_get(&map, keys[k]), present[k] ? &values[k] : NULL);
    }
    size_t cursor = 0, iterated = 0;
    const char *key = NULL;
    void *value = NULL;
    while (str_map_next(&map, &cursor, &key, &value)) {
        int index = *(int *)value;
        assert_true(present[index]);
        assert_string_equal(key, keys[index]);
        iterated++;
    }
    assert_int_equal(iterated, expected);
    assert_true(map.count * 4 <= map.capacity * 3); /* never fuller than 3/4 */
    /* taken out one by one, as at shutdown: every entry exactly once */
    size_t hint = 0, taken = 0;
    while ((value = str_map_any(&map, &hint)) != NULL) {
        int index = *(int *)value;
        assert_true(present[index]);
        present[index] = false;
        assert_ptr_equal(str_map_remove(&map, keys[index]), value);
        taken++;
    }
    assert_int_equal(taken, expected);
    assert_int_equal(str_map_count(&map), 0);
    str_map_free(&map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(puts_gets_replaces_and_removes),
        cmocka_unit_test(a_random_run_agrees_with_a_plain_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
