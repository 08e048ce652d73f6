/* test_util_error_table.c — the one table of error codes (util/error.c): no name twice, every status
 * and type one of specs/foxapi-api.md §3 (or one of reelay's few documented extensions, HTTP's own
 * statuses), raising by code gives the row's status, type and wire code, an unknown code is caught,
 * and every code raised in src/ (the string literals passed to the raise functions) is in the table.
 * Runs from the project root (CTest's working directory), where it reads src/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static const char *wire_code(const reelay_error_kind *kind)
{
    return kind->code ? kind->code : kind->name;
}

static void no_name_is_in_the_table_twice(void **state)
{
    (void)state;
    size_t count;
    const reelay_error_kind *table = reelay_error_table(&count);
    assert_true(count >= 50);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++)
            if (strcmp(table[i].name, table[j].name) == 0)
                fail_msg("%s is in the table twice", table[i].name);
        /* a variant (a second status of one code) names a code of the table, with another status */
        if (table[i].code != NULL) {
            const reelay_error_kind *base = reelay_error_kind_find(table[i].code);
            if (base == NULL || base->code != NULL || base->status == table[i].status)
                fail_msg("%s is a variant of %s, which is not a code of another status", table[i].name,
                         table[i].code);
        }
        for (const char *c = table[i].name; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                fail_msg("name %s is not snake_case", table[i].name);
    }
}

/* The status/type pairs of §3.1 and §3.3 (403 and 413 are the spec's statuses for uploads; 403's type
 * is reelay's), and the codes reelay answers with a status beyond the spec's. */
static const struct {
    int status;
    const char *type;
} spec_pairs[] = {
    {400, ERR_TYPE_INVALID_REQUEST}, {422, ERR_TYPE_INVALID_REQUEST},
    {401, ERR_TYPE_AUTHENTICATION},  {402, ERR_TYPE_INSUFFICIENT_QUOTA},
    {404, ERR_TYPE_NOT_FOUND},       {429, ERR_TYPE_RATE_LIMIT},
    {500, ERR_TYPE_SERVER},          {503, ERR_TYPE_SERVICE_UNAVAILABLE},
    {413, ERR_TYPE_INVALID_REQUEST}, {403, ERR_TYPE_PERMISSION},
};
static const struct {
    const char *code;
    int status;
    const char *type;
} extensions[] = {
    {"method_not_allowed", 405, ERR_TYPE_INVALID_REQUEST},    /* HTTP: a path's method */
    {"task_not_cancellable", 409, ERR_TYPE_CONFLICT},         /* the task's state */
    {"video_not_ready", 409, ERR_TYPE_CONFLICT},              /* OpenAI videos: content before completion */
    {"task_not_finished", 409, ERR_TYPE_CONFLICT},            /* the task's state */
    {"channel_exists", 409, ERR_TYPE_CONFLICT},               /* admin API: a channel of that name */
    {"not_enough_credits", 409, ERR_TYPE_CONFLICT},           /* admin API: taking back too much */
    {"link_expired", 410, ERR_TYPE_NOT_FOUND},                /* a result link past its time */
    {"range_not_satisfiable", 416, ERR_TYPE_INVALID_REQUEST}, /* h2o's file handler */
    {"expectation_failed", 417, ERR_TYPE_INVALID_REQUEST},    /* h2o's request reader */
    {"request_head_too_large", 431, ERR_TYPE_INVALID_REQUEST},
    {"too_many_headers", 431, ERR_TYPE_INVALID_REQUEST},
};

static void every_status_and_type_is_the_specs(void **state)
{
    (void)state;
    size_t count;
    const reelay_error_kind *table = reelay_error_table(&count);
    for (size_t i = 0; i < count; i++) {
        bool known = false;
        for (size_t p = 0; p < sizeof(spec_pairs) / sizeof(spec_pairs[0]); p++)
            known |=
                table[i].status == spec_pairs[p].status && strcmp(table[i].type, spec_pairs[p].type) == 0;
        for (size_t e = 0; e < sizeof(extensions) / sizeof(extensions[0]); e++)
            known |= strcmp(wire_code(&table[i]), extensions[e].code) == 0 &&
                     table[i].status == extensions[e].status &&
                     strcmp(table[i].type, extensions[e].type) == 0;
        if (!known)
            fail_msg("%s: %d %s is not a status/type of the spec", table[i].name, table[i].status,
                     table[i].type);
    }
}

