/* test_cli_secrets.c — the fingerprint of the secrets nodes share (cli.h): the same secrets give the same
 * text, each secret moves its own half and only that, and the text shows nothing of either secret; and
 * cli_secrets_check on a SQLite database: the first folder's fingerprint is recorded, a folder with a
 * swapped secret is refused, and a database without a fingerprint takes the folder's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void fingerprint_halves(const char *fingerprint, char link[64], char credentials[64])
{
    assert_int_equal(sscanf(fingerprint, "v1 link=%63s credentials=%63s", link, credentials), 2);
    assert_int_equal(strlen(link), 2 * CLI_SECRETS_HASH_BYTES);
    assert_int_equal(strlen(credentials), 2 * CLI_SECRETS_HASH_BYTES);
}

static void the_fingerprint_follows_each_secret_and_hides_it(void **state)
{
    (void)state;
    unsigned char link[32], credentials[32];
    randombytes_buf(link, sizeof(link));
    randombytes_buf(credentials, sizeof(credentials));
    char first[CLI_SECRETS_FINGERPRINT_SIZE], again[CLI_SECRETS_FINGERPRINT_SIZE];
    cli_secrets_fingerprint(link, credentials, first);
    cli_secrets_fingerprint(link, credentials, again);
    assert_string_equal(first, again);
    char link_half[64], credentials_half[64];
    fingerprint_halves(first, link_half, credentials_half);
    assert_string_not_equal(link_half, credentials_half);

    /* nothing of the secrets: neither in hex, nor the two swapped give the same */
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), link, sizeof(link));
    assert_null(strstr(first, hex));
    sodium_bin2hex(hex, sizeof(hex), credentials, sizeof(credentials));
    assert_null(strstr(first, hex));
    char swapped[CLI_SECRETS_FINGERPRINT_SIZE];
    cli_secrets_fingerprint(credentials, link, swapped);
    assert_string_not_equal(first, swapped);

    /* one bit of the link secret moves the link half only */
    char other[CLI_SECRETS_FINGERPRINT_SIZE], other_link[64], other_credentials[64];
    link[31] ^= 1;
    cli_secrets_fingerprint(link, credentials, other);
    fingerprint_halves(other, other_link, other_credentials);
    assert_string_not_equal(other_link, link_half);
    assert_string_equal(other_credentials, credentials_half);
    link[31] ^= 1;
    credentials[0] ^= 0x80;
    cli_secrets_fingerprint(link, credentials, other);
    fingerprint_halves(other, other_link, other_credentials);
    assert_string_equal(other_link, link_half);
    assert_string_not_equal(other_credentials, credentials_half);
}

static void write_file(const char *dir, const char *name, const unsigned char *bytes, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static void read_file(const char *dir, const char *name, unsigned char *bytes, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(bytes, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static void the_check_records_then_refuses_another_folders_secrets(void **state)
{
    (void)state;
    char dir[] = "/tmp/reelay-secrets-XXXXXX";
    assert_non_null(mkdtemp(dir));
    store *db = cli_store_open_unchecked(NULL, dir);
    assert_non_null(db);
    char stored[CLI_SECRETS_FINGERPRINT_SIZE];
    assert_int_equal(cli_secrets_check(db, dir, true), 0); /* a fresh database takes this folder's */
    assert_int_equal(store_fact_claim(db, CLI_SECRETS_FACT, "ignored", stored, sizeof(stored)), STORE_OK);
    assert_true(strncmp(stored, "v1 link=", 8) == 0);
    assert_int_equal(cli_secrets_check(db, dir, false), 0);

    unsigned char kept[32], other[32];
    read_file(dir, "link.secret", kept, sizeof(kept));
    randombytes_buf(other, sizeof(other));
    write_file(dir, "link.secret", other, sizeof(other));
    assert_int_equal(cli_secrets_check(db, dir, false), 1);
    assert_int_equal(cli_secrets_check(db, dir, true), 1);
    write_file(dir, "link.secret", kept, sizeof(kept));
    assert_int_equal(cli_secrets_check(db, dir, false), 0);
    store_close(db);

    /* cli_store_open checks too */
    write_file(dir, "credentials.key", other, sizeof(other));
    assert_null(cli_store_open(NULL, dir));
    char command[600];
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    assert_int_equal(system(command), 0);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_fingerprint_follows_each_secret_and_hides_it),
        cmocka_unit_test(the_check_records_then_refuses_another_folders_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
