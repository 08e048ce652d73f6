/* test_catalog_cases.c — the validation cases as data: every .json file in tests/cases/validation is an
 * array of {"name", "body", "expect"} run through catalog_validate. Adding a case needs no code.
 *
 * expect is either {"status": 422, "code": "...", "param": "..."} (code and param optional) or
 * {"ok": true, "params": {subset that must match exactly}, "advanced": [names, in order]}. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"

#define CASES_DIR "tests/cases/validation"

static int failures;
static int cases_run;

static void report(const char *file, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(const char *file, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: %s: ", file, name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

static void run_case(const char *file, json_t *test)
{
    const char *name = json_string_value(json_object_get(test, "name"));
    json_t *body = json_object_get(test, "body");
    json_t *expect = json_object_get(test, "expect");
    if (name == NULL || body == NULL || !json_is_object(expect)) {
        report(file, name ? name : "?", "malformed case (needs name, body, expect)");
        return;
    }
    cases_run++;
    const catalog_model *model = NULL;
    json_t *params = NULL, *advanced = NULL;
    reelay_error err;
    memset(&err, 0, sizeof(err));
    int result = catalog_validate(body, &model, &params, &advanced, &err);
    if (json_is_true(json_object_get(expect, "ok"))) {
        if (result != 0) {
            report(file, name, "expected success, got %d %s (%s): %s", err.status, err.code, err.param,
                   err.message);
            return;
        }
        const char *key;
        json_t *value;
        json_object_foreach(json_object_get(expect, "params"), key, value)
        {
            json_t *actual = json_object_get(params, key);
            if (actual == NULL || !json_equal(actual, value)) {
                char *got = actual ? json_dumps(actual, JSON_ENCODE_ANY) : NULL;
                report(file, name, "params.%s = %s", key, got ? got : "(absent)");
                free(got);
            }
        }
        json_t *absent = json_object_get(expect, "absent");
        size_t i;
        json_array_foreach(absent, i, value)
        {
            if (json_object_get(params, json_string_value(value)))
                report(file, name, "params.%s should be absent", json_string_value(value));
        }
        json_t *expected_advanced = json_object_get(expect, "advanced");
        if (expected_advanced && !json_equal(expected_advanced, advanced)) {
            char *got = json_dumps(advanced, JSON_ENCODE_ANY);
            report(file, name, "advanced = %s", got ? got : "?");
            free(got);
        }
        if (!json_equal(json_object_get(params, "model"), json_object_get(body, "model")))
            report(file, name, "params.model differs from the body's");
        json_decref(params);
        json_decref(advanced);
        return;
    }
    if (result == 0) {
        report(file, name, "expected an error, validation passed");
        json_decref(params);
        json_decref(advanced);
        return;
    }
    if (params != NULL || (advanced != NULL)) report(file, name, "outputs must stay NULL on failure");
    json_int_t status = json_integer_value(json_object_get(expect, "status"));
    const char *code = json_string_value(json_object_get(expect, "code"));
    const char *param = json_string_value(json_object_get(expect, "param"));
    if (status && err.status != status)
        report(file, name, "status %d, expected %lld", err.status, (long long)status);
    if (code && strcmp(err.code, code) != 0)
        report(file, name, "code %s, expected %s (%s)", err.code, code, err.message);
    if (param && strcmp(err.param, param) != 0)
        report(file, name, "param '%s', expected '%s'", err.param, param);
    if (err.message[0] == '\0') report(file, name, "empty message");
    if (err.status == 422 && strcmp(err.type, ERR_TYPE_INVALID_REQUEST) != 0)
        report(file, name, "type %s", err.type);
}

static void every_case_file_passes(void **state)
{
    (void)state;
    DIR *dir = opendir(CASES_DIR);
    if (dir == NULL) fail_msg("cannot open %s (run from the repository root)", CASES_DIR);
    struct dirent *entry;
    int files = 0;
    while ((entry = readdir(dir)) != NULL) {
        size_t length = strlen(entry->d_name);
        if (length < 6 || strcmp(entry->d_name + length - 5, ".json") != 0) continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CASES_DIR, entry->d_name);
        json_error_t error;
        json_t *cases = json_load_file(path, 0, &error);
        if (!json_is_array(cases)) {
            report(entry->d_name, "(file)", "not a JSON array: %s line %d", error.text, error.line);
            json_decref(cases);
            continue;
        }
        files++;
        size_t i;
        json_t *test;
        json_array_foreach(cases, i, test) run_case(entry->d_name, test);
        json_decref(cases);
    }
    closedir(dir);
    fprintf(stderr, "%d validation cases in %d files\n", cases_run, files);
    assert_true(files >= 5);
    assert_true(cases_run >= 100);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_case_file_passes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
