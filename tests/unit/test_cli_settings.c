/* test_cli_settings.c — the settings table and its reader: a flag beats its variable, which beats the
 * default; every value is checked against its row and a misfit names the flag or variable and what is
 * allowed; the table itself is consistent (unique flags per command, defaults that fit their own rule),
 * and help and the README table are printed from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/settings.h"

/* A fake environment: pairs of name, value, set by each test. */
static const char *fake_env[16][2];

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < sizeof(fake_env) / sizeof(fake_env[0]) && fake_env[i][0]; i++)
        if (strcmp(fake_env[i][0], name) == 0) return fake_env[i][1];
    return NULL;
}

static void env_clear(void)
{
    memset(fake_env, 0, sizeof(fake_env));
}

static void env_set(const char *name, const char *value)
{
    size_t i = 0;
    while (fake_env[i][0] && strcmp(fake_env[i][0], name) != 0)
        i++;
    fake_env[i][0] = name;
    fake_env[i][1] = value;
}

/* Parses args (NULL-terminated, after the command word) for command with the fake environment. */
static settings_status parse(settings *out, cli_command command, char *err, size_t err_size, int *first, ...)
{
    static char *argv[32];
    static char words[32][256];
    int argc = 0;
    snprintf(words[argc], sizeof(words[argc]), "command");
    argv[argc] = words[argc];
    argc++;
    va_list args;
    va_start(args, first);
    for (const char *word = va_arg(args, const char *); word != NULL; word = va_arg(args, const char *)) {
        snprintf(words[argc], sizeof(words[argc]), "%s", word);
        argv[argc] = words[argc];
        argc++;
    }
    va_end(args);
    argv[argc] = NULL;
    int ignored = 0;
    return settings_parse(out, command, argc, argv, fake_getenv, first ? first : &ignored, err, err_size);
}

static void flag_beats_environment_beats_default(void **state)
{
    (void)state;
    settings s;
    char err[256];
    env_clear();
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_OK);
    assert_int_equal(settings_integer(&s, SETTING_RENDER_CONCURRENCY), 2);
    assert_int_equal(s.values[SETTING_RENDER_CONCURRENCY].source, SETTING_FROM_DEFAULT);
    assert_false(settings_given(&s, SETTING_RENDER_CONCURRENCY));
    assert_string_equal(settings_text(&s, SETTING_DATA), "./var");
    assert_null(settings_text(&s, SETTING_PUBLIC_URL)); /* no default: unset */
    assert_null(settings_text(&s, SETTING_FETCH_ALLOW));

    env_set("REELAY_RENDER_CONCURRENCY", "7");
    env_set("REELAY_DATA", "/srv/reelay");
    env_set("REELAY_FETCH_ALLOW", "127.0.0.1,10.0.0.0/8");
    env_set("REELAY_PUBLIC_URL", ""); /* empty counts as unset */
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_OK);
    assert_int_equal(settings_integer(&s, SETTING_RENDER_CONCURRENCY), 7);
    assert_int_equal(s.values[SETTING_RENDER_CONCURRENCY].source, SETTING_FROM_ENV);
    assert_true(settings_given(&s, SETTING_RENDER_CONCURRENCY));
    assert_string_equal(settings_text(&s, SETTING_DATA), "/srv/reelay");
    assert_string_equal(settings_text(&s, SETTING_FETCH_ALLOW), "127.0.0.1,10.0.0.0/8");
    assert_null(settings_text(&s, SETTING_PUBLIC_URL));

    assert_int_equal(
        parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--render-concurrency", "3", "--data=/tmp/x", NULL),
        SETTINGS_OK);
    assert_int_equal(settings_integer(&s, SETTING_RENDER_CONCURRENCY), 3);
    assert_int_equal(s.values[SETTING_RENDER_CONCURRENCY].source, SETTING_FROM_FLAG);
    assert_string_equal(settings_text(&s, SETTING_DATA), "/tmp/x");
    /* the last of a repeated flag wins */
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--threads", "4", "--threads", "5", NULL),
                     SETTINGS_OK);
    assert_int_equal(settings_integer(&s, SETTING_THREADS), 5);
    /* a flag's good value wins over a variable's bad one: only the value used is checked */
    env_set("REELAY_THREADS", "lots");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--threads", "1", NULL), SETTINGS_OK);
    assert_int_equal(settings_integer(&s, SETTING_THREADS), 1);
    env_clear();
}

