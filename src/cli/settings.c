/* settings.c — reading the table of settings_table.c: flags (getopt_long built from the rows a command
 * takes), then REELAY_* variables, then defaults, each value checked against its row's type and
 * bounds. The only place in reelay that reads the environment (see settings.h). */
#include "cli/settings.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/ids.h"
#include "util/url_scheme.h"

enum { OPTION_HELP = 1, OPTION_FIRST_SETTING = 1000 };

static const char *const true_words[] = {"1", "true", "yes", "on", NULL};
static const char *const false_words[] = {"0", "false", "no", "off", NULL};

static bool is_one_of(const char *text, const char *const *words, long long *index)
{
    for (long long i = 0; words[i] != NULL; i++)
        if (strcasecmp(text, words[i]) == 0) {
            if (index) *index = i;
            return true;
        }
    return false;
}

static bool read_whole_number(const char *text, long long minimum, long long maximum, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) return false;
    *out = value;
    return true;
}

static bool read_decimal(const char *text, double minimum, double maximum, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= minimum && value <= maximum)) return false;
    *out = value;
    return true;
}

bool settings_split_host_port(const char *text, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || host_size == 0) return false;
    const char *host_start = text, *host_end = colon;
    if (*host_start == '[' && host_end[-1] == ']') host_start++, host_end--; /* [::1]:8080 */
    if (host_end <= host_start || (size_t)(host_end - host_start) >= host_size) return false;
    long long number = 0;
    if (!read_whole_number(colon + 1, 0, 65535, &number)) return false;
    memcpy(host, host_start, (size_t)(host_end - host_start));
    host[host_end - host_start] = '\0';
    *port = (int)number;
    return true;
}

static void join_words(const char *const *words, const char *last_separator, char *out, size_t out_size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; words[i] != NULL && used < out_size; i++) {
        const char *separator = i == 0 ? "" : words[i + 1] == NULL ? last_separator : ", ";
        int n = snprintf(out + used, out_size - used, "%s%s", separator, words[i]);
        if (n < 0) return;
        used += (size_t)n;
    }
}

void setting_allowed_text(const setting_definition *d, char *out, size_t out_size)
{
    char words[256];
    switch (d->type) {
    case SETTING_TEXT:
        if (d->maximum == 0)
            snprintf(out, out_size, d->minimum > 0 ? "not empty" : "any text");
        else
            snprintf(out, out_size, "%lld to %lld characters", d->minimum, d->maximum);
        return;
    case SETTING_NAME:
        snprintf(out, out_size, "1 to %lld letters, digits, '-' or '_'", d->maximum);
        return;
    case SETTING_PATH:
        snprintf(out, out_size, "a path of 1 to %d bytes", SETTING_PATH_MAX - 1);
        return;
    case SETTING_URL:
        snprintf(out, out_size, "an absolute http(s) URL without credentials or spaces");
        return;
    case SETTING_BASE_URL:
        snprintf(out, out_size, "an absolute http(s) URL without credentials, spaces, query or fragment");
        return;
    case SETTING_HOST_PORT:
        snprintf(out, out_size, "HOST:PORT with a port from 0 to 65535");
        return;
    case SETTING_INTEGER:
        snprintf(out, out_size, "a whole number from %lld to %lld", d->minimum, d->maximum);
        return;
    case SETTING_SECONDS:
    case SETTING_MILLISECONDS:
        snprintf(out, out_size, "a whole number of %s from %lld to %lld",
                 d->type == SETTING_SECONDS ? "seconds" : "milliseconds", d->minimum, d->maximum);
        return;
    case SETTING_NUMBER:
        snprintf(out, out_size, "a number from %g to %g", d->number_minimum, d->number_maximum);
        return;
    case SETTING_ENUM:
        join_words(d->choices, " or ", words, sizeof(words));
        snprintf(out, out_size, "one of %s", words);
        return;
    case SETTING_BOOL:
        snprintf(out, out_size, "1, true, yes, on, 0, false, no or off");
        return;
    }
    snprintf(out, out_size, "?");
}

