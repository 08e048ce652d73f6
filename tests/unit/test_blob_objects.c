/* test_blob_objects.c — reading, listing and removing objects of the local backend (blob.h), the same
 * contract test_blob_s3.c checks on S3: HEAD, whole and ranged reads, a local copy, a listing that never
 * shows the scratch area, removal of one object and of a folder, missing objects and bad ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"

static char folder[64];
static blob_store *store;

static int open_store(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-objects-XXXXXX");
    return mkdtemp(folder) && blob_store_open(folder, &store) == 0 ? 0 : -1;
}

static int close_store(void **state)
{
    (void)state;
    blob_store_close(store);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static void put_text(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/incoming", folder);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(blob_put_file(store, name, path), 0);
}

typedef struct collected {
    char data[64];
    size_t length;
} collected;

static int collect(void *context, const void *data, size_t size)
{
    collected *c = context;
    if (c->length + size >= sizeof(c->data)) return -1;
    memcpy(c->data + c->length, data, size);
    c->length += size;
    c->data[c->length] = '\0';
    return 0;
}

static void head_read_and_copy(void **state)
{
    (void)state;
    put_text("results/t1/out.txt", "0123456789");
    assert_true(blob_store_is_local(store));
    blob_object_info info;
    assert_int_equal(blob_head(store, "results/t1/out.txt", &info), BLOB_OK);
    assert_int_equal(info.size, 10);
    assert_true(info.modified_unix > 0 && info.etag[0] == '"');
    collected c = {0};
    assert_int_equal(blob_read(store, "results/t1/out.txt", 0, 0, collect, &c), BLOB_OK);
    assert_string_equal(c.data, "0123456789");
    c = (collected){0};
    assert_int_equal(blob_read(store, "results/t1/out.txt", 3, 4, collect, &c), BLOB_OK);
    assert_string_equal(c.data, "3456");
    c = (collected){0};
    assert_int_equal(blob_read(store, "results/t1/out.txt", 8, 5, collect, &c),
                     BLOB_ERROR); /* past the end */
    assert_int_equal(blob_read(store, "results/t1/out.txt", 10, 1, collect, &c), BLOB_ERROR);
    assert_int_equal(blob_read(store, "results/none", 0, 0, collect, &c), BLOB_NOT_FOUND);
    assert_int_equal(blob_head(store, "results/none", &info), BLOB_NOT_FOUND);
    assert_int_equal(blob_head(store, "results/t1", &info), BLOB_NOT_FOUND); /* a folder is no object */
    assert_int_equal(blob_head(store, "../x", &info), BLOB_ERROR);
    char copy[128];
    snprintf(copy, sizeof(copy), "%s/copy", folder);
    assert_int_equal(blob_get_file(store, "results/t1/out.txt", copy), BLOB_OK);
    struct stat st;
    assert_int_equal(stat(copy, &st), 0);
    assert_int_equal(st.st_size, 10);
    assert_int_equal(blob_get_file(store, "results/none", copy), BLOB_NOT_FOUND);
    assert_int_not_equal(access(copy, F_OK), 0); /* a failed copy leaves nothing */
}

static int count(void *context, const char *name, const blob_object_info *info)
{
    (void)info;
    assert_null(strstr(name, ".scratch"));
    (*(int *)context)++;
    return 0;
}

static void list_and_remove(void **state)
{
    (void)state;
    put_text("a/1", "x");
    put_text("a/b/2", "yy");
    put_text("c/3", "zzz");
    char scratch[256];
    assert_int_equal(blob_scratch_create(store, scratch, sizeof(scratch)), 0); /* never listed */
    int n = 0;
    assert_int_equal(blob_list(store, "a", count, &n), BLOB_OK);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(blob_list(store, NULL, count, &n), BLOB_OK);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(blob_list(store, "missing", count, &n), BLOB_OK);
    assert_int_equal(n, 0);
    assert_int_equal(blob_remove(store, "c/3"), BLOB_OK);
    assert_int_equal(blob_remove(store, "c/3"), BLOB_OK);
    assert_int_equal(blob_remove_prefix(store, "a"), 0);
    n = 0;
    assert_int_equal(blob_list(store, NULL, count, &n), BLOB_OK);
    assert_int_equal(n, 0);
    blob_scratch_remove(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(head_read_and_copy, open_store, close_store),
        cmocka_unit_test_setup_teardown(list_and_remove, open_store, close_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
