/* test_api_rate_limit.c — the per-key requests-per-minute limit with the other nodes' counts
 * (api/rate_limit.h): a request is allowed while own + others < limit and Remaining says what the
 * cluster has left; the exchange's halves collect only changed counts and learn the others'; one
 * exchange round over a real (SQLite) store wires them together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/rate_limit.h"

enum { WINDOW = 29000000 };                         /* a minute number in 2025 */
static const int64_t NOW = WINDOW * 60000LL + 1500; /* 1.5 s into it */

static rate_count count_of(const char *key_id, int64_t count)
{
    rate_count entry;
    memset(&entry, 0, sizeof(entry));
    snprintf(entry.key_id, sizeof(entry.key_id), "%s", key_id);
    entry.count = count;
    return entry;
}

/* The count collected for key_id (-1 when it is not among them). */
static int64_t collected(const rate_count *entries, size_t count, const char *key_id)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(entries[i].key_id, key_id) == 0) return entries[i].count;
    return -1;
}

static void the_others_count_against_the_limit(void **state)
{
    (void)state;
    rate_count others[] = {count_of("key_others", 15)};
    rate_limit_apply_others(WINDOW, others, 1);
    rate_verdict first = rate_limit_take("key_others", 20, NOW);
    assert_true(first.allowed);
    assert_int_equal(first.limit, 20);
    assert_int_equal(first.remaining, 4); /* 20 − 15 − 1 */
    assert_int_equal(first.reset_seconds, 59);
    for (int i = 0; i < 4; i++)
        assert_true(rate_limit_take("key_others", 20, NOW).allowed);
    rate_verdict refused = rate_limit_take("key_others", 20, NOW);
    assert_false(refused.allowed);
    assert_int_equal(refused.remaining, 0);
    /* others learned beyond the limit: still refused, Remaining never negative */
    rate_count more[] = {count_of("key_others", 40)};
    rate_limit_apply_others(WINDOW, more, 1);
    refused = rate_limit_take("key_others", 20, NOW);
    assert_false(refused.allowed);
    assert_int_equal(refused.remaining, 0);
    /* a new window starts from nothing, whatever the others had */
    rate_verdict next = rate_limit_take("key_others", 20, NOW + 60000);
    assert_true(next.allowed);
    assert_int_equal(next.remaining, 19);
}

static void the_others_count_only_grows_within_a_window(void **state)
{
    (void)state;
    rate_count ten[] = {count_of("key_grow", 10)}, five[] = {count_of("key_grow", 5)};
    rate_limit_apply_others(WINDOW, ten, 1);
    rate_limit_apply_others(WINDOW, five, 1); /* a stale answer never lowers it */
    assert_int_equal(rate_limit_take("key_grow", 20, NOW).remaining, 9);
    /* an answer for another window does not touch this one */
    rate_count old[] = {count_of("key_grow", 19)};
    rate_limit_apply_others(WINDOW - 1, old, 1);
    assert_int_equal(rate_limit_take("key_grow", 20, NOW).remaining, 8);
}

static void only_changed_counts_are_collected_until_marked_sent(void **state)
{
    (void)state;
    static rate_count buffer[RATE_LIMIT_MAX_KEYS];
    for (int i = 0; i < 3; i++)
        rate_limit_take("key_sent", 100, NOW);
    rate_count learned[] = {count_of("key_learned", 7)}; /* known from others only: nothing to send */
    rate_limit_apply_others(WINDOW, learned, 1);
    size_t n = rate_limit_collect(WINDOW, buffer, RATE_LIMIT_MAX_KEYS);
    assert_int_equal(collected(buffer, n, "key_sent"), 3);
    assert_int_equal(collected(buffer, n, "key_learned"), -1);
    assert_int_equal(
        collected(buffer, rate_limit_collect(WINDOW + 1, buffer, RATE_LIMIT_MAX_KEYS), "key_sent"), -1);
    /* not marked (the exchange failed): collected again */
    n = rate_limit_collect(WINDOW, buffer, RATE_LIMIT_MAX_KEYS);
    assert_int_equal(collected(buffer, n, "key_sent"), 3);
    rate_count sent[] = {count_of("key_sent", 3)};
    rate_limit_mark_sent(WINDOW, sent, 1);
    n = rate_limit_collect(WINDOW, buffer, RATE_LIMIT_MAX_KEYS);
    assert_int_equal(collected(buffer, n, "key_sent"), -1);
    rate_limit_take("key_sent", 100, NOW);
    n = rate_limit_collect(WINDOW, buffer, RATE_LIMIT_MAX_KEYS);
    assert_int_equal(collected(buffer, n, "key_sent"), 4);
    /* the capacity bounds what one collect returns */
    assert_int_equal(rate_limit_collect(WINDOW, buffer, 0), 0);
}

/* One node's exchange over a SQLite store where another epoch recorded 18 requests of the key. */
static void an_exchange_round_shares_counts_through_the_store(void **state)
{
    (void)state;
    char folder[] = "/tmp/reelay-rate-XXXXXX";
    assert_non_null(mkdtemp(folder));
    store *db = NULL;
    assert_int_equal(store_open(folder, &db), STORE_OK);
    rate_count *answer = NULL;
    size_t answer_count = 0;
    rate_count other_node[] = {count_of("key_shared", 18)};
    assert_int_equal(store_rate_counts_exchange(db, 2, WINDOW, other_node, 1, &answer, &answer_count),
                     STORE_OK);
    assert_int_equal(rate_limit_take("key_shared", 20, NOW).remaining, 19); /* not learned yet */
    static rate_count buffer[RATE_LIMIT_MAX_KEYS];
    assert_int_equal(rate_limit_exchange_once(db, 1, NOW, buffer, RATE_LIMIT_MAX_KEYS), STORE_OK);
    rate_verdict last = rate_limit_take("key_shared", 20, NOW);
    assert_true(last.allowed);
    assert_int_equal(last.remaining, 0); /* 18 there, 2 here */
    assert_false(rate_limit_take("key_shared", 20, NOW).allowed);
    /* the other node learns this one's 2 at its next exchange (this node's 2nd request is sent then) */
    assert_int_equal(rate_limit_exchange_once(db, 1, NOW, buffer, RATE_LIMIT_MAX_KEYS), STORE_OK);
    assert_int_equal(store_rate_counts_exchange(db, 2, WINDOW, NULL, 0, &answer, &answer_count), STORE_OK);
    assert_int_equal(collected(answer, answer_count, "key_shared"), 2); /* (earlier tests' keys too) */
    free(answer);
    store_close(db);
    char command[64];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    assert_int_equal(system(command), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_others_count_against_the_limit),
        cmocka_unit_test(the_others_count_only_grows_within_a_window),
        cmocka_unit_test(only_changed_counts_are_collected_until_marked_sent),
        cmocka_unit_test(an_exchange_round_shares_counts_through_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
