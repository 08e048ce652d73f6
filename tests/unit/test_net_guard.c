/* test_net_guard.c — the address rules (which addresses are public, including IPv4 carried inside
 * IPv6) and allow-list matching (names, literals, CIDRs, malformed and empty entries). No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/un.h>

#include "net/fetch.h"

/* Builds a sockaddr from a literal; fails the test on a typo in the table itself. */
static const struct sockaddr *test_address(const char *text, struct sockaddr_storage *storage)
{
    memset(storage, 0, sizeof(*storage));
    struct sockaddr_in *in4 = (struct sockaddr_in *)storage;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)storage;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
    } else {
        fail_msg("bad address in test table: %s", text);
    }
    return (const struct sockaddr *)storage;
}

typedef struct address_case {
    const char *text;
    bool is_public;
} address_case;

static void check_address_table(const address_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct sockaddr_storage storage;
        bool got = net_address_is_public(test_address(cases[i].text, &storage));
        if (got != cases[i].is_public)
            fail_msg("%s: expected %s", cases[i].text, cases[i].is_public ? "public" : "not public");
    }
}

static void ipv4_ranges_and_their_edges(void **state)
{
    (void)state;
    static const address_case cases[] = {
        {"8.8.8.8", true},          {"1.1.1.1", true},          {"0.0.0.0", false},
        {"0.255.255.255", false},   {"1.0.0.0", true},          {"9.255.255.255", true},
        {"10.0.0.0", false},        {"10.255.255.255", false},  {"11.0.0.0", true},
        {"100.63.255.255", true},   {"100.64.0.0", false},      {"100.127.255.255", false},
        {"100.128.0.0", true},      {"126.255.255.255", true},  {"127.0.0.1", false},
        {"127.255.255.255", false}, {"128.0.0.0", true},        {"169.253.255.255", true},
        {"169.254.169.254", false}, {"169.255.0.0", true},      {"172.15.255.255", true},
        {"172.16.0.0", false},      {"172.31.255.255", false},  {"172.32.0.0", true},
        {"192.0.0.8", false},       {"192.0.1.1", true},        {"192.0.2.1", false},
        {"192.0.3.0", true},        {"192.167.255.255", true},  {"192.168.1.1", false},
        {"192.169.0.0", true},      {"198.17.255.255", true},   {"198.18.0.0", false},
        {"198.19.255.255", false},  {"198.20.0.0", true},       {"198.51.100.7", false},
        {"198.51.101.0", true},     {"203.0.113.9", false},     {"203.0.114.0", true},
        {"223.255.255.255", true},  {"224.0.0.1", false},       {"239.255.255.255", false},
        {"240.0.0.1", false},       {"255.255.255.254", false}, {"255.255.255.255", false},
    };
    check_address_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void ipv6_ranges_and_their_edges(void **state)
{
    (void)state;
    static const address_case cases[] = {
        {"2606:4700:4700::1111", true},
        {"2a00:1450:4001:80b::200e", true},
        {"::", false},
        {"::1", false},
        {"fc00::1", false},
        {"fdff:ffff::1", false},
        {"fe80::1", false},
        {"febf:ffff::1", false},
        {"ff02::1", false},
        {"ff0e::1", false},
        {"2001:db8::1", false},
        {"2001:db8:ffff::1", false},
        {"2001:db7:ffff::1", true},
        {"2001:db9::1", true},
    };
    check_address_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void ipv4_inside_ipv6_follows_ipv4_rules(void **state)
{
    (void)state;
    static const address_case cases[] = {
        /* v4-mapped */
        {"::ffff:8.8.8.8", true},
        {"::ffff:127.0.0.1", false},
        {"::ffff:10.1.2.3", false},
        {"::ffff:169.254.169.254", false},
        {"::ffff:172.15.255.255", true},
        {"::ffff:172.16.0.0", false},
        /* NAT64 well-known prefix */
        {"64:ff9b::8.8.8.8", true},
        {"64:ff9b::10.0.0.1", false},
        {"64:ff9b::127.0.0.1", false},
        {"64:ff9b::a9fe:a9fe", false},
        /* 6to4: the v4 address sits in bits 16..47 */
        {"2002:808:808::1", true},
        {"2002:7f00:1::1", false},
        {"2002:c0a8:101::1", false},
        {"2002:a9fe:a9fe::1", false},
        {"2002:ac10::1", false},
        {"2002:ac0f:ffff::1", true},
    };
    check_address_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void other_families_are_not_public(void **state)
{
    (void)state;
    struct sockaddr_un unix_address;
    memset(&unix_address, 0, sizeof(unix_address));
    unix_address.sun_family = AF_UNIX;
    assert_false(net_address_is_public((const struct sockaddr *)&unix_address));
    assert_false(net_address_is_public(NULL));
}

static bool allowed(const char *list, const char *host, const char *address)
{
    struct sockaddr_storage storage;
    return net_allow_list_matches(list, host, address != NULL ? test_address(address, &storage) : NULL);
}

static void empty_allow_list_matches_nothing(void **state)
{
    (void)state;
    assert_false(allowed(NULL, "localhost", "127.0.0.1"));
    assert_false(allowed("", "localhost", "127.0.0.1"));
    assert_false(allowed(" , ,,", "localhost", "127.0.0.1"));
    assert_false(allowed(" , ,,", "", NULL));
}

static void names_match_exactly_ignoring_case(void **state)
{
    (void)state;
    assert_true(allowed("localhost", "localhost", "127.0.0.1"));
    assert_true(allowed("LocalHost", "LOCALHOST", NULL));
    assert_true(allowed("media.internal", "Media.Internal", "10.1.2.3"));
    assert_false(allowed("localhost", "localhost.example.com", "127.0.0.1"));
    assert_false(allowed("example.com", "sub.example.com", "10.1.2.3"));
    assert_false(allowed("sub.example.com", "example.com", "10.1.2.3"));
    /* "localhost" is only a name: it does not cover the loopback address written as a literal. */
    assert_false(allowed("localhost", "127.0.0.1", "127.0.0.1"));
    assert_false(allowed("localhost", NULL, "127.0.0.1"));
    assert_false(allowed("localhost", "", NULL));
}

static void entries_are_trimmed_and_empty_ones_skipped(void **state)
{
    (void)state;
    assert_true(allowed(",,  , localhost ,,", "localhost", NULL));
    assert_true(allowed("a.example,\tlocalhost\t", "localhost", NULL));
    assert_true(allowed(" 10.0.0.0/8 ", NULL, "10.9.8.7"));
    assert_false(allowed("local host", "localhost", NULL));
}

static void address_literals_match_address_or_literal_host(void **state)
{
    (void)state;
    assert_true(allowed("127.0.0.1", "localhost", "127.0.0.1"));
    assert_true(allowed("127.0.0.1", "127.0.0.1", NULL));
    assert_false(allowed("127.0.0.1", NULL, "127.0.0.2"));
    assert_false(allowed("127.0.0.1", "127.0.0.2", NULL));
    /* the IPv4-mapped form of an allowed v4 address is the same address */
    assert_true(allowed("127.0.0.1", NULL, "::ffff:127.0.0.1"));
    assert_true(allowed("::1", NULL, "::1"));
    assert_true(allowed("::1", "[::1]", NULL));
    assert_true(allowed("::1", "::1", NULL));
    assert_true(allowed("0:0::1", NULL, "::1")); /* compared as addresses, not text */
    assert_false(allowed("::1", NULL, "::2"));
    assert_false(allowed("::1", NULL, "127.0.0.1"));
}

static void cidrs_of_every_width(void **state)
{
    (void)state;
    assert_true(allowed("10.0.0.0/8", NULL, "10.0.0.0"));
    assert_true(allowed("10.0.0.0/8", NULL, "10.255.255.255"));
    assert_false(allowed("10.0.0.0/8", NULL, "11.0.0.0"));
    assert_false(allowed("10.0.0.0/8", NULL, "9.255.255.255"));
    assert_true(allowed("10.0.0.0/8", "10.1.2.3", NULL));
    assert_true(allowed("172.16.0.0/12", NULL, "172.31.255.255"));
    assert_false(allowed("172.16.0.0/12", NULL, "172.32.0.0"));
    assert_true(allowed("0.0.0.0/0", NULL, "192.168.1.1"));
    assert_true(allowed("0.0.0.0/0", NULL, "8.8.8.8"));
    assert_false(allowed("0.0.0.0/0", NULL, "::1"));
    assert_true(allowed("192.168.1.1/32", NULL, "192.168.1.1"));
    assert_false(allowed("192.168.1.1/32", NULL, "192.168.1.2"));
    assert_true(allowed("::/0", NULL, "fe80::1"));
    assert_true(allowed("::/0", NULL, "::1"));
    assert_true(allowed("fc00::/7", NULL, "fdab::1"));
    assert_false(allowed("fc00::/7", NULL, "fe80::1"));
    assert_true(allowed("fe80::1/128", NULL, "fe80::1"));
    assert_false(allowed("fe80::1/128", NULL, "fe80::2"));
    assert_true(allowed("fe80::/10", "[fe80::abcd]", NULL));
    assert_true(allowed("::ffff:10.0.0.0/104", NULL, "10.1.2.3"));
    assert_false(allowed("::ffff:10.0.0.0/104", NULL, "11.1.2.3"));
}

static void malformed_entries_never_match(void **state)
{
    (void)state;
    static const char *const malformed[] = {
        "10.0.0.0/33",  "10.0.0.0/",   "/8",          "10.0.0.0/8x",       "::1/129",
        "300.1.1.1/8",  "10.0.0.0/-1", "10.0.0.0/ 8", "10.0.0/8",          "10.0.0.0/0008",
        "fe80::/1x",    "10.0.0.0//8", "/",           "::ffff:10.0.0.0/8", "example.com/8",
        "10.0.0.0/8/8",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        if (allowed(malformed[i], "10.0.0.1", "10.0.0.1")) fail_msg("malformed '%s' matched", malformed[i]);
        if (allowed(malformed[i], "fe80::1", "fe80::1")) fail_msg("malformed '%s' matched", malformed[i]);
    }
    /* a bad entry does not spoil the good ones next to it */
    assert_true(allowed("10.0.0.0/33, 127.0.0.1", NULL, "127.0.0.1"));
    char long_list[1200];
    memset(long_list, 'a', 1000);
    strcpy(long_list + 1000, ",localhost");
    assert_false(allowed(long_list, "example.com", "10.0.0.1"));
    assert_true(allowed(long_list, "localhost", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_ranges_and_their_edges),
        cmocka_unit_test(ipv6_ranges_and_their_edges),
        cmocka_unit_test(ipv4_inside_ipv6_follows_ipv4_rules),
        cmocka_unit_test(other_families_are_not_public),
        cmocka_unit_test(empty_allow_list_matches_nothing),
        cmocka_unit_test(names_match_exactly_ignoring_case),
        cmocka_unit_test(entries_are_trimmed_and_empty_ones_skipped),
        cmocka_unit_test(address_literals_match_address_or_literal_host),
        cmocka_unit_test(cidrs_of_every_width),
        cmocka_unit_test(malformed_entries_never_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