static void misfits_name_the_flag_or_variable_and_what_is_allowed(void **state)
{
    (void)state;
    settings s;
    char err[256];
    env_clear();
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--threads", "300", NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "--threads must be a whole number from 0 to 256 (got '300')");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--threads", "4x", NULL), SETTINGS_MISUSE);
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--threads", "", NULL), SETTINGS_MISUSE);
    env_set("REELAY_THREADS", "abc");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "REELAY_THREADS must be a whole number from 0 to 256 (got 'abc')");
    env_clear();
    env_set("REELAY_TASK_TIMEOUT", "0");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_MISUSE);
    assert_string_equal(err,
                        "REELAY_TASK_TIMEOUT must be a whole number of seconds from 1 to 2592000 (got '0')");
    env_clear();
    env_set("REELAY_FETCH_MAX_BYTES", "-5"); /* was ignored with a warning; now refused like any other */
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_MISUSE);
    assert_non_null(strstr(err, "REELAY_FETCH_MAX_BYTES must be a whole number from 1 to"));
    env_clear();
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--poll-scale", "0", NULL),
                     SETTINGS_MISUSE);
    assert_string_equal(err, "--poll-scale must be a number from 0.001 to 100 (got '0')");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--poll-scale", "nan", NULL),
                     SETTINGS_MISUSE);
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--poll-scale", "0.01", NULL), SETTINGS_OK);
    assert_true(settings_number(&s, SETTING_POLL_SCALE) > 0.0099 &&
                settings_number(&s, SETTING_POLL_SCALE) < 0.0101);
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--log-level", "loud", NULL),
                     SETTINGS_MISUSE);
    assert_string_equal(err, "--log-level must be one of debug, info, warn or error (got 'loud')");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--log-level", "WARN", NULL), SETTINGS_OK);
    assert_int_equal(settings_integer(&s, SETTING_LOG_LEVEL), 2);
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--listen", "8080", NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "--listen must be HOST:PORT with a port from 0 to 65535 (got '8080')");
    assert_int_equal(parse(&s, CLI_KEYS, err, sizeof(err), NULL, "--group", "a b", NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "--group must be 1 to 31 letters, digits, '-' or '_' (got 'a b')");
    /* a tiny buffer is truncated, never overrun */
    char tiny[8];
    assert_int_equal(parse(&s, CLI_SERVE, tiny, sizeof(tiny), NULL, "--threads", "300", NULL),
                     SETTINGS_MISUSE);
    assert_string_equal(tiny, "--threa");
}

static void unknown_flags_and_other_commands_flags(void **state)
{
    (void)state;
    settings s;
    char err[256];
    env_clear();
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--bogus", NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "unknown or incomplete flag '--bogus'");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--threads", NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "unknown or incomplete flag '--threads'");
    assert_int_equal(parse(&s, CLI_INIT, err, sizeof(err), NULL, "--listen", "x:1", NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "--listen is not a flag of init");
    assert_int_equal(parse(&s, CLI_KEYS, err, sizeof(err), NULL, "--note=x", NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "--note is not a flag of keys");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--threads", "2", "--help", NULL),
                     SETTINGS_HELP);
    /* a variable of a setting the command does not take is not read, however wrong */
    env_set("REELAY_LISTEN", "nonsense");
    assert_int_equal(parse(&s, CLI_INIT, err, sizeof(err), NULL, NULL), SETTINGS_OK);
    env_clear();
}

static void booleans(void **state)
{
    (void)state;
    settings s;
    char err[256];
    env_clear();
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_OK);
    assert_false(settings_bool(&s, SETTING_ENGINE_PAUSED));
    assert_true(settings_bool(&s, SETTING_ACCESS_LOG));
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, "--engine-paused", "--access-log=0", NULL),
                     SETTINGS_OK);
    assert_true(settings_bool(&s, SETTING_ENGINE_PAUSED));
    assert_false(settings_bool(&s, SETTING_ACCESS_LOG));
    const char *on[] = {"1", "true", "YES", "on"}, *off[] = {"0", "false", "No", "OFF"};
    for (size_t i = 0; i < 4; i++) {
        env_set("REELAY_ENGINE_PAUSED", on[i]);
        env_set("REELAY_ACCESS_LOG", off[i]);
        assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_OK);
        assert_true(settings_bool(&s, SETTING_ENGINE_PAUSED));
        assert_false(settings_bool(&s, SETTING_ACCESS_LOG));
    }
    env_set("REELAY_ENGINE_PAUSED", "2");
    assert_int_equal(parse(&s, CLI_SERVE, err, sizeof(err), NULL, NULL), SETTINGS_MISUSE);
    assert_string_equal(err, "REELAY_ENGINE_PAUSED must be 1, true, yes, on, 0, false, no or off (got '2')");
    /* a boolean flag takes its value only after '=': the next word stays a word */
    env_clear();
    int first = 0;
    assert_int_equal(parse(&s, CLI_CHANNELS, err, sizeof(err), &first, "--disabled", "1", NULL), SETTINGS_OK);
    assert_true(settings_bool(&s, SETTING_DISABLED));
    assert_int_equal(first, 2);
}

