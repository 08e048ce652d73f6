/* test_api_files.c — what file links are served as: the type table (media only, never SVG), which
 * types are shown inline, and the names uploads are stored under ("....mp4" keeps its extension). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"

static void the_table_holds_inline_media_only(void **state)
{
    (void)state;
    size_t count = 0;
    for (const http_file_type *type = api_file_types; type->extension; type++, count++) {
        if (!api_file_is_inline(type->media_type)) fail_msg("%s is not inline media", type->media_type);
        for (const char *c = type->extension; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
                fail_msg("extension %s", type->extension);
        char name[32];
        snprintf(name, sizeof(name), "x.%s", type->extension);
        assert_string_equal(api_file_type_of_name(name), type->media_type);
    }
    assert_true(count >= 10);
    assert_null(api_file_types[count].media_type);
}

static void types_come_from_the_extension_in_any_case(void **state)
{
    (void)state;
    assert_string_equal(api_file_type_of_name("face.mp4"), "video/mp4");
    assert_string_equal(api_file_type_of_name("FACE.MP4"), "video/mp4");
    assert_string_equal(api_file_type_of_name("uploads/file-1/a.b.wav"), "audio/wav");
    assert_string_equal(api_file_type_of_name("results/task/output.mp4"), "video/mp4");
    assert_string_equal(api_file_type_of_name("x.JPEG"), "image/jpeg");
    const char *none[] = {"a.svg",   "a.SVG", "a.html", "a.htm",        "a.xml",      "a.js", "a.txt",
                          "a.xhtml", "a",     "mp4",    "dir.mp4/file", "a.mp4.html", ""};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (api_file_type_of_name(none[i]) != NULL) fail_msg("%s has a media type", none[i]);
}

static void extensions_come_from_the_type(void **state)
{
    (void)state;
    assert_string_equal(api_file_extension_of_type("video/mp4", 9), "mp4");
    assert_string_equal(api_file_extension_of_type("IMAGE/JPEG", 10), "jpg");
    assert_string_equal(api_file_extension_of_type("audio/wav; x", 9), "wav");
    assert_null(api_file_extension_of_type("image/svg+xml", 13));
    assert_null(api_file_extension_of_type("text/html", 9));
    assert_null(api_file_extension_of_type("video/mp4", 8));
}

static void only_audio_video_and_raster_images_are_inline(void **state)
{
    (void)state;
    assert_true(api_file_is_inline("video/mp4"));
    assert_true(api_file_is_inline("audio/mpeg"));
    assert_true(api_file_is_inline("image/png"));
    const char *downloads[] = {"image/svg+xml",
                               "IMAGE/SVG+XML",
                               "image/svg",
                               "text/html",
                               "text/plain",
                               "application/xhtml+xml",
                               "application/javascript",
                               "application/octet-stream",
                               "text/xml",
                               "",
                               "video",
                               "imagex/png"};
    for (size_t i = 0; i < sizeof(downloads) / sizeof(downloads[0]); i++)
        if (api_file_is_inline(downloads[i])) fail_msg("%s would be inline", downloads[i]);
    assert_false(api_file_is_inline(NULL));
}

static void assert_sanitized(const char *name, const char *expected)
{
    char out[4 * API_FILE_NAME_MAX + 1];
    memset(out, 'x', sizeof(out));
    bool ok = api_file_name_sanitize(name, strlen(name), out, sizeof(out));
    if (expected == NULL) {
        if (ok) fail_msg("\"%s\" became \"%s\"; expected a refusal", name, out);
        return;
    }
    if (!ok || strcmp(out, expected) != 0)
        fail_msg("\"%s\" became \"%s\" (%s); expected \"%s\"", name, ok ? out : "", ok ? "ok" : "refused",
                 expected);
}

static void names_keep_their_extension(void **state)
{
    (void)state;
    assert_sanitized("face.mp4", "face.mp4");
    assert_sanitized("my clip (1).mp4", "my_clip_1_.mp4");
    assert_sanitized("../../etc/passwd.txt", "passwd.txt");
    assert_sanitized("C:\\Users\\a\\b.wav", "b.wav");
    assert_sanitized("....mp4", "file.mp4");
    assert_sanitized("..mp4", "file.mp4");
    assert_sanitized(".mp4", "file.mp4");
    assert_sanitized("dir/....MP4", "file.MP4");
    assert_sanitized("$$.png", "file.png");
    assert_sanitized("..mp4..", "file.mp4");
    assert_sanitized("..a.mp4", "a.mp4");
    assert_sanitized(".hidden.wav", "hidden.wav");
    assert_sanitized("trailing.", "trailing");
    assert_sanitized("a.tar.gz", "a.tar.gz");
    assert_sanitized("a..mp4", "a..mp4");
    assert_sanitized("clip.mp4.", "clip.mp4");
    assert_sanitized("x.not an extension", "x.not_an_extension");
    assert_sanitized(".bashrc", "file.bashrc");
    assert_sanitized("é.mp4", "file.mp4");
    assert_sanitized("....", NULL);
    assert_sanitized("", NULL);
    assert_sanitized("///", NULL);
    assert_sanitized("$$$", NULL);
    assert_sanitized("dir/", NULL);
    char out[4 * API_FILE_NAME_MAX + 1];
    assert_true(api_file_name_sanitize("....mp4", 7, out, sizeof(out)));
    assert_string_equal(api_file_type_of_name(out), "video/mp4");
}

static void long_names_are_cut_keeping_the_extension(void **state)
{
    (void)state;
    char name[1000], out[4 * API_FILE_NAME_MAX + 1];
    memset(name, 'a', sizeof(name));
    memcpy(name + 990, ".mp4", 5);
    assert_true(api_file_name_sanitize(name, strlen(name), out, sizeof(out)));
    assert_int_equal(strlen(out), API_FILE_NAME_MAX);
    assert_string_equal(out + API_FILE_NAME_MAX - 4, ".mp4");
    /* junk, then the extension: still "file" */
    memset(name, '%', sizeof(name));
    memcpy(name + 990, ".png", 5);
    assert_true(api_file_name_sanitize(name, strlen(name), out, sizeof(out)));
    assert_string_equal(out, "file.png");
    /* dots, then a name too long to be an extension: cut, no dots in front */
    memset(name, 'b', sizeof(name));
    memcpy(name, "...", 3);
    name[sizeof(name) - 1] = '\0';
    assert_true(api_file_name_sanitize(name, strlen(name), out, sizeof(out)));
    assert_int_equal(strlen(out), API_FILE_NAME_MAX);
    assert_int_equal(strspn(out, "b"), API_FILE_NAME_MAX);
    /* a tiny buffer is never overrun */
    char small[4];
    memset(small, 'x', sizeof(small));
    assert_true(api_file_name_sanitize("..mp4", 5, small, sizeof(small)));
    assert_true(strlen(small) < sizeof(small));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_table_holds_inline_media_only),
        cmocka_unit_test(types_come_from_the_extension_in_any_case),
        cmocka_unit_test(extensions_come_from_the_type),
        cmocka_unit_test(only_audio_video_and_raster_images_are_inline),
        cmocka_unit_test(names_keep_their_extension),
        cmocka_unit_test(long_names_are_cut_keeping_the_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
