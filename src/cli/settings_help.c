/* settings_help.c — what the table says to people: each command's --help, `reelay --help`, and the
 * README's table of settings (`reelay settings --markdown`, checked against README.md by a test). */
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "cli/settings.h"

enum { HELP_WIDTH = 100, HELP_LABEL_WIDTH = 28 };

/* A stream that remembers whether any write failed. */
typedef struct writer {
    FILE *out;
    bool failed;
} writer;

static void put(writer *w, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void put(writer *w, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    if (vfprintf(w->out, format, args) < 0) w->failed = true;
    va_end(args);
}

static int finish(writer *w)
{
    if (fflush(w->out) != 0) w->failed = true;
    return w->failed ? -1 : 0;
}

/* Writes text word by word from column `column`, breaking lines before HELP_WIDTH and indenting the
 * continuation lines by `indent`; ends the line. */
static void put_wrapped(writer *w, size_t column, size_t indent, const char *text)
{
    const char *p = text;
    bool first_word = true;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t length = strcspn(p, " ");
        if (length == 0) break;
        if (!first_word && column + 1 + length > HELP_WIDTH) {
            put(w, "\n%*s", (int)indent, "");
            column = indent;
        } else if (!first_word) {
            put(w, " ");
            column++;
        }
        put(w, "%.*s", (int)length, p);
        column += length;
        p += length;
        first_word = false;
    }
    put(w, "\n");
}

static bool is_numeric(setting_type type)
{
    return type == SETTING_INTEGER || type == SETTING_SECONDS || type == SETTING_MILLISECONDS ||
           type == SETTING_NUMBER;
}

/* The default as help shows it ("" when there is none to show). */
static const char *default_text(const setting_definition *d)
{
    if (d->default_note != NULL) return d->default_note;
    if (d->type == SETTING_BOOL)
        return d->default_value == NULL ? "" : d->default_value[0] == '1' ? "on" : "off";
    return d->default_value != NULL ? d->default_value : "";
}

/* The bounds of a number, or the choices of an enum, in short ("0 to 256"); "" for other types. */
static void bounds_text(const setting_definition *d, char *out, size_t out_size)
{
    out[0] = '\0';
    if (d->type == SETTING_NUMBER)
        snprintf(out, out_size, "%g to %g", d->number_minimum, d->number_maximum);
    else if (is_numeric(d->type))
        snprintf(out, out_size, "%lld to %lld", d->minimum, d->maximum);
    else if (d->type == SETTING_ENUM)
        setting_allowed_text(d, out, out_size);
}

/* "--data DIR", "--engine-paused". */
static void flag_label(const setting_definition *d, char *out, size_t out_size)
{
    snprintf(out, out_size, "--%s%s%s", d->flag, d->value_name ? " " : "",
             d->value_name ? d->value_name : "");
}

static void put_setting_help(writer *w, const setting_definition *d)
{
    char label[64], bounds[160], text[768];
    flag_label(d, label, sizeof(label));
    bounds_text(d, bounds, sizeof(bounds));
    const char *fallback = default_text(d);
    int n = snprintf(text, sizeof(text), "%s", d->help);
    const char *parts[3] = {d->env, fallback[0] ? "default " : NULL, bounds[0] ? bounds : NULL};
    const char *opening = " [";
    for (size_t i = 0; i < 3 && n >= 0 && (size_t)n < sizeof(text); i++) {
        if (parts[i] == NULL) continue;
        n +=
            snprintf(text + n, sizeof(text) - (size_t)n, "%s%s%s", opening, parts[i], i == 1 ? fallback : "");
        opening = "; ";
    }
    if (n >= 0 && (size_t)n < sizeof(text) && opening[0] == ';')
        snprintf(text + n, sizeof(text) - (size_t)n, "]");
    if (strlen(label) + 3 > HELP_LABEL_WIDTH) {
        put(w, "  %s\n%*s", label, HELP_LABEL_WIDTH, "");
    } else {
        put(w, "  %-*s", HELP_LABEL_WIDTH - 2, label);
    }
    put_wrapped(w, HELP_LABEL_WIDTH, HELP_LABEL_WIDTH, text);
}

/* The usage lines: "usage: " before the first, aligned continuation for the others. */
static void put_synopsis(writer *w, const char *synopsis)
{
    const char *line = synopsis;
    for (bool first = true; *line; first = false) {
        size_t length = strcspn(line, "\n");
        put(w, "%s%.*s\n", first ? "usage: " : "       ", (int)length, line);
        line += length;
        if (*line == '\n') line++;
    }
}

