/* test_api_console.c — the web console's files as the build embedded them (console_assets.h): which
 * file a path below /console/ answers, and that the page names exactly the bundle files served (a page
 * naming a file that is not there would load no console). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api/console_assets.h"

static const console_asset *lookup(const char *rest)
{
    return console_asset_for_path(rest, strlen(rest));
}

static void every_path_but_assets_is_the_page(void **state)
{
    (void)state;
    assert_string_equal(console_assets[0].name, "index.html");
    assert_ptr_equal(lookup(""), &console_assets[0]);
    assert_ptr_equal(lookup("tasks/task-unified-1-abc"), &console_assets[0]);
    assert_ptr_equal(lookup("index.html"), &console_assets[0]);
    assert_ptr_equal(lookup("assets"), &console_assets[0]); /* not "assets/…": a page path like another */
}

static void an_unknown_asset_is_nothing(void **state)
{
    (void)state;
    assert_null(lookup("assets/"));
    assert_null(lookup("assets/app.js"));
    assert_null(lookup("assets/index.html")); /* the page is not one of the bundle's files */
    assert_null(lookup("assets/../index.html"));
}

static void each_bundle_file_is_found_and_named_by_the_page(void **state)
{
    (void)state;
    const console_asset *page = &console_assets[0];
    assert_true(strstr(page->content_type, "text/html") == page->content_type);
    if (!console_bundle_built) {
        assert_int_equal(console_asset_count, 1);
        return;
    }
    assert_int_equal(console_asset_count, 3); /* one JS and one CSS file */
    for (size_t i = 1; i < console_asset_count; i++) {
        const console_asset *asset = &console_assets[i];
        char path[128];
        int n = snprintf(path, sizeof(path), "assets/%s", asset->name);
        assert_true(n > 0 && (size_t)n < sizeof(path));
        assert_ptr_equal(lookup(path), asset);
        /* the page's text names it under /console/assets/ (the bytes are not NUL-terminated) */
        char reference[160];
        n = snprintf(reference, sizeof(reference), "\"/console/%s\"", path);
        assert_true(n > 0 && (size_t)n < sizeof(reference));
        assert_non_null(memmem(page->bytes, page->length, reference, strlen(reference)));
        /* hashed names: app-<16 hex digits>.js|.css, the ETag the same digits */
        assert_int_equal(strncmp(asset->name, "app-", 4), 0);
        assert_int_equal(strncmp(asset->etag + 1, asset->name + 4, 16), 0);
        assert_true(asset->length > 0);
    }
    assert_non_null(strstr(console_assets[1].content_type, "javascript"));
    assert_non_null(strstr(console_assets[2].content_type, "text/css"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_path_but_assets_is_the_page),
        cmocka_unit_test(an_unknown_asset_is_nothing),
        cmocka_unit_test(each_bundle_file_is_found_and_named_by_the_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
