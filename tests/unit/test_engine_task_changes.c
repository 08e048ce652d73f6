/* test_engine_task_changes.c — the "task changed" hub (engine/task_changes.h): subscribers hear what is
 * published and nothing after unsubscribing; the relay sends each id once, packed into bodies within
 * the limit; a received body yields only valid ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/task_changes.h"

typedef struct heard {
    int calls, nulls;
    char last[64];
} heard;

static void on_change(void *context, const char *task_id)
{
    heard *h = context;
    h->calls++;
    if (task_id == NULL)
        h->nulls++;
    else
        snprintf(h->last, sizeof(h->last), "%s", task_id);
}

static void subscribers_hear_until_they_leave(void **state)
{
    (void)state;
    task_changes *hub = task_changes_create();
    assert_non_null(hub);
    heard a = {0}, b = {0};
    assert_true(task_changes_subscribe(hub, on_change, &a));
    assert_true(task_changes_subscribe(hub, on_change, &b));
    task_changes_publish(hub, "task-unified-1-abcdefgh");
    assert_int_equal(a.calls, 1);
    assert_string_equal(b.last, "task-unified-1-abcdefgh");
    task_changes_unsubscribe(hub, on_change, &a);
    task_changes_publish_local(hub, NULL);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 2);
    assert_int_equal(b.nulls, 1);
    task_changes_destroy(hub);
}

static void subscribers_are_bounded(void **state)
{
    (void)state;
    task_changes *hub = task_changes_create();
    heard h[TASK_CHANGES_SUBSCRIBERS_MAX + 1];
    for (int i = 0; i < TASK_CHANGES_SUBSCRIBERS_MAX; i++)
        assert_true(task_changes_subscribe(hub, on_change, &h[i]));
    assert_false(task_changes_subscribe(hub, on_change, &h[TASK_CHANGES_SUBSCRIBERS_MAX]));
    task_changes_destroy(hub);
}

static void pack_fills_bodies_within_the_limit(void **state)
{
    (void)state;
    const char *ids[] = {"task-unified-1-aaaaaaaa", "", "task-unified-2-bbbbbbbb", "task-unified-3-cccccccc"};
    char out[64];
    size_t next = 0;
    /* two ids and a space are 47 bytes: the third does not fit in 50 */
    size_t length = task_changes_pack(ids, 4, &next, out, sizeof(out), 50);
    assert_int_equal(length, 47);
    assert_string_equal(out, "task-unified-1-aaaaaaaa task-unified-2-bbbbbbbb");
    assert_int_equal(next, 3);
    length = task_changes_pack(ids, 4, &next, out, sizeof(out), 50);
    assert_string_equal(out, "task-unified-3-cccccccc");
    assert_int_equal(length, 23);
    assert_int_equal(next, 4);
    assert_int_equal(task_changes_pack(ids, 4, &next, out, sizeof(out), 50), 0);
    /* an id longer than a body is skipped, never an endless loop */
    next = 0;
    assert_int_equal(task_changes_pack(ids, 1, &next, out, sizeof(out), 10), 0);
    assert_int_equal(next, 1);
}

static void each_id_takes_only_valid_ids(void **state)
{
    (void)state;
    heard h = {0};
    size_t found = task_changes_each_id("task-unified-1-aaaaaaaa  bogus task-unified-22-bbbbbbbb "
                                        "task-unified-3-CCCCCCCC task-unified-4-dddddddd-and-more",
                                        on_change, &h);
    assert_int_equal(found, 2);
    assert_int_equal(h.calls, 2);
    assert_string_equal(h.last, "task-unified-22-bbbbbbbb");
    assert_int_equal(task_changes_each_id("", on_change, &h), 0);
}

typedef struct sent {
    pthread_mutex_t lock;
    int bodies;
    char all[4096];
} sent;

static void send_body(void *context, const char *body)
{
    sent *s = context;
    pthread_mutex_lock(&s->lock);
    s->bodies++;
    size_t used = strlen(s->all);
    snprintf(s->all + used, sizeof(s->all) - used, "%s|", body);
    pthread_mutex_unlock(&s->lock);
}

static void the_relay_sends_what_was_published(void **state)
{
    (void)state;
    task_changes *hub = task_changes_create();
    sent s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    task_changes_publish(hub, "task-unified-9-zzzzzzzz"); /* no relay yet: nothing queued */
    assert_true(task_changes_start_relay(hub, send_body, &s, 200));
    task_changes_publish(hub, "task-unified-1-aaaaaaaa");
    task_changes_publish_local(hub, "task-unified-5-eeeeeeee"); /* another node's news: not relayed */
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&s.lock);
        int bodies = s.bodies;
        pthread_mutex_unlock(&s.lock);
        if (bodies > 0) break;
        usleep(10000);
    }
    task_changes_stop_relay(hub);
    assert_true(s.bodies >= 1);
    assert_non_null(strstr(s.all, "task-unified-1-aaaaaaaa"));
    assert_null(strstr(s.all, "task-unified-9-zzzzzzzz"));
    assert_null(strstr(s.all, "task-unified-5-eeeeeeee"));
    assert_false(task_changes_start_relay(hub, send_body, &s, 10)); /* cannot hold one id */
    task_changes_destroy(hub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribers_hear_until_they_leave),  cmocka_unit_test(subscribers_are_bounded),
        cmocka_unit_test(pack_fills_bodies_within_the_limit), cmocka_unit_test(each_id_takes_only_valid_ids),
        cmocka_unit_test(the_relay_sends_what_was_published),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