static void positional_words_come_last(void **state)
{
    (void)state;
    settings s;
    char err[256];
    int first = 0;
    env_clear();
    /* argv[0] is the command word; as after `reelay keys`, argv[1] is "update" */
    assert_int_equal(
        parse(&s, CLI_KEYS, err, sizeof(err), &first, "--rpm", "5", "key_1", "--data", "d", NULL),
        SETTINGS_OK);
    assert_int_equal(first, 5);
    assert_int_equal(settings_integer(&s, SETTING_RPM), 5);
    assert_true(settings_given(&s, SETTING_RPM));
    assert_false(settings_given(&s, SETTING_KEY_MAX_CONCURRENT));
    assert_int_equal(settings_integer(&s, SETTING_CREDITS), 0);
    /* a value that looks like a flag is still the value */
    assert_int_equal(
        parse(&s, CLI_CHANNELS, err, sizeof(err), &first, "--priority", "-5", "--webhook-secret", "", NULL),
        SETTINGS_OK);
    assert_int_equal(settings_integer(&s, SETTING_PRIORITY), -5);
    assert_string_equal(settings_text(&s, SETTING_WEBHOOK_SECRET), "");
    assert_true(settings_given(&s, SETTING_WEBHOOK_SECRET));
}

static void urls_and_addresses(void **state)
{
    (void)state;
    const setting_definition *base = setting_definition_of(SETTING_BASE_URL_FLAG);
    const setting_definition *url = setting_definition_of(SETTING_FAL_JWKS_URL);
    setting_value value = {0};
    char allowed[160];
    assert_true(setting_value_read(base, "https://api.example.com/v1/", &value, NULL, 0));
    assert_true(setting_value_read(base, "HTTP://127.0.0.1:9000", &value, NULL, 0));
    const char *refused[] = {"ftp://example.com", "https://user:pw@example.com",
                             "https://",          "https:///path",
                             "https://a b",       "https://a/\x01",
                             "example.com",       "https://a/?q=1",
                             "https://a/#top",    ""};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_false(setting_value_read(base, refused[i], &value, allowed, sizeof(allowed)));
    assert_string_equal(allowed, "an absolute http(s) URL without credentials, spaces, query or fragment");
    assert_true(setting_value_read(url, "https://example.com/keys.json?v=2", &value, NULL, 0));
    assert_false(setting_value_read(url, "https://u@example.com/keys.json", &value, NULL, 0));

    char host[64];
    int port = -1;
    assert_true(settings_split_host_port("127.0.0.1:8080", host, sizeof(host), &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_true(settings_split_host_port("[::1]:0", host, sizeof(host), &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    const char *bad[] = {"8080", ":8080", "host:", "host:65536", "host:-1", "host:80x", "[]:80", "h:8 0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(settings_split_host_port(bad[i], host, sizeof(host), &port));
    assert_false(settings_split_host_port("averylonghostname:80", host, 8, &port));
}

/* Every row is complete, every default fits its own rule, and no command has a flag twice. */
static void the_table_is_consistent(void **state)
{
    (void)state;
    size_t count = 0;
    const cli_command_info *commands = cli_commands(&count);
    assert_true(count >= 6);
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        assert_non_null(d->flag);
        assert_non_null(d->help);
        assert_true(d->commands != 0);
        assert_true((d->value_name == NULL) == (d->type == SETTING_BOOL));
        assert_true((d->choices != NULL) == (d->type == SETTING_ENUM));
        /* REELAY_… for all but the two credentials every S3 tool reads under AWS's own names */
        if (d->env && strcmp(d->env, "AWS_ACCESS_KEY_ID") != 0 &&
            strcmp(d->env, "AWS_SECRET_ACCESS_KEY") != 0)
            assert_int_equal(strncmp(d->env, "REELAY_", 7), 0);
        if (d->default_value) {
            setting_value value = {0};
            assert_true(setting_value_read(d, d->default_value, &value, NULL, 0));
        }
        for (int other = id + 1; other < SETTING_COUNT; other++) {
            const setting_definition *o = setting_definition_of((setting_id)other);
            if (strcmp(d->flag, o->flag) == 0) assert_int_equal(d->commands & o->commands, 0);
            if (d->env && o->env) assert_string_not_equal(d->env, o->env);
        }
    }
    /* and with nothing given, every command reads its defaults without complaint */
    env_clear();
    for (size_t i = 0; i < count; i++) {
        settings s;
        char err[256];
        assert_int_equal(parse(&s, commands[i].command, err, sizeof(err), NULL, NULL), SETTINGS_OK);
    }
}

/* Every --flag a command's usage lines show is one the command takes. */
static void usage_lines_name_only_real_flags(void **state)
{
    (void)state;
    size_t count = 0;
    const cli_command_info *commands = cli_commands(&count);
    for (size_t i = 0; i < count; i++) {
        for (const char *p = strstr(commands[i].synopsis, "--"); p; p = strstr(p + 2, "--")) {
            size_t length = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
            bool found = false;
            for (int id = 0; id < SETTING_COUNT && !found; id++) {
                const setting_definition *d = setting_definition_of((setting_id)id);
                found = (d->commands & commands[i].command) && strlen(d->flag) == length &&
                        strncmp(d->flag, p + 2, length) == 0;
            }
            if (!found) fail_msg("%s's usage shows --%.*s", commands[i].name, (int)length, p + 2);
        }
    }
}

static char *captured(int (*write)(FILE *), FILE **stream, size_t *size)
{
    char *text = NULL;
    *stream = open_memstream(&text, size);
    assert_non_null(*stream);
    assert_int_equal(write(*stream), 0);
    fclose(*stream);
    return text;
}

static int write_serve_help(FILE *out)
{
    return settings_write_help(out, CLI_SERVE);
}

/* Help lists each of the command's flags with its variable, in lines of at most 100 columns (the
 * usage lines excepted: they are written as they are); the README table has one row per variable. */
static void help_and_markdown_come_from_the_table(void **state)
{
    (void)state;
    FILE *stream = NULL;
    size_t size = 0;
    char *help = captured(write_serve_help, &stream, &size);
    char needle[96];
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        snprintf(needle, sizeof(needle), "\n  --%s%s", d->flag, d->value_name ? " " : "");
        assert_true((strstr(help, needle) != NULL) == ((d->commands & CLI_SERVE) != 0));
        if ((d->commands & CLI_SERVE) && d->env) assert_non_null(strstr(help, d->env));
    }
    assert_non_null(strstr(help, "[REELAY_THREADS; default 0 = one per core; 0 to 256]"));
    for (const char *line = help; *line;) {
        size_t length = strcspn(line, "\n");
        size_t columns = 0; /* characters, not bytes: "…" is one */
        for (size_t i = 0; i < length; i++)
            columns += ((unsigned char)line[i] & 0xc0) != 0x80;
        if (strncmp(line, "usage:", 6) != 0) assert_true(columns <= 100);
        line += length + (line[length] == '\n');
    }
    free(help);

    char *markdown = captured(settings_write_markdown, &stream, &size);
    size_t rows = 0, with_env = 0;
    for (const char *p = markdown; (p = strchr(p, '\n')) != NULL; p++)
        rows++;
    for (int id = 0; id < SETTING_COUNT; id++) {
        const setting_definition *d = setting_definition_of((setting_id)id);
        if (!d->env) continue;
        with_env++;
        snprintf(needle, sizeof(needle), "| `%s` |", d->env);
        assert_non_null(strstr(markdown, needle));
    }
    assert_int_equal(rows, with_env + 2); /* the head and its rule */
    assert_non_null(strstr(markdown, "| `--threads N` | `REELAY_THREADS` | 0 = one per core | `serve` | "
                                     "HTTP event loops (0 to 256) |\n"));
    assert_non_null(strstr(markdown, "| `--data DIR` | `REELAY_DATA` | `./var` | all |"));
    free(markdown);

    char *text = captured(settings_write_text, &stream, &size);
    assert_non_null(
        strstr(text, "--listen HOST:PORT\n  environment: REELAY_LISTEN\n  default:     127.0.0.1:8080\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flag_beats_environment_beats_default),
        cmocka_unit_test(misfits_name_the_flag_or_variable_and_what_is_allowed),
        cmocka_unit_test(unknown_flags_and_other_commands_flags),
        cmocka_unit_test(booleans),
        cmocka_unit_test(positional_words_come_last),
        cmocka_unit_test(urls_and_addresses),
        cmocka_unit_test(the_table_is_consistent),
        cmocka_unit_test(usage_lines_name_only_real_flags),
        cmocka_unit_test(help_and_markdown_come_from_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