/* Checks text against the row's type; fills the value's text and number. */
static bool value_fits(const setting_definition *d, const char *text, setting_value *out)
{
    size_t length = strlen(text);
    long long number = 0;
    char host[SETTING_HOST_MAX + 1];
    int port = 0;
    switch (d->type) {
    case SETTING_TEXT:
        if ((long long)length < d->minimum || (d->maximum > 0 && (long long)length > d->maximum))
            return false;
        break;
    case SETTING_NAME:
        if (!ids_is_plain_name(text, (size_t)d->maximum)) return false;
        break;
    case SETTING_PATH:
        if (length == 0 || length >= SETTING_PATH_MAX) return false;
        break;
    case SETTING_URL:
    case SETTING_BASE_URL:
        if (!url_is_plain_http(text, d->type == SETTING_BASE_URL)) return false;
        break;
    case SETTING_HOST_PORT:
        if (!settings_split_host_port(text, host, sizeof(host), &port)) return false;
        number = port;
        break;
    case SETTING_INTEGER:
    case SETTING_SECONDS:
    case SETTING_MILLISECONDS:
        if (!read_whole_number(text, d->minimum, d->maximum, &number)) return false;
        break;
    case SETTING_NUMBER:
        if (!read_decimal(text, d->number_minimum, d->number_maximum, &out->number)) return false;
        break;
    case SETTING_ENUM:
        if (!is_one_of(text, d->choices, &number)) return false;
        break;
    case SETTING_BOOL:
        if (is_one_of(text, true_words, NULL))
            number = 1;
        else if (!is_one_of(text, false_words, NULL))
            return false;
        break;
    }
    out->text = text;
    out->integer = number;
    return true;
}

bool setting_value_read(const setting_definition *d, const char *text, setting_value *out, char *allowed,
                        size_t allowed_size)
{
    setting_value value = {.source = out->source};
    if (text != NULL && value_fits(d, text, &value)) {
        *out = value;
        return true;
    }
    if (allowed != NULL && allowed_size > 0) setting_allowed_text(d, allowed, allowed_size);
    return false;
}

static settings_status misuse(char *err, size_t err_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static settings_status misuse(char *err, size_t err_size, const char *format, ...)
{
    if (err != NULL && err_size > 0) {
        va_list args;
        va_start(args, format);
        vsnprintf(err, err_size, format, args);
        va_end(args);
    }
    return SETTINGS_MISUSE;
}

/* Reads one value for id from source, or says what is wrong with it under the name it was given by. */
static settings_status take_value(settings *s, setting_id id, const char *text, setting_source source,
                                  char *err, size_t err_size)
{
    const setting_definition *d = setting_definition_of(id);
    char allowed[160];
    setting_value value = {.source = source};
    if (setting_value_read(d, text, &value, allowed, sizeof(allowed))) {
        s->values[id] = value;
        return SETTINGS_OK;
    }
    if (source == SETTING_FROM_ENV)
        return misuse(err, err_size, "%s must be %s (got '%s')", d->env, allowed, text);
    if (source == SETTING_FROM_FLAG)
        return misuse(err, err_size, "--%s must be %s (got '%s')", d->flag, allowed, text);
    return misuse(err, err_size, "the default of --%s does not fit its own rule", d->flag); /* a table bug */
}

/* The message for a flag getopt did not take: one the command does not take, or none at all. */
static settings_status unknown_flag(cli_command command, const char *given, char *err, size_t err_size)
{
    const cli_command_info *info = cli_command_info_of(command);
    if (strncmp(given, "--", 2) == 0) {
        size_t length = strcspn(given + 2, "=");
        for (int id = 0; id < SETTING_COUNT; id++) {
            const setting_definition *d = setting_definition_of((setting_id)id);
            if (strlen(d->flag) == length && strncmp(d->flag, given + 2, length) == 0 &&
                !(d->commands & command))
                return misuse(err, err_size, "%.*s is not a flag of %s", (int)length + 2, given,
                              info ? info->name : "this command");
        }
    }
    return misuse(err, err_size, "unknown or incomplete flag '%s'", given);
}

/* getopt_long's list of the command's flags (and --help), in options[SETTING_COUNT + 2]. */
static void build_options(cli_command command, struct option *options)
{
    size_t used = 0;
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        if (!(d->commands & command)) continue;
        options[used++] =
            (struct option){d->flag, d->type == SETTING_BOOL ? optional_argument : required_argument, NULL,
                            OPTION_FIRST_SETTING + id};
    }
    options[used++] = (struct option){"help", no_argument, NULL, OPTION_HELP};
    options[used] = (struct option){NULL, 0, NULL, 0};
}

