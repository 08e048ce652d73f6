/* test_store_uploads.c — the uploads table: insert and get, usage, the quota (refused without
 * auto_cleanup, oldest auto_cleanup uploads evicted with it, nothing evicted when eviction cannot make
 * room), expiry, and racing uploads of one key never exceeding the quota together. On both backends
 * (store_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store_fixture.h"

static upload_record make_upload(const char *id, const char *key_id, int64_t size, bool auto_cleanup,
                                 int64_t created)
{
    upload_record u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "%s", id);
    snprintf(u.key_id, sizeof(u.key_id), "%s", key_id);
    snprintf(u.filename, sizeof(u.filename), "clip.mp4");
    snprintf(u.object_name, sizeof(u.object_name), "uploads/%s/clip.mp4", id);
    snprintf(u.content_type, sizeof(u.content_type), "video/mp4");
    u.size = size;
    u.auto_cleanup = auto_cleanup;
    u.created_at = created;
    u.expires_at = created + 3600;
    return u;
}

static void inserted_uploads_read_back(void **state)
{
    (void)state;
    upload_record u = make_upload("file-1000-aaaaaaaaaaaa", "key_a", 1234, true, 1000);
    assert_int_equal(store_upload_insert(db, &u, 1 << 20, 1000, NULL, NULL), STORE_OK);
    upload_record back;
    assert_int_equal(store_upload_get(db, u.id, &back), STORE_OK);
    assert_memory_equal(&u, &back, sizeof(u));
    assert_int_equal(store_upload_get(db, "file-1-nothing", &back), STORE_NOT_FOUND);
    /* a duplicate id is a conflict */
    assert_int_equal(store_upload_insert(db, &u, 1 << 20, 1000, NULL, NULL), STORE_CONFLICT);
    int64_t bytes, count;
    assert_int_equal(store_upload_usage(db, "key_a", 1000, &bytes, &count), STORE_OK);
    assert_int_equal(bytes, 1234);
    assert_int_equal(count, 1);
    assert_int_equal(store_upload_usage(db, "key_b", 1000, &bytes, &count), STORE_OK);
    assert_int_equal(bytes, 0);
    assert_int_equal(count, 0);
    /* expired rows no longer count */
    assert_int_equal(store_upload_usage(db, "key_a", 1000 + 3600, &bytes, &count), STORE_OK);
    assert_int_equal(bytes, 0);
}

static void without_auto_cleanup_a_full_quota_refuses(void **state)
{
    (void)state;
    upload_record a = make_upload("file-1-a", "key_a", 600, true, 1);
    upload_record b = make_upload("file-2-b", "key_a", 500, false, 2);
    assert_int_equal(store_upload_insert(db, &a, 1000, 10, NULL, NULL), STORE_OK);
    upload_record *evicted = (upload_record *)1;
    size_t evicted_count = 99;
    assert_int_equal(store_upload_insert(db, &b, 1000, 10, &evicted, &evicted_count), STORE_CONFLICT);
    assert_null(evicted);
    assert_int_equal(evicted_count, 0);
    upload_record back;
    assert_int_equal(store_upload_get(db, "file-1-a", &back), STORE_OK); /* nothing evicted */
    assert_int_equal(store_upload_get(db, "file-2-b", &back), STORE_NOT_FOUND);
    /* another key has its own quota */
    upload_record c = make_upload("file-3-c", "key_b", 1000, false, 3);
    assert_int_equal(store_upload_insert(db, &c, 1000, 10, NULL, NULL), STORE_OK);
    /* larger than the whole quota: refused even with auto_cleanup */
    upload_record d = make_upload("file-4-d", "key_c", 1001, true, 4);
    assert_int_equal(store_upload_insert(db, &d, 1000, 10, NULL, NULL), STORE_CONFLICT);
}