static void check_raise(const char *name, int status, const char *type, const char *code)
{
    reelay_error err;
    assert_int_equal(reelay_error_raise(&err, name, "video_url", "%s is %.1f s long.", "video_url", 12.5),
                     -1);
    if (err.status != status || strcmp(err.type, type) != 0 || strcmp(err.code, code) != 0)
        fail_msg("%s raised %d %s %s, not %d %s %s", name, err.status, err.type, err.code, status, type,
                 code);
    assert_string_equal(err.param, "video_url");
    assert_string_equal(err.message, "video_url is 12.5 s long.");
}

static void raising_by_code_gives_the_documented_status_and_type(void **state)
{
    (void)state;
    check_raise("input_too_long", 422, ERR_TYPE_INVALID_REQUEST, "input_too_long");
    check_raise("invalid_value", 422, ERR_TYPE_INVALID_REQUEST, "invalid_value");
    check_raise("unsupported_advanced_options", 422, ERR_TYPE_INVALID_REQUEST,
                "unsupported_advanced_options");
    check_raise("invalid_json", 400, ERR_TYPE_INVALID_REQUEST, "invalid_json");
    check_raise("invalid_api_key", 401, ERR_TYPE_AUTHENTICATION, "invalid_api_key");
    check_raise("insufficient_quota", 402, ERR_TYPE_INSUFFICIENT_QUOTA, "insufficient_quota");
    check_raise("task_not_found", 404, ERR_TYPE_NOT_FOUND, "task_not_found");
    check_raise("channel_not_found", 404, ERR_TYPE_NOT_FOUND, "channel_not_found");
    check_raise("rate_limit_exceeded", 429, ERR_TYPE_RATE_LIMIT, "rate_limit_exceeded");
    check_raise("internal_error", 500, ERR_TYPE_SERVER, "internal_error");
    check_raise("no_available_channel", 503, ERR_TYPE_SERVICE_UNAVAILABLE, "no_available_channel");
    /* the codes sent with two statuses: each status has its own name, the wire code is the same */
    check_raise("duplicate_field", 422, ERR_TYPE_INVALID_REQUEST, "duplicate_field");
    check_raise("duplicate_form_field", 400, ERR_TYPE_INVALID_REQUEST, "duplicate_field");
    check_raise("empty_file", 400, ERR_TYPE_INVALID_REQUEST, "empty_file");
    check_raise("empty_file_at_url", 422, ERR_TYPE_INVALID_REQUEST, "empty_file");
    check_raise("invalid_signature", 401, ERR_TYPE_AUTHENTICATION, "invalid_signature");
    check_raise("invalid_link_signature", 403, ERR_TYPE_PERMISSION, "invalid_signature");
    /* every row, as the table says */
    size_t count;
    const reelay_error_kind *table = reelay_error_table(&count);
    for (size_t i = 0; i < count; i++)
        check_raise(table[i].name, table[i].status, table[i].type, wire_code(&table[i]));
    /* NULL param is JSON null; NULL err is allowed */
    reelay_error err;
    reelay_error_raise(&err, "task_not_found", NULL, "x");
    assert_string_equal(err.param, "");
    assert_int_equal(reelay_error_raise(NULL, "task_not_found", NULL, "x"), -1);
}

static void an_unknown_code_is_caught(void **state)
{
    (void)state;
    assert_null(reelay_error_kind_find("no_such_code"));
    assert_null(reelay_error_kind_find(NULL));
    assert_non_null(reelay_error_kind_find("internal_error"));
#ifdef NDEBUG
    /* a release build answers 500 (a debug build stops at the assert instead) */
    reelay_error err;
    reelay_error_raise(&err, "no_such_code", "model", "Something %s.", "odd");
    assert_int_equal(err.status, 500);
    assert_string_equal(err.type, ERR_TYPE_SERVER);
    assert_string_equal(err.code, "internal_error");
    assert_string_equal(err.message, "Something odd.");
#endif
}

/* ---- every code raised in src/ ---- */

/* The raise functions and the index of their code argument. reelay_error_set and http_send_error_fields
 * (the call sites not yet converted) have theirs after a status and a type: the pair must be a row's. */