static settings_status parse_flags(settings *out, cli_command command, int argc, char **argv,
                                   int *first_positional, char *err, size_t err_size)
{
    struct option options[SETTING_COUNT + 2];
    build_options(command, options);
    optind = 0; /* GNU getopt: start over, whatever an earlier parse left */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == OPTION_HELP) return SETTINGS_HELP;
        if (c < OPTION_FIRST_SETTING || c >= OPTION_FIRST_SETTING + SETTING_COUNT)
            return unknown_flag(command, argv[optind - 1], err, err_size);
        setting_id id = (setting_id)(c - OPTION_FIRST_SETTING);
        /* a boolean flag alone is on */
        const char *text = optarg != NULL ? optarg : "1";
        settings_status status = take_value(out, id, text, SETTING_FROM_FLAG, err, err_size);
        if (status != SETTINGS_OK) return status;
    }
    *first_positional = optind;
    return SETTINGS_OK;
}

/* The process's environment: the one place reelay calls getenv. */
static const char *process_environment(const char *name)
{
    return getenv(name);
}

settings_status settings_parse(settings *out, cli_command command, int argc, char **argv, settings_env_fn env,
                               int *first_positional, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0) err[0] = '\0';
    memset(out, 0, sizeof(*out));
    out->command = command;
    if (env == NULL) env = process_environment;
    int first = argc;
    settings_status status = parse_flags(out, command, argc, argv, &first, err, err_size);
    if (status != SETTINGS_OK) return status;
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        if (!(d->commands & command) || out->values[id].source == SETTING_FROM_FLAG) continue;
        const char *text = d->env != NULL ? env(d->env) : NULL;
        if (text != NULL && text[0] != '\0')
            status = take_value(out, (setting_id)id, text, SETTING_FROM_ENV, err, err_size);
        else if (d->default_value != NULL)
            status = take_value(out, (setting_id)id, d->default_value, SETTING_FROM_DEFAULT, err, err_size);
        if (status != SETTINGS_OK) return status;
    }
    if (first_positional != NULL) *first_positional = first;
    return SETTINGS_OK;
}

static const setting_value *value_of(const settings *s, setting_id id)
{
    assert(setting_definition_of(id)->commands & s->command); /* a command reads only its own settings */
    return &s->values[id];
}

bool settings_given(const settings *s, setting_id id)
{
    setting_source source = value_of(s, id)->source;
    return source == SETTING_FROM_ENV || source == SETTING_FROM_FLAG;
}

const char *settings_text(const settings *s, setting_id id)
{
    return value_of(s, id)->text;
}

long long settings_integer(const settings *s, setting_id id)
{
    return value_of(s, id)->integer;
}

double settings_number(const settings *s, setting_id id)
{
    return value_of(s, id)->number;
}

bool settings_bool(const settings *s, setting_id id)
{
    assert(setting_definition_of(id)->type == SETTING_BOOL);
    return value_of(s, id)->integer != 0;
}
