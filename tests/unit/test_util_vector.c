/* test_util_vector.c — the growable array: pushes keep every item (copied or zeroed) across growth,
 * pop and clear, release hands over a plain array, and a size that would overflow is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/vector.h"

typedef struct row {
    int id;
    char name[20];
} row;

static void pushes_survive_growth_and_come_back_in_order(void **state)
{
    (void)state;
    vector rows;
    vector_init(&rows, sizeof(row));
    for (int i = 0; i < 1000; i++) {
        row r = {.id = i};
        memset(r.name, 'a' + i % 26, sizeof(r.name) - 1);
        r.name[sizeof(r.name) - 1] = '\0';
        row *stored = vector_push(&rows, &r);
        assert_non_null(stored);
        assert_int_equal(stored->id, i);
    }
    assert_int_equal(rows.count, 1000);
    assert_true(rows.capacity >= 1000);
    for (int i = 0; i < 1000; i++) {
        row *r = vector_at(&rows, (size_t)i);
        assert_int_equal(r->id, i);
        assert_int_equal(r->name[0], 'a' + i % 26);
    }
    row *zeroed = vector_push(&rows, NULL);
    assert_non_null(zeroed);
    assert_int_equal(zeroed->id, 0);
    assert_string_equal(zeroed->name, "");
    row last;
    assert_true(vector_pop(&rows, &last));
    assert_true(vector_pop(&rows, &last));
    assert_int_equal(last.id, 999);
    assert_int_equal(rows.count, 999);
    size_t capacity = rows.capacity;
    vector_clear(&rows);
    assert_int_equal(rows.count, 0);
    assert_int_equal(rows.capacity, capacity); /* memory kept for reuse */
    assert_false(vector_pop(&rows, NULL));
    vector_free(&rows);
    assert_null(rows.items);
    assert_int_equal(rows.item_size, sizeof(row)); /* usable again */
}

static void release_hands_over_a_plain_array(void **state)
{
    (void)state;
    vector numbers;
    vector_init(&numbers, sizeof(long));
    size_t count = 99;
    assert_null(vector_release(&numbers, &count)); /* nothing to hand over */
    assert_int_equal(count, 0);
    for (long i = 0; i < 5; i++)
        assert_non_null(vector_push(&numbers, &i));
    long *items = vector_release(&numbers, &count);
    assert_int_equal(count, 5);
    for (long i = 0; i < 5; i++)
        assert_int_equal(items[i], i);
    free(items);
    assert_int_equal(numbers.count, 0);
    assert_null(numbers.items);
    vector_clear(&numbers); /* emptied: pushes again start from nothing */
    long seven = 7;
    assert_non_null(vector_push(&numbers, &seven));
    vector_free(&numbers);
}

static void an_overflowing_size_is_refused(void **state)
{
    (void)state;
    vector big;
    vector_init(&big, 1024);
    assert_false(vector_reserve(&big, SIZE_MAX / 512));
    assert_int_equal(big.capacity, 0);
    assert_true(vector_reserve(&big, 4));
    assert_int_equal(big.capacity, 4);
    assert_true(vector_reserve(&big, 2)); /* already room */
    assert_int_equal(big.capacity, 4);
    vector_free(&big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pushes_survive_growth_and_come_back_in_order),
        cmocka_unit_test(release_hands_over_a_plain_array),
        cmocka_unit_test(an_overflowing_size_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
