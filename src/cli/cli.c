/* cli.c — what every command shares: reading its settings (and answering --help and misuse the same
 * way everywhere), opening the database, and the `reelay settings` command. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/cluster_signals.h"
#include "util/log.h"

/* The log levels in the order of the --log-level choices (settings_table.c). */
static const log_level log_levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};

int cli_misuse(cli_command command, const char *format, ...)
{
    const cli_command_info *info = cli_command_info_of(command);
    const char *name = info ? info->name : "?";
    va_list args;
    va_start(args, format);
    fprintf(stderr, "reelay %s: ", name);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n\n");
    if (info) {
        const char *line = info->synopsis;
        for (int first = 1; *line; first = 0) {
            size_t length = strcspn(line, "\n");
            fprintf(stderr, "%s%.*s\n", first ? "usage: " : "       ", (int)length, line);
            line += length + (line[length] == '\n');
        }
    }
    fprintf(stderr, "Run `reelay %s --help` for its flags.\n", name);
    return 2;
}

int cli_settings_read(settings *out, cli_command command, int argc, char **argv, int *first_positional)
{
    char err[512];
    switch (settings_parse(out, command, argc, argv, NULL, first_positional, err, sizeof(err))) {
    case SETTINGS_HELP:
        return settings_write_help(stdout, command) == 0 ? 0 : 1;
    case SETTINGS_MISUSE:
        return cli_misuse(command, "%s", err);
    case SETTINGS_OK:
        break;
    }
    if (command & CLI_DATA_COMMANDS) {
        long long level = settings_integer(out, SETTING_LOG_LEVEL);
        if (level >= 0 && level < (long long)(sizeof(log_levels) / sizeof(log_levels[0])))
            log_set_level(log_levels[level]);
    }
    return -1;
}

store *cli_store_open(const char *database_url, const char *data_dir)
{
    store *db = NULL;
    if (store_open_url(database_url, data_dir, &db) != STORE_OK) {
        bool postgres = database_url != NULL && strncmp(database_url, "postgres", 8) == 0;
        bool sqlite =
            database_url == NULL || database_url[0] == '\0' || strncmp(database_url, "sqlite:", 7) == 0;
        if (!postgres && !sqlite)
            fprintf(stderr, "reelay: --database must be `sqlite:` or `postgres://…` (or `postgresql://…`)\n");
        else if (postgres)
            fprintf(stderr, "reelay: cannot open the PostgreSQL database of --database (is it reachable, and "
                            "the user allowed? the log above says why)\n");
        else
            fprintf(stderr, "reelay: cannot open the database in %s (run `reelay init --data %s` first?)\n",
                    data_dir, data_dir);
        return NULL;
    }
    return db;
}

int cli_settings(int argc, char **argv)
{
    settings s;
    int first = 0;
    int status = cli_settings_read(&s, CLI_SETTINGS, argc, argv, &first);
    if (status >= 0) return status;
    if (first < argc) return cli_misuse(CLI_SETTINGS, "unexpected argument '%s'", argv[first]);
    int written =
        settings_bool(&s, SETTING_MARKDOWN) ? settings_write_markdown(stdout) : settings_write_text(stdout);
    return written == 0 ? 0 : 1;
}

void cli_tell_nodes(store *db, const char *kind, const char *body)
{
    if (cluster_signal_publish(db, kind, body) != STORE_OK)
        fprintf(stderr,
                "reelay: warning: the serving nodes were not told; they see the change within a second\n");
}
