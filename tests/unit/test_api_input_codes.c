/* test_api_input_codes.c — every way a media input's probe can fail is answered with a code of the
 * error table (util/error.h), as a 422: the client's input, not the server, is at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/input_checks.h"
#include "util/error.h"

static void every_probe_failure_is_a_422_of_the_table(void **state)
{
    (void)state;
    assert_string_equal(api_input_probe_code(INPUT_PROBE_OK), "ok");
    for (input_probe_kind kind = INPUT_PROBE_INVALID_URL; kind <= INPUT_PROBE_TIMEOUT; kind++) {
        const char *code = api_input_probe_code(kind);
        const reelay_error_kind *row = reelay_error_kind_find(code);
        if (row == NULL) fail_msg("probe failure %d is answered with %s, not in the table", (int)kind, code);
        assert_int_equal(row->status, 422);
        assert_string_equal(row->type, ERR_TYPE_INVALID_REQUEST);
        assert_null(row->code); /* sent as itself */
    }
    assert_string_equal(api_input_probe_code(INPUT_PROBE_NOT_MEDIA), "input_not_media");
    assert_string_equal(api_input_probe_code(INPUT_PROBE_BLOCKED), "input_blocked");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_probe_failure_is_a_422_of_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
