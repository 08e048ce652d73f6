/* test_cli_readme.c — the README's table of settings is exactly what `reelay settings --markdown`
 * prints from the table (runs in the source folder, as every unit test does). When it fails, run
 * `make readme-settings` and commit the README. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/settings.h"

static char *read_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *copy = open_memstream(&text, &size);
    char buffer[4096];
    size_t n;
    while (copy && (n = fread(buffer, 1, sizeof(buffer), file)) > 0)
        fwrite(buffer, 1, n, copy);
    fclose(file);
    if (copy) fclose(copy);
    return text;
}

static void readme_table_matches_the_settings(void **state)
{
    (void)state;
    char *readme = read_file("README.md");
    assert_non_null(readme);
    const char *begin = strstr(readme, "\n<!-- settings:begin");
    assert_non_null(begin);
    begin = strchr(begin + 1, '\n');
    assert_non_null(begin);
    begin++;
    const char *end = strstr(begin, "<!-- settings:end -->");
    assert_non_null(end);
    assert_null(strstr(end + 1, "<!-- settings:begin")); /* one table only */

    char *expected = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&expected, &size);
    assert_non_null(stream);
    assert_int_equal(settings_write_markdown(stream), 0);
    fclose(stream);
    size_t length = (size_t)(end - begin);
    if (length != size || memcmp(begin, expected, size) != 0)
        fail_msg("README.md's settings table differs from `reelay settings --markdown`; run `make "
                 "readme-settings`.\nexpected:\n%s\nREADME has:\n%.*s",
                 expected, (int)length, begin);
    free(expected);
    free(readme);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readme_table_matches_the_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
