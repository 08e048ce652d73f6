/* init.c — `reelay init`: makes a data folder ready to serve (database, link-signing secret, result
 * storage, the sandbox channel, the default prices) and, on its first run only, a first API key. Running
 * it again changes nothing. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blob/blob.h"
#include "blob/link.h"
#include "catalog/prices.h"
#include "cli/cli.h"
#include "store/store.h"
#include "util/clock.h"

/* What `reelay init` grants the first key, so that the first run just works. */
#define INIT_KEY_CREDITS 10000000LL

/* mkdir -p */
static int make_folder_and_parents(const char *path)
{
    char buffer[4096];
    if (snprintf(buffer, sizeof(buffer), "%s", path) >= (int)sizeof(buffer)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buffer + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buffer, 0750) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buffer, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes <data>/prices.json with the default prices unless it exists (an operator's edits are kept). */
static int write_default_prices(const char *data_dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/prices.json", data_dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *file = fopen(path, "wxe");
    if (file == NULL) return errno == EEXIST ? 0 : -1;
    char *text = price_table_default_json();
    int ok = text != NULL && fputs(text, file) >= 0;
    free(text);
    if (fclose(file) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* The secret and the storage (a folder created when missing, or a bucket checked). 0, or 1 after saying
 * why. */
static int prepare_secret_and_storage(const settings *s, const char *data_dir)
{
    link_signer signer;
    blob_store *blobs = NULL;
    if (link_signer_load(data_dir, &signer) != 0) {
        fprintf(stderr, "reelay: cannot create the secret in %s\n", data_dir);
        return 1;
    }
    if (cli_storage_open(s, data_dir, &blobs) != 0) { /* an s3:// bucket is checked here */
        sodium_memzero(&signer, sizeof(signer));
        return 1;
    }
    blob_store_close(blobs);
    sodium_memzero(&signer, sizeof(signer));
    return 0;
}

int cli_init(int argc, char **argv)
{
    settings s;
    int first = 0;
    int status = cli_settings_read(&s, CLI_INIT, argc, argv, &first);
    if (status >= 0) return status;
    if (first < argc) return cli_misuse(CLI_INIT, "unexpected argument '%s'", argv[first]);
    const char *data_dir = settings_text(&s, SETTING_DATA);
    bool json = settings_bool(&s, SETTING_JSON);
    if (make_folder_and_parents(data_dir) != 0) {
        fprintf(stderr, "reelay: cannot create %s: %s\n", data_dir, strerror(errno));
        return 1;
    }
    store *db = cli_store_open_unchecked(settings_text(&s, SETTING_DATABASE), data_dir);
    if (db == NULL) return 1;
    /* the secrets exist from here on; a database another node initialised must hold their fingerprint
     * already (else nothing more is written to it) */
    if (prepare_secret_and_storage(&s, data_dir) != 0 || cli_secrets_check(db, data_dir, true) != 0) {
        store_close(db);
        return 1;
    }
    if (write_default_prices(data_dir) != 0) {
        fprintf(stderr, "reelay: cannot write %s/prices.json: %s\n", data_dir, strerror(errno));
        store_close(db);
        return 1;
    }
    channel_record sandbox = {.name = "sandbox",
                              .provider = "sandbox",
                              .models = "all",
                              .priority = 0,
                              .weight = 1,
                              .enabled = true,
                              .created_at = clock_unix_seconds()};
    store_status channel_status = store_channel_insert(db, &sandbox);
    key_record *keys = NULL;
    size_t key_count = 0;
    int result = 0;
    if ((channel_status != STORE_OK && channel_status != STORE_CONFLICT) ||
        store_key_list(db, &keys, &key_count) != STORE_OK) {
        fprintf(stderr, "reelay: cannot initialise %s\n", data_dir);
        result = 1;
    } else if (key_count == 0) {
        if (!json) printf("Initialised %s with a sandbox channel serving every model.\n", data_dir);
        /* the first key can run tasks at once: a generous grant, no limits */
        key_spec first_key = {.name = "first", .credits = INIT_KEY_CREDITS};
        result = cli_keys_create(settings_text(&s, SETTING_DATABASE), data_dir, &first_key,
                                 json ? "key_id" : NULL);
    } else if (json) {
        puts("{}");
    } else {
        printf("%s is already initialised (%zu key%s); `reelay keys create` makes another key.\n", data_dir,
               key_count, key_count == 1 ? "" : "s");
    }
    free(keys);
    store_close(db);
    return result;
}