int settings_write_help(FILE *out, cli_command command)
{
    writer w = {.out = out};
    const cli_command_info *info = cli_command_info_of(command);
    if (info == NULL) return -1;
    put_synopsis(&w, info->synopsis);
    if (info->description) put(&w, "\n%s", info->description);
    put(&w, "\nflags:\n");
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        if (d->commands & command) put_setting_help(&w, d);
    }
    put(&w, "  %-*s%s\n", HELP_LABEL_WIDTH - 2, "--help", "this help");
    return finish(&w);
}

int settings_write_overview(FILE *out)
{
    writer w = {.out = out};
    put(&w, "reelay — a self-hosted gateway for asynchronous AI video generation\n\n"
            "usage: reelay <command> [flags]\n\ncommands:\n");
    size_t count = 0;
    const cli_command_info *commands = cli_commands(&count);
    for (size_t i = 0; i < count; i++) {
        char words[96];
        snprintf(words, sizeof(words), "%s%s%s", commands[i].name, commands[i].actions ? " " : "",
                 commands[i].actions ? commands[i].actions : "");
        if (strlen(words) + 3 > HELP_LABEL_WIDTH)
            put(&w, "  %s\n%*s", words, HELP_LABEL_WIDTH, "");
        else
            put(&w, "  %-*s", HELP_LABEL_WIDTH - 2, words);
        put_wrapped(&w, HELP_LABEL_WIDTH, HELP_LABEL_WIDTH, commands[i].summary);
    }
    put(&w, "\nflags every command working on a data folder takes:\n");
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        if ((d->commands & CLI_DATA_COMMANDS) == CLI_DATA_COMMANDS) put_setting_help(&w, d);
    }
    put(&w, "\nRun `reelay <command> --help` for a command's flags.\n");
    return finish(&w);
}

/* "all", or the names of the commands that take d, comma-separated. */
static void commands_text(const setting_definition *d, char *out, size_t out_size)
{
    if ((d->commands & CLI_DATA_COMMANDS) == CLI_DATA_COMMANDS) {
        snprintf(out, out_size, "all");
        return;
    }
    size_t count = 0, used = 0;
    const cli_command_info *commands = cli_commands(&count);
    out[0] = '\0';
    for (size_t i = 0; i < count && used < out_size; i++) {
        if (!(d->commands & commands[i].command)) continue;
        int n = snprintf(out + used, out_size - used, "%s`%s`", used ? ", " : "", commands[i].name);
        if (n < 0) return;
        used += (size_t)n;
    }
}

int settings_write_markdown(FILE *out)
{
    writer w = {.out = out};
    put(&w, "| flag | environment | default | commands | meaning |\n|---|---|---|---|---|\n");
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        if (d->env == NULL) continue;
        char label[64], bounds[160], commands[96];
        flag_label(d, label, sizeof(label));
        bounds_text(d, bounds, sizeof(bounds));
        commands_text(d, commands, sizeof(commands));
        const char *fallback = default_text(d);
        bool quoted = d->default_note == NULL && d->default_value != NULL && !is_numeric(d->type) &&
                      d->type != SETTING_BOOL;
        put(&w, "| `%s` | `%s` | %s%s%s | %s | %s%s%s%s |\n", label, d->env, quoted ? "`" : "",
            fallback[0] ? fallback : "none", quoted ? "`" : "", commands, d->help, bounds[0] ? " (" : "",
            bounds, bounds[0] ? ")" : "");
    }
    return finish(&w);
}

int settings_write_text(FILE *out)
{
    writer w = {.out = out};
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        if (d->env == NULL) continue;
        char label[64], allowed[160], commands[96];
        flag_label(d, label, sizeof(label));
        setting_allowed_text(d, allowed, sizeof(allowed));
        commands_text(d, commands, sizeof(commands));
        const char *fallback = default_text(d);
        put(&w, "%s%s\n  environment: %s\n  default:     %s\n  allowed:     %s\n  commands:    %s\n  ",
            id ? "\n" : "", label, d->env, fallback[0] ? fallback : "none", allowed, commands);
        put_wrapped(&w, 2, 2, d->help);
    }
    return finish(&w);
}