static const struct {
    const char *name;
    size_t code_arg;
    bool has_status;
} raisers[] = {
    {"reelay_error_raise", 1, false}, {"reelay_error_vraise", 1, false},   {"http_send_error_code", 1, false},
    {"reelay_error_set", 3, true},    {"http_send_error_fields", 3, true},
};

typedef struct scan {
    size_t literals; /* codes checked */
    size_t failures;
} scan;
static scan totals;

/* text with comments blanked out (newlines kept, so that line numbers stay), strings kept */
static void blank_comments(char *text)
{
    for (char *p = text; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char quote = *p;
            for (p++; *p && *p != quote; p++)
                if (*p == '\\' && p[1]) p++;
            if (!*p) return;
        } else if (p[0] == '/' && p[1] == '*') {
            for (; *p && !(p[0] == '*' && p[1] == '/'); p++)
                if (*p != '\n') *p = ' ';
            if (!*p) return;
            p[0] = p[1] = ' ';
            p++;
        } else if (p[0] == '/' && p[1] == '/') {
            for (; *p && *p != '\n'; p++)
                *p = ' ';
            if (!*p) return;
        }
    }
}

/* The [start, end) spans of the arguments of the call whose '(' is at open; returns how many (at most
 * max), or 0 when the call does not close. */
static size_t call_arguments(const char *open, const char **starts, const char **ends, size_t max)
{
    size_t count = 0;
    int depth = 0;
    const char *start = open + 1;
    for (const char *p = open + 1; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char quote = *p;
            for (p++; *p && *p != quote; p++)
                if (*p == '\\' && p[1]) p++;
            if (!*p) return 0;
        } else if (*p == '(' || *p == '[' || *p == '{') {
            depth++;
        } else if ((*p == ')' || *p == ']' || *p == '}') && depth > 0) {
            depth--;
        } else if ((*p == ',' && depth == 0) || *p == ')') {
            if (count < max) starts[count] = start, ends[count] = p;
            count++;
            if (*p == ')') return count < max ? count : max;
            start = p + 1;
        }
    }
    return 0;
}

static size_t line_of(const char *text, const char *at)
{
    size_t line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

/* Checks every string literal in [start, end) as a code raised at file:line. */
static void check_literals(const char *file, size_t line, const char *start, const char *end, int status,
                           const char *type)
{
    for (const char *p = start; p < end; p++) {
        if (*p != '"') continue;
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (close == NULL) break;
        char code[80];
        snprintf(code, sizeof(code), "%.*s", (int)(close - p - 1), p + 1);
        p = close;
        totals.literals++;
        bool found = false;
        if (status == 0) {
            found = reelay_error_kind_find(code) != NULL;
        } else { /* not yet converted: some row must send this code with this status (and type) */
            size_t count;
            const reelay_error_kind *table = reelay_error_table(&count);
            for (size_t i = 0; i < count && !found; i++)
                found = strcmp(wire_code(&table[i]), code) == 0 && table[i].status == status &&
                        (type == NULL || strcmp(table[i].type, type) == 0);
        }
        if (!found) {
            totals.failures++;
            print_error("%s:%zu: error code \"%s\" (status %d) is not in util/error.c's table\n", file, line,
                        code, status);
        }
    }
}

/* The type argument of a not-yet-converted call: an ERR_TYPE_* name or a literal; NULL = not known. */
static const char *type_of(const char *start, const char *end)
{
    static const struct {
        const char *macro, *type;
    } types[] = {
        {"ERR_TYPE_INVALID_REQUEST", ERR_TYPE_INVALID_REQUEST},
        {"ERR_TYPE_AUTHENTICATION", ERR_TYPE_AUTHENTICATION},
        {"ERR_TYPE_INSUFFICIENT_QUOTA", ERR_TYPE_INSUFFICIENT_QUOTA},
        {"ERR_TYPE_NOT_FOUND", ERR_TYPE_NOT_FOUND},
        {"ERR_TYPE_RATE_LIMIT", ERR_TYPE_RATE_LIMIT},
        {"ERR_TYPE_SERVER", ERR_TYPE_SERVER},
        {"ERR_TYPE_SERVICE_UNAVAILABLE", ERR_TYPE_SERVICE_UNAVAILABLE},
        {"ERR_TYPE_PERMISSION", ERR_TYPE_PERMISSION},
        {"ERR_TYPE_CONFLICT", ERR_TYPE_CONFLICT},
    };
    while (start < end && (*start == ' ' || *start == '\n' || *start == '\t'))
        start++;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].macro);
        if ((size_t)(end - start) >= n && strncmp(start, types[i].macro, n) == 0) return types[i].type;
    }
    return NULL;
}

