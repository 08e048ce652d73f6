/* test_store_rates.c — the nodes' request counts per key and window (store.h "Request counts per key
 * across nodes"), on both backends: an exchange records this node's counts (the larger count wins),
 * returns the other nodes' sums of the window only, and forgets windows before the previous one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fixture.h"

enum { WINDOW = 29000000 }; /* a minute number in 2025 */

static rate_count count_of(const char *key_id, int64_t count)
{
    rate_count entry;
    memset(&entry, 0, sizeof(entry));
    snprintf(entry.key_id, sizeof(entry.key_id), "%s", key_id);
    entry.count = count;
    return entry;
}

/* The sum for key_id in an exchange's answer (-1 when the key is absent). */
static int64_t sum_for(const rate_count *sums, size_t count, const char *key_id)
{
    int64_t found = -1;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(sums[i].key_id, key_id) != 0) continue;
        assert_int_equal(found, -1); /* one entry per key */
        found = sums[i].count;
    }
    return found;
}

/* One exchange of `epoch` sending own; the answer's entry count, its sums kept in *sums (caller frees). */
static size_t exchange(int64_t epoch, int64_t window, const rate_count *own, size_t own_count,
                       rate_count **sums)
{
    size_t count = 99;
    assert_int_equal(store_rate_counts_exchange(db, epoch, window, own, own_count, sums, &count), STORE_OK);
    if (count == 0) assert_null(*sums);
    return count;
}

static void each_node_sees_the_sum_of_the_others(void **state)
{
    (void)state;
    rate_count *sums = NULL;
    rate_count first[] = {count_of("key_a", 3), count_of("key_b", 1)};
    assert_int_equal(exchange(1, WINDOW, first, 2, &sums), 0); /* nobody else yet */
    rate_count second[] = {count_of("key_a", 2)};
    size_t n = exchange(2, WINDOW, second, 1, &sums);
    assert_int_equal(n, 2);
    assert_int_equal(sum_for(sums, n, "key_a"), 3);
    assert_int_equal(sum_for(sums, n, "key_b"), 1);
    free(sums);
    /* the first node's count grows; a smaller (late) count never lowers it */
    rate_count grown[] = {count_of("key_a", 7)};
    n = exchange(1, WINDOW, grown, 1, &sums);
    assert_int_equal(n, 1);
    assert_int_equal(sum_for(sums, n, "key_a"), 2); /* its own counts are never in its answer */
    free(sums);
    rate_count late[] = {count_of("key_a", 4)};
    n = exchange(1, WINDOW, late, 1, &sums);
    free(sums);
    /* a third node that sends nothing sees both: 7 + 2 and 1 */
    n = exchange(3, WINDOW, NULL, 0, &sums);
    assert_int_equal(n, 2);
    assert_int_equal(sum_for(sums, n, "key_a"), 9);
    assert_int_equal(sum_for(sums, n, "key_b"), 1);
    free(sums);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM rate_counts"), 3);
}

static void only_the_windows_count_and_old_ones_are_forgotten(void **state)
{
    (void)state;
    rate_count *sums = NULL;
    rate_count own[] = {count_of("key_a", 5)};
    assert_int_equal(exchange(1, WINDOW - 3, own, 1, &sums), 0);
    assert_int_equal(exchange(1, WINDOW - 2, own, 1, &sums), 0);
    assert_int_equal(exchange(1, WINDOW - 1, own, 1, &sums), 0);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM rate_counts"), 2); /* WINDOW - 3 went */
    /* the previous window's counts are kept but not summed into this one's */
    assert_int_equal(exchange(2, WINDOW, NULL, 0, &sums), 0);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM rate_counts"), 1);
    assert_int_equal(fixture_query_int("SELECT minute FROM rate_counts"), WINDOW - 1);
    rate_count now[] = {count_of("key_a", 1)};
    size_t n = exchange(1, WINDOW, now, 1, &sums);
    assert_int_equal(n, 0);
    n = exchange(2, WINDOW, NULL, 0, &sums);
    assert_int_equal(n, 1);
    assert_int_equal(sum_for(sums, n, "key_a"), 1);
    free(sums);
    assert_int_equal(exchange(2, WINDOW + 2, NULL, 0, &sums), 0);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM rate_counts"), 0);
}

/* Entries that mean nothing are skipped, a key repeated keeps its largest count, and key ids that
 * would break a literal (quotes, backslashes, commas, braces) are kept byte for byte. */
static void odd_entries_are_skipped_or_kept_exactly(void **state)
{
    (void)state;
    rate_count *sums = NULL;
    rate_count own[] = {count_of("", 4),          count_of("key_neg", -2),   count_of("key_twice", 2),
                        count_of("key_twice", 6), count_of("k\"e,y}{\\", 3), count_of("key_zero", 0)};
    assert_int_equal(exchange(1, WINDOW, own, sizeof(own) / sizeof(own[0]), &sums), 0);
    size_t n = exchange(2, WINDOW, NULL, 0, &sums);
    assert_int_equal(n, 2); /* key_zero's row exists, but a sum of 0 is not an entry */
    assert_int_equal(sum_for(sums, n, "key_twice"), 6);
    assert_int_equal(sum_for(sums, n, "k\"e,y}{\\"), 3);
    free(sums);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM rate_counts WHERE key_id = 'key_neg'"), 0);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM rate_counts"), 3);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(each_node_sees_the_sum_of_the_others),
        WITH_STORE(only_the_windows_count_and_old_ones_are_forgotten),
        WITH_STORE(odd_entries_are_skipped_or_kept_exactly),
    };
    return store_fixture_main("test_store_rates", both, sizeof(both) / sizeof(both[0]), NULL, 0, NULL, 0);
}
