/* test_blob_links.c — signed links (valid, tampered in each part, expired, persistent secret) and
 * object names that must never escape the storage folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "blob/link.h"

static char folder[64];

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-links-XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

/* Splits a signed URL into name, expires and signature. */
static void split_link(const char *url, char *name, char *expires, char *signature)
{
    const char *start = strstr(url, "/v1/files/");
    assert_non_null(start);
    start += strlen("/v1/files/");
    const char *question = strchr(start, '?');
    assert_non_null(question);
    snprintf(name, 256, "%.*s", (int)(question - start), start);
    assert_int_equal(sscanf(question, "?expires=%31[0-9]&signature=%127s", expires, signature), 2);
}

static void a_signed_link_verifies_until_it_expires(void **state)
{
    (void)state;
    link_signer signer;
    assert_int_equal(link_signer_load(folder, &signer), 0);
    char url[1024], name[256], expires[32], signature[128];
    assert_int_equal(
        link_sign_url(&signer, "http://127.0.0.1:8080", "results/t/output.mp4", 2000, url, sizeof(url)), 0);
    assert_memory_equal(url,
                        "http://127.0.0.1:8080/v1/files/results/t/output.mp4?expires=2000&signature=", 75);
    split_link(url, name, expires, signature);
    assert_int_equal(link_verify(&signer, name, expires, signature, 1999), LINK_VALID);
    assert_int_equal(link_verify(&signer, name, expires, signature, 2000), LINK_EXPIRED);
}

static void any_change_to_a_link_is_tampering(void **state)
{
    (void)state;
    link_signer signer;
    assert_int_equal(link_signer_load(folder, &signer), 0);
    char url[1024], name[256], expires[32], signature[128];
    assert_int_equal(link_sign_url(&signer, "http://h", "results/t/output.mp4", 5000, url, sizeof(url)), 0);
    split_link(url, name, expires, signature);
    assert_int_equal(link_verify(&signer, "results/u/output.mp4", expires, signature, 100), LINK_TAMPERED);
    assert_int_equal(link_verify(&signer, name, "5001", signature, 100), LINK_TAMPERED);
    assert_int_equal(link_verify(&signer, name, "05000", signature, 100), LINK_TAMPERED);
    assert_int_equal(link_verify(&signer, name, "-5000", signature, 100), LINK_TAMPERED);
    assert_int_equal(link_verify(&signer, name, "", signature, 100), LINK_TAMPERED);
    char flipped[128];
    snprintf(flipped, sizeof(flipped), "%s", signature);
    flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
    assert_int_equal(link_verify(&signer, name, expires, flipped, 100), LINK_TAMPERED);
    flipped[10] = 'z'; /* not hex */
    assert_int_equal(link_verify(&signer, name, expires, flipped, 100), LINK_TAMPERED);
    signature[63] = '\0'; /* truncated */
    assert_int_equal(link_verify(&signer, name, expires, signature, 100), LINK_TAMPERED);
    assert_int_equal(link_verify(&signer, name, expires, NULL, 100), LINK_TAMPERED);
}

static void the_secret_persists_and_differs_between_folders(void **state)
{
    (void)state;
    link_signer first, again, other;
    assert_int_equal(link_signer_load(folder, &first), 0);
    assert_int_equal(link_signer_load(folder, &again), 0);
    assert_memory_equal(first.secret, again.secret, LINK_SECRET_SIZE);
    char path[128];
    snprintf(path, sizeof(path), "%s/link.secret", folder);
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal(info.st_mode & 0777, 0600);
    char second[96];
    snprintf(second, sizeof(second), "%s/other", folder);
    assert_int_equal(mkdir(second, 0700), 0);
    assert_int_equal(link_signer_load(second, &other), 0);
    assert_memory_not_equal(first.secret, other.secret, LINK_SECRET_SIZE);
    char url[512], name[256], expires[32], signature[128];
    assert_int_equal(link_sign_url(&first, "http://h", "a.mp4", 9000, url, sizeof(url)), 0);
    split_link(url, name, expires, signature);
    assert_int_equal(link_verify(&other, name, expires, signature, 1), LINK_TAMPERED);
}

static void object_names_cannot_escape_the_folder(void **state)
{
    (void)state;
    const char *good[] = {"a", "results/task-unified-1-abc/output.mp4", "x/y.z_w-1", "..a", "a..", ".hidden"};
    const char *bad[] = {"",      "/etc/passwd", "../x", "a/../b", "a//b", "a/",   "./a",
                         "a/./b", "a/..",        "a b",  "a%2f",   "a\\b", "a\nb", ".."};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!blob_name_is_valid(good[i])) fail_msg("refused '%s'", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (blob_name_is_valid(bad[i])) fail_msg("accepted '%s'", bad[i]);
}

static void put_file_moves_into_place(void **state)
{
    (void)state;
    char root[128], scratch[512], source[600], stored[600];
    snprintf(root, sizeof(root), "%s/blobs", folder);
    blob_store *store = NULL;
    assert_int_equal(blob_store_open(root, &store), 0);
    assert_int_equal(blob_scratch_create(store, scratch, sizeof(scratch)), 0);
    snprintf(source, sizeof(source), "%s/out.mp4", scratch);
    FILE *f = fopen(source, "w");
    assert_non_null(f);
    fputs("not really a video", f);
    fclose(f);
    assert_int_equal(blob_put_file(store, "results/t1/output.mp4", source), 0);
    assert_int_equal(blob_local_path(store, "results/t1/output.mp4", stored, sizeof(stored)), 0);
    assert_int_equal(access(stored, R_OK), 0);
    assert_int_not_equal(access(source, F_OK), 0);
    assert_int_equal(blob_local_path(store, "../escape", stored, sizeof(stored)), -1);
    assert_int_equal(blob_remove_prefix(store, "results/t1"), 0);
    assert_int_not_equal(access(stored, F_OK), 0);
    blob_scratch_remove(scratch);
    assert_int_not_equal(access(scratch, F_OK), 0);
    blob_store_close(store);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_signed_link_verifies_until_it_expires, make_folder, remove_folder),
        cmocka_unit_test_setup_teardown(any_change_to_a_link_is_tampering, make_folder, remove_folder),
        cmocka_unit_test_setup_teardown(the_secret_persists_and_differs_between_folders, make_folder,
                                        remove_folder),
        cmocka_unit_test(object_names_cannot_escape_the_folder),
        cmocka_unit_test_setup_teardown(put_file_moves_into_place, make_folder, remove_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