static void scan_text(const char *file, const char *text)
{
    for (size_t r = 0; r < sizeof(raisers) / sizeof(raisers[0]); r++) {
        size_t length = strlen(raisers[r].name);
        for (const char *at = strstr(text, raisers[r].name); at; at = strstr(at + length, raisers[r].name)) {
            char before = at > text ? at[-1] : ' ';
            if (before == '_' || (before >= 'a' && before <= 'z') || (before >= '0' && before <= '9'))
                continue;
            const char *open = at + length;
            while (*open == ' ' || *open == '\n')
                open++;
            if (*open != '(') continue;
            const char *starts[8], *ends[8];
            size_t count = call_arguments(open, starts, ends, 8);
            if (count <= raisers[r].code_arg) continue;
            int status = 0;
            const char *type = NULL;
            if (raisers[r].has_status) {
                char *number_end;
                long value = strtol(starts[1], &number_end, 10);
                while (number_end < ends[1] && (*number_end == ' ' || *number_end == '\n'))
                    number_end++;
                if (number_end != ends[1] || value < 100 || value > 599) continue; /* not a literal status */
                status = (int)value;
                type = type_of(starts[2], ends[2]);
            }
            size_t k = raisers[r].code_arg;
            check_literals(file, line_of(text, at), starts[k], ends[k], status, type);
        }
    }
}

static int scan_file(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void)info, (void)ftw;
    size_t length = strlen(path);
    if (flag != FTW_F || length < 2 || path[length - 2] != '.' ||
        (path[length - 1] != 'c' && path[length - 1] != 'h'))
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    char buffer[8192];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), f)) > 0)
        fwrite(buffer, 1, n, out);
    fclose(f);
    fclose(out);
    blank_comments(text);
    scan_text(path, text);
    free(text);
    return 0;
}

static void every_code_raised_in_src_is_in_the_table(void **state)
{
    (void)state;
    totals = (scan){0};
    assert_int_equal(nftw("src", scan_file, 16, FTW_PHYS), 0);
    /* the sources were found and read: there are well over a hundred raises */
    if (totals.literals < 100) fail_msg("only %zu codes found under src/", totals.literals);
    if (totals.failures) fail_msg("%zu codes raised in src/ are missing from the table", totals.failures);
}

/* The scanner itself: it sees a code through a comment-free ternary, and a missing one. */
static void the_scan_finds_a_missing_code(void **state)
{
    (void)state;
    char text[] =
        "/* reelay_error_raise(err, \"in_a_comment\", NULL, \"x\"); */\n"
        "http_send_error_code(req, ok ? \"invalid_field\" : \"not_a_code\", \"url\", \"m %d\", f(1, 2));\n"
        "http_send_error_fields(req, 422, ERR_TYPE_INVALID_REQUEST, \"empty_file\", \"url\", m);\n"
        "http_send_error_fields(req, 400, ERR_TYPE_INVALID_REQUEST, \"empty_file\", \"url\", m);\n";
    totals = (scan){0};
    blank_comments(text);
    scan_text("fixture.c", text);
    assert_int_equal(totals.literals, 4);
    assert_int_equal(totals.failures, 1); /* not_a_code; empty_file is 422 (as empty_file_at_url) and 400 */
    char wrong_status[] =
        "http_send_error_fields(req, 401, ERR_TYPE_INVALID_REQUEST, \"empty_file\", NULL, m);";
    totals = (scan){0};
    scan_text("fixture.c", wrong_status);
    assert_int_equal(totals.failures, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_name_is_in_the_table_twice),
        cmocka_unit_test(every_status_and_type_is_the_specs),
        cmocka_unit_test(raising_by_code_gives_the_documented_status_and_type),
        cmocka_unit_test(an_unknown_code_is_caught),
        cmocka_unit_test(the_scan_finds_a_missing_code),
        cmocka_unit_test(every_code_raised_in_src_is_in_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
