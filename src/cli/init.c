/* init.c — `reelay init`: makes a data folder ready to serve (database, link-signing secret, result
 * storage, the sandbox channel, the default prices) and, on its first run only, a first API key and the
 * admin token (admin/admin.h). Running it again changes nothing. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin/admin.h"
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

/* The admin token, unless the database has one, and on a database without keys a first key: each
 * printed once, as text or as one JSON object ({"key_id", "key", …, "admin_token"}; {} when nothing was
 * made). 0, or 1 after saying why. */
static int init_first_secrets(store *db, const char *data_dir, size_t key_count, bool json)
{
    char token[ADMIN_TOKEN_SIZE];
    bool issued = false;
    if (admin_token_issue_once(db, token, &issued) != STORE_OK) {
        fprintf(stderr, "reelay: cannot record the admin token in the database\n");
        return 1;
    }
    admin_context ctx = {.db = db, .data_dir = data_dir, .flag_names = true};
    admin_new_key key;
    admin_result made = {.outcome = ADMIN_DONE};
    if (key_count == 0) {
        /* the first key can run tasks at once: a generous grant, no limits */
        admin_key_create(&ctx,
                         &(admin_key_fields){
                             .name = "first", .credits = INIT_KEY_CREDITS, .rpm = -1, .max_concurrent = -1},
                         &key, &made);
        if (made.outcome != ADMIN_DONE) {
            sodium_memzero(token, sizeof(token));
            return cli_admin_report(CLI_INIT, &made) == 0 ? 0 : 1;
        }
    }
    int result = 0;
    if (json) {
        json_t *out = key_count == 0 ? admin_new_key_json(&key, "key_id") : json_object();
        if (out && issued) json_object_set_new(out, "admin_token", json_string(token));
        result = cli_print_json(out, 0);
    } else {
        if (key_count == 0)
            printf("Initialised %s with a sandbox channel serving every model.\n"
                   "API key %s (shown once): %s\ncallback signing secret (shown once): %s\ncredits: %lld\n",
                   data_dir, key.key.id, key.secret, key.webhook_secret, (long long)key.credits);
        else
            printf("%s is already initialised (%zu key%s); `reelay keys create` makes another key.\n",
                   data_dir, key_count, key_count == 1 ? "" : "s");
        if (issued) printf("admin token (shown once): %s\n", token);
    }
    if (key_count == 0) admin_new_key_forget(&key);
    sodium_memzero(token, sizeof(token));
    return result;
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
    } else {
        result = init_first_secrets(db, data_dir, key_count, json);
    }
    free(keys);
    store_close(db);
    return result;
}
