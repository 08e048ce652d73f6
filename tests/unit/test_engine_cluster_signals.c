/* test_engine_cluster_signals.c — the wire format of signals between nodes (engine/cluster_signals.h):
 * "<origin> <body>", origin 16 lowercase hex digits or "-"; what compose refuses, what split refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/cluster_signals.h"

static void a_composed_payload_splits_back(void **state)
{
    (void)state;
    char payload[STORE_SIGNAL_PAYLOAD_MAX + 1], origin[CLUSTER_ORIGIN_SIZE];
    const char *body = NULL;
    assert_true(cluster_signal_compose("0123456789abcdef", "job fal-1 a b c", payload, sizeof(payload)));
    assert_string_equal(payload, "0123456789abcdef job fal-1 a b c");
    assert_true(cluster_signal_split(payload, origin, &body));
    assert_string_equal(origin, "0123456789abcdef");
    assert_string_equal(body, "job fal-1 a b c");
    assert_true(cluster_signal_compose("-", "", payload, sizeof(payload))); /* the command line, empty */
    assert_true(cluster_signal_split(payload, origin, &body));
    assert_string_equal(origin, "-");
    assert_string_equal(body, "");
}

static void compose_refuses_bad_origins_and_overflow(void **state)
{
    (void)state;
    char payload[32];
    assert_false(cluster_signal_compose("0123456789ABCDEF", "x", payload, sizeof(payload))); /* upper */
    assert_false(cluster_signal_compose("0123456789abcde", "x", payload, sizeof(payload)));  /* short */
    assert_false(cluster_signal_compose("0123 56789abcdef", "x", payload, sizeof(payload)));
    assert_false(cluster_signal_compose("", "x", payload, sizeof(payload)));
    assert_true(cluster_signal_compose("0123456789abcdef", "12345678901234", payload, sizeof(payload)));
    assert_false(cluster_signal_compose("0123456789abcdef", "123456789012345", payload, sizeof(payload)));
}

static void split_refuses_what_compose_never_makes(void **state)
{
    (void)state;
    char origin[CLUSTER_ORIGIN_SIZE];
    const char *body = NULL;
    assert_false(cluster_signal_split("", origin, &body));
    assert_false(cluster_signal_split("nospace", origin, &body));
    assert_false(cluster_signal_split(" body", origin, &body));
    assert_false(cluster_signal_split("0123456789abcdef0 body", origin, &body)); /* too long */
    assert_false(cluster_signal_split("0123456789abcdeg body", origin, &body));  /* not hex */
    assert_false(cluster_signal_split("-- body", origin, &body));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_composed_payload_splits_back),
        cmocka_unit_test(compose_refuses_bad_origins_and_overflow),
        cmocka_unit_test(split_refuses_what_compose_never_makes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
