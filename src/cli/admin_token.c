/* admin_token.c — `reelay admin-token rotate [--json]`: a new admin token (admin/admin.h), printed once;
 * the database keeps only its hash, so the old token stops working at once on every node. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "cli/cli.h"

int cli_admin_token(int argc, char **argv)
{
    if (argc < 2) return cli_misuse(CLI_ADMIN_TOKEN, "which admin-token command?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return settings_write_help(stdout, CLI_ADMIN_TOKEN) == 0 ? 0 : 1;
    if (strcmp(argv[1], "rotate") != 0)
        return cli_misuse(CLI_ADMIN_TOKEN, "unknown admin-token command '%s'", argv[1]);
    settings s;
    int first = 0;
    int status = cli_settings_read(&s, CLI_ADMIN_TOKEN, argc - 1, argv + 1, &first);
    if (status >= 0) return status;
    if (first + 1 < argc) return cli_misuse(CLI_ADMIN_TOKEN, "unexpected argument '%s'", argv[first + 1]);
    const char *data_dir = settings_text(&s, SETTING_DATA);
    store *db = cli_store_open(settings_text(&s, SETTING_DATABASE), data_dir);
    if (db == NULL) return 1;
    char token[ADMIN_TOKEN_SIZE];
    int result = 1;
    if (admin_token_rotate(db, token) != STORE_OK) {
        fprintf(stderr, "reelay admin-token: the new token could not be recorded; the old one still works\n");
    } else if (settings_bool(&s, SETTING_JSON)) {
        result = cli_print_json(json_pack("{s:s}", "admin_token", token), 0);
    } else {
        printf("admin token (shown once; the previous one no longer works): %s\n", token);
        result = 0;
    }
    sodium_memzero(token, sizeof(token));
    store_close(db);
    return result;
}
