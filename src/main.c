/* main.c — the command line's front door: picks the command (src/cli/: init, serve, keys, credits,
 * channels, settings, migrate-store, admin-token) and hands it the rest of the arguments. Every option is a
 * row of the settings table (cli/settings.h): a flag beats its REELAY_* environment twin, which beats the
 * default. */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/settings.h"

typedef struct command_entry {
    const char *name;
    int (*run)(int argc, char **argv);
} command_entry;

static const command_entry commands[] = {
    {"init", cli_init},
    {"serve", cli_serve},
    {"keys", cli_keys},
    {"credits", cli_credits},
    {"channels", cli_channels},
    {"settings", cli_settings},
    {"migrate-store", cli_migrate_store},
    {"admin-token", cli_admin_token},
};

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "reelay: libsodium could not start\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        settings_write_overview(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0)
        return settings_write_overview(stdout) == 0 ? 0 : 1;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(command, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "reelay: unknown command '%s'\n\n", command);
    settings_write_overview(stderr);
    return 2;
}
