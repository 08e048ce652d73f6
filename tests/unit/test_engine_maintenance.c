/* test_engine_maintenance.c — the retention of results (engine/maintenance.h): how long after
 * completion a result is kept, and the sweep over a local store: folders whose objects are all older
 * than the retention and whose task no longer exists go, a folder with one young object stays whole,
 * names outside results/<id>/ are never touched, and the limit bounds one run. (The decision by a
 * task's completion time is checked end to end: tests/e2e/test_storage_s3.py and test_lifecycle.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine/maintenance.h"

static char folder[64];
static blob_store *blobs;
static store *db;

static int open_stores(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-maintenance-XXXXXX");
    char blob_root[128];
    if (mkdtemp(folder) == NULL) return -1;
    snprintf(blob_root, sizeof(blob_root), "%s/blobs", folder);
    if (blob_store_open(blob_root, &blobs) != 0) return -1;
    return store_open_url(NULL, folder, &db) == STORE_OK ? 0 : -1;
}

static int close_stores(void **state)
{
    (void)state;
    store_close(db);
    blob_store_close(blobs);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

/* Puts a small object `name` whose modification time is `age` seconds before `now`. */
static void put_aged(const char *name, int64_t now, int64_t age)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/incoming", folder);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("video", f);
    fclose(f);
    struct timeval times[2] = {{.tv_sec = (time_t)(now - age)}, {.tv_sec = (time_t)(now - age)}};
    assert_int_equal(utimes(path, times), 0);
    assert_int_equal(blob_put_file(blobs, name, path), 0);
}

static bool exists(const char *name)
{
    blob_object_info info;
    return blob_head(blobs, name, &info) == BLOB_OK;
}

static void retention_is_the_link_lifetime_plus_a_bounded_margin(void **state)
{
    (void)state;
    assert_int_equal(maintenance_result_retention(0), 0);
    assert_int_equal(maintenance_result_retention(-5), 0);
    assert_int_equal(maintenance_result_retention(2), 2);
    assert_int_equal(maintenance_result_retention(100), 110);
    assert_int_equal(maintenance_result_retention(86400), 86400 + RESULT_RETENTION_MAX_MARGIN_SECONDS);
}

static void old_orphans_go_young_folders_stay_whole(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    put_aged("results/task-old-1/output.mp4", now, 1000);
    put_aged("results/task-old-1/poster.jpg", now, 1000); /* the previews go with their video */
    put_aged("results/task-old-1/spritesheet.jpg", now, 1000);
    put_aged("results/task-old-2/output.mp4", now, 1000);
    put_aged("results/task-mixed/a.mp4", now, 1000);
    put_aged("results/task-mixed/b.mp4", now, 5); /* one young object keeps its folder */
    put_aged("results/task-young/output.mp4", now, 5);
    put_aged("uploads/file-1/old.mp4", now, 1000);                          /* not a result */
    assert_int_equal(maintenance_expire_results(db, blobs, now, 0, 16), 0); /* ttl 0: kept forever */
    assert_true(exists("results/task-old-1/output.mp4"));
    assert_int_equal(maintenance_expire_results(db, blobs, now, 100, 16), 2);
    assert_false(exists("results/task-old-1/output.mp4"));
    assert_false(exists("results/task-old-1/poster.jpg"));
    assert_false(exists("results/task-old-1/spritesheet.jpg"));
    assert_false(exists("results/task-old-2/output.mp4"));
    assert_true(exists("results/task-mixed/a.mp4"));
    assert_true(exists("results/task-mixed/b.mp4"));
    assert_true(exists("results/task-young/output.mp4"));
    assert_true(exists("uploads/file-1/old.mp4"));
    assert_int_equal(maintenance_expire_results(db, blobs, now, 100, 16), 0);
}

static void one_run_removes_at_most_its_limit(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    char name[64];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "results/task-%d/output.mp4", i);
        put_aged(name, now, 1000);
    }
    assert_int_equal(maintenance_expire_results(db, blobs, now, 10, 2), 2);
    assert_int_equal(maintenance_expire_results(db, blobs, now, 10, 2), 2);
    assert_int_equal(maintenance_expire_results(db, blobs, now, 10, 2), 1);
    assert_int_equal(maintenance_expire_results(db, blobs, now, 10, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retention_is_the_link_lifetime_plus_a_bounded_margin),
        cmocka_unit_test_setup_teardown(old_orphans_go_young_folders_stay_whole, open_stores, close_stores),
        cmocka_unit_test_setup_teardown(one_run_removes_at_most_its_limit, open_stores, close_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
