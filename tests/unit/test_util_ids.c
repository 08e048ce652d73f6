/* test_util_ids.c — task ids and random tokens: shape, alphabet, uniqueness, and the validator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/ids.h"

static void task_id_has_the_documented_shape(void **state)
{
    (void)state;
    char id[IDS_TASK_ID_SIZE];
    ids_task_new(id, 1757165031);
    assert_int_equal(strlen(id), strlen("task-unified-1757165031-") + 8);
    assert_memory_equal(id, "task-unified-1757165031-", strlen("task-unified-1757165031-"));
    for (const char *p = id + strlen("task-unified-1757165031-"); *p; p++)
        assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
    assert_true(ids_task_is_valid(id));
}

static void task_ids_do_not_repeat(void **state)
{
    (void)state;
    enum { COUNT = 100 }; /* ids of one ~0.77 ms step share two characters: 100 collide with odds 2e-6 */
    static char ids[COUNT][IDS_TASK_ID_SIZE];
    for (int i = 0; i < COUNT; i++)
        ids_task_new(ids[i], 1700000000);
    for (int i = 0; i < COUNT; i++)
        for (int j = i + 1; j < COUNT; j++)
            assert_string_not_equal(ids[i], ids[j]);
}

/* Ids sort by the millisecond they were made in, within their second (the store's indexes rely on it). */
static void task_ids_sort_by_their_millisecond(void **state)
{
    (void)state;
    char earlier[IDS_TASK_ID_SIZE], later[IDS_TASK_ID_SIZE];
    for (int ms = 0; ms < 999; ms++) {
        ids_task_new_at(earlier, 1757165031, ms);
        ids_task_new_at(later, 1757165031, ms + 1 + ms % 7);
        assert_true(ids_task_is_valid(earlier));
        assert_true(ids_task_is_valid(later));
        if ((ms * 1296) / 1000 != ((ms + 1 + ms % 7 > 999 ? 999 : ms + 1 + ms % 7) * 1296) / 1000)
            assert_true(strcmp(earlier, later) < 0);
        else
            assert_memory_equal(earlier, later, strlen("task-unified-1757165031-") + 2);
    }
    ids_task_new_at(earlier, 1757165031, -5); /* clamped */
    ids_task_new_at(later, 1757165031, 5000);
    assert_memory_equal(earlier, "task-unified-1757165031-00", strlen("task-unified-1757165031-00"));
    assert_memory_equal(later, "task-unified-1757165031-zy",
                        strlen("task-unified-1757165031-zy")); /* step 1294 */
}

static void task_id_validator_refuses_other_shapes(void **state)
{
    (void)state;
    assert_true(ids_task_is_valid("task-unified-1757165031-uyujaw3d"));
    const char *bad[] = {"",
                         "task-unified-",
                         "task-unified-1757165031-uyujaw3",
                         "task-unified-1757165031-uyujaw3dd",
                         "task-unified-1757165031-UYUJAW3D",
                         "task-unified-abc-uyujaw3d",
                         "task-unified--uyujaw3d",
                         "task-llm-1757165031-uyujaw3d",
                         "task-unified-1757165031-uyuja/3d",
                         "task-unified-1757165031_uyujaw3d",
                         "task-unified-17571650311234567-uyujaw3d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ids_task_is_valid(bad[i])) fail_msg("accepted '%s'", bad[i]);
    }
}

static void tokens_carry_prefix_and_enough_entropy(void **state)
{
    (void)state;
    char a[64], b[64];
    ids_random_token(a, sizeof(a), "sk-", 32);
    ids_random_token(b, sizeof(b), "sk-", 32);
    assert_memory_equal(a, "sk-", 3);
    assert_int_equal(strlen(a), 3 + 43); /* 32 bytes in unpadded base64url */
    assert_string_not_equal(a, b);
    for (const char *p = a + 3; *p; p++)
        assert_true((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '_');
    char small[8] = "x";
    ids_random_token(small, sizeof(small), "sk-", 32);
    assert_string_equal(small, ""); /* refuses to truncate a secret */
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(task_id_has_the_documented_shape),
        cmocka_unit_test(task_ids_do_not_repeat),
        cmocka_unit_test(task_ids_sort_by_their_millisecond),
        cmocka_unit_test(task_id_validator_refuses_other_shapes),
        cmocka_unit_test(tokens_carry_prefix_and_enough_entropy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