static void auto_cleanup_evicts_the_oldest_first(void **state)
{
    (void)state;
    upload_record kept = make_upload("file-1-kept", "key_a", 300, false, 1); /* never evicted */
    upload_record old1 = make_upload("file-2-old1", "key_a", 200, true, 2);
    upload_record old2 = make_upload("file-3-old2", "key_a", 200, true, 3);
    upload_record old3 = make_upload("file-4-old3", "key_a", 200, true, 4);
    assert_int_equal(store_upload_insert(db, &kept, 1000, 10, NULL, NULL), STORE_OK);
    assert_int_equal(store_upload_insert(db, &old1, 1000, 10, NULL, NULL), STORE_OK);
    assert_int_equal(store_upload_insert(db, &old2, 1000, 10, NULL, NULL), STORE_OK);
    assert_int_equal(store_upload_insert(db, &old3, 1000, 10, NULL, NULL), STORE_OK);
    /* 900 used; 350 more needs 250 freed: old1 and old2 go, old3 stays */
    upload_record fresh = make_upload("file-5-new", "key_a", 350, true, 5);
    upload_record *evicted = NULL;
    size_t evicted_count = 0;
    assert_int_equal(store_upload_insert(db, &fresh, 1000, 10, &evicted, &evicted_count), STORE_OK);
    assert_int_equal(evicted_count, 2);
    assert_string_equal(evicted[0].id, "file-2-old1");
    assert_string_equal(evicted[1].id, "file-3-old2");
    assert_string_equal(evicted[0].object_name, "uploads/file-2-old1/clip.mp4");
    free(evicted);
    upload_record back;
    assert_int_equal(store_upload_get(db, "file-2-old1", &back), STORE_NOT_FOUND);
    assert_int_equal(store_upload_get(db, "file-3-old2", &back), STORE_NOT_FOUND);
    assert_int_equal(store_upload_get(db, "file-4-old3", &back), STORE_OK);
    assert_int_equal(store_upload_get(db, "file-1-kept", &back), STORE_OK);
    int64_t bytes;
    assert_int_equal(store_upload_usage(db, "key_a", 10, &bytes, NULL), STORE_OK);
    assert_int_equal(bytes, 850);
    /* 850 used, of which only 550 may be evicted: 800 more cannot fit, and nothing is evicted */
    upload_record huge = make_upload("file-6-huge", "key_a", 800, true, 6);
    evicted = NULL;
    assert_int_equal(store_upload_insert(db, &huge, 1000, 10, &evicted, &evicted_count), STORE_CONFLICT);
    assert_null(evicted);
    assert_int_equal(store_upload_get(db, "file-4-old3", &back), STORE_OK);
    assert_int_equal(store_upload_get(db, "file-5-new", &back), STORE_OK);
}

static void expired_uploads_are_taken_once(void **state)
{
    (void)state;
    upload_record a = make_upload("file-1-a", "key_a", 10, true, 100);  /* expires 3700 */
    upload_record b = make_upload("file-2-b", "key_a", 10, true, 200);  /* expires 3800 */
    upload_record c = make_upload("file-3-c", "key_b", 10, false, 300); /* expires 3900 */
    assert_int_equal(store_upload_insert(db, &a, 1000, 300, NULL, NULL), STORE_OK);
    assert_int_equal(store_upload_insert(db, &b, 1000, 300, NULL, NULL), STORE_OK);
    assert_int_equal(store_upload_insert(db, &c, 1000, 300, NULL, NULL), STORE_OK);
    upload_record *taken = NULL;
    size_t count = 0;
    assert_int_equal(store_uploads_take_expired(db, 3699, 10, &taken, &count), STORE_OK);
    assert_int_equal(count, 0);
    assert_null(taken);
    assert_int_equal(store_uploads_take_expired(db, 3850, 1, &taken, &count), STORE_OK); /* limit 1 */
    assert_int_equal(count, 1);
    assert_string_equal(taken[0].id, "file-1-a");
    free(taken);
    assert_int_equal(store_uploads_take_expired(db, 3850, 10, &taken, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_string_equal(taken[0].id, "file-2-b");
    assert_string_equal(taken[0].object_name, "uploads/file-2-b/clip.mp4");
    free(taken);
    assert_int_equal(store_uploads_take_expired(db, 3850, 10, &taken, &count), STORE_OK);
    assert_int_equal(count, 0);
    upload_record back;
    assert_int_equal(store_upload_get(db, "file-1-a", &back), STORE_NOT_FOUND);
    assert_int_equal(store_upload_get(db, "file-3-c", &back), STORE_OK);
}

/* Racing uploads of one key, each on its own connection: together they never exceed the quota. */
enum { RACERS = 8, UPLOADS_EACH = 10 };
static void *race_main(void *arg)
{
    int racer = (int)(intptr_t)arg;
    store *own = NULL;
    if (fixture_open(&own) != STORE_OK) return (void *)1;
    for (int i = 0; i < UPLOADS_EACH; i++) {
        char id[40];
        snprintf(id, sizeof(id), "file-%d-%d", racer, i);
        upload_record u = make_upload(id, "key_race", 100, false, 10);
        store_status status = store_upload_insert(own, &u, 1000, 10, NULL, NULL);
        if (status != STORE_OK && status != STORE_CONFLICT) {
            store_close(own);
            return (void *)1;
        }
    }
    store_close(own);
    return NULL;
}

static void racing_uploads_respect_the_quota(void **state)
{
    (void)state;
    pthread_t threads[RACERS];
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, race_main, (void *)(intptr_t)i), 0);
    for (int i = 0; i < RACERS; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        assert_null(result);
    }
    int64_t bytes, count;
    assert_int_equal(store_upload_usage(db, "key_race", 10, &bytes, &count), STORE_OK);
    assert_int_equal(bytes, 1000);
    assert_int_equal(count, 10);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(inserted_uploads_read_back),
        WITH_STORE(without_auto_cleanup_a_full_quota_refuses),
        WITH_STORE(auto_cleanup_evicts_the_oldest_first),
        WITH_STORE(expired_uploads_are_taken_once),
    };
    const struct CMUnitTest races[] = {
        WITH_STORE(racing_uploads_respect_the_quota),
    };
    return store_fixture_main("test_store_uploads", both, sizeof(both) / sizeof(both[0]), NULL, 0, races,
                              sizeof(races) / sizeof(races[0]));
}
