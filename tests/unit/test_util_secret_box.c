/* test_util_secret_box.c — credentials sealed at rest: round trip, tampering, another folder's key,
 * the key file's mode and race-free creation, and masks that never reveal the whole secret. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "util/secret_box.h"
#include "util/secret_file.h"

static char *make_folder(void)
{
    char *dir = strdup("/tmp/reelay-secret-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_folder(char *dir)
{
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    assert_int_equal(system(command), 0);
    free(dir);
}

static void sealed_credential_opens_to_the_same_text(void **state)
{
    (void)state;
    char *dir = make_folder();
    secret_box box;
    assert_int_equal(secret_box_load(dir, &box), 0);
    const char *credential = "AK_live_0123456789:SK_live_abcdefghijklmnop";
    char sealed[SECRET_BOX_SEALED_SIZE], opened[SECRET_BOX_MAX_PLAIN + 1];
    assert_int_equal(secret_box_seal(&box, credential, sealed, sizeof(sealed)), 0);
    assert_null(strstr(sealed, "AK_live"));
    assert_null(strstr(sealed, "SK_live"));
    assert_int_equal(secret_box_open(&box, sealed, opened, sizeof(opened)), 0);
    assert_string_equal(opened, credential);

    /* a fresh nonce each time: the same credential never seals to the same text */
    char again[SECRET_BOX_SEALED_SIZE];
    assert_int_equal(secret_box_seal(&box, credential, again, sizeof(again)), 0);
    assert_string_not_equal(sealed, again);

    /* the key survives a reload from the same folder */
    secret_box reloaded;
    assert_int_equal(secret_box_load(dir, &reloaded), 0);
    assert_memory_equal(reloaded.key, box.key, sizeof(box.key));
    remove_folder(dir);
}

static void longest_credential_fits_the_column(void **state)
{
    (void)state;
    char *dir = make_folder();
    secret_box box;
    assert_int_equal(secret_box_load(dir, &box), 0);
    char credential[SECRET_BOX_MAX_PLAIN + 2];
    memset(credential, 'k', SECRET_BOX_MAX_PLAIN);
    credential[SECRET_BOX_MAX_PLAIN] = '\0';
    char sealed[SECRET_BOX_SEALED_SIZE], opened[SECRET_BOX_MAX_PLAIN + 1];
    assert_int_equal(secret_box_seal(&box, credential, sealed, sizeof(sealed)), 0);
    assert_int_equal(secret_box_open(&box, sealed, opened, sizeof(opened)), 0);
    assert_string_equal(opened, credential);
    credential[SECRET_BOX_MAX_PLAIN] = 'k', credential[SECRET_BOX_MAX_PLAIN + 1] = '\0';
    assert_int_equal(secret_box_seal(&box, credential, sealed, sizeof(sealed)), -1);
    remove_folder(dir);
}

static void any_changed_byte_or_other_key_is_refused(void **state)
{
    (void)state;
    char *dir = make_folder(), *other_dir = make_folder();
    secret_box box, other;
    assert_int_equal(secret_box_load(dir, &box), 0);
    assert_int_equal(secret_box_load(other_dir, &other), 0);
    assert_memory_not_equal(box.key, other.key, sizeof(box.key));
    char sealed[SECRET_BOX_SEALED_SIZE], opened[64];
    assert_int_equal(secret_box_seal(&box, "fal-key-1234567890", sealed, sizeof(sealed)), 0);
    assert_int_equal(secret_box_open(&other, sealed, opened, sizeof(opened)), -1);
    assert_string_equal(opened, "");

    size_t len = strlen(sealed);
    for (size_t i = 0; i < len; i++) {
        char tampered[SECRET_BOX_SEALED_SIZE];
        memcpy(tampered, sealed, len + 1);
        tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
        assert_int_equal(secret_box_open(&box, tampered, opened, sizeof(opened)), -1);
    }
    sealed[len - 3] = '\0'; /* truncated */
    assert_int_equal(secret_box_open(&box, sealed, opened, sizeof(opened)), -1);
    assert_int_equal(secret_box_open(&box, "", opened, sizeof(opened)), -1);
    assert_int_equal(secret_box_open(&box, "not base64 at all!", opened, sizeof(opened)), -1);
    remove_folder(dir);
    remove_folder(other_dir);
}

static void key_file_is_private_and_shared_by_racing_processes(void **state)
{
    (void)state;
    char *dir = make_folder();
    enum { RACERS = 6 };
    int pipes[RACERS][2];
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pipe(pipes[i]), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            secret_box box;
            int ok = secret_box_load(dir, &box);
            if (ok != 0 || write(pipes[i][1], box.key, sizeof(box.key)) != (ssize_t)sizeof(box.key)) _exit(1);
            _exit(0);
        }
        close(pipes[i][1]);
    }
    unsigned char keys[RACERS][SECRET_BOX_KEY_SIZE];
    for (int i = 0; i < RACERS; i++) {
        int status = 0;
        assert_int_equal(read(pipes[i][0], keys[i], sizeof(keys[i])), (ssize_t)sizeof(keys[i]));
        close(pipes[i][0]);
        wait(&status);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (int i = 1; i < RACERS; i++)
        assert_memory_equal(keys[0], keys[i], SECRET_BOX_KEY_SIZE);

    char path[512];
    snprintf(path, sizeof(path), "%s/credentials.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, SECRET_BOX_KEY_SIZE);

    /* a short (damaged) key file is an error, not a weaker key */
    assert_int_equal(truncate(path, 8), 0);
    secret_box box;
    assert_int_equal(secret_box_load(dir, &box), -1);
    remove_folder(dir);
}

static void masks_never_show_the_whole_secret(void **state)
{
    (void)state;
    char masked[64];
    secret_box_mask("sk-test-abcdefghijklmnop-c0de", masked, sizeof(masked));
    assert_string_equal(masked, "sk-t…c0de");
    secret_box_mask("short-secret", masked, sizeof(masked));
    assert_null(strstr(masked, "short"));
    assert_non_null(strstr(masked, "12"));
    secret_box_mask("", masked, sizeof(masked));
    assert_null(strstr(masked, "secret"));
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sealed_credential_opens_to_the_same_text),
        cmocka_unit_test(longest_credential_fits_the_column),
        cmocka_unit_test(any_changed_byte_or_other_key_is_refused),
        cmocka_unit_test(key_file_is_private_and_shared_by_racing_processes),
        cmocka_unit_test(masks_never_show_the_whole_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
