/* fuzz_net_guard.c — the outbound guard's address rules: an address (IPv4 or IPv6 bytes), a host as
 * written in a URL and an operator allow-list (names, addresses, CIDRs) through net_address_is_public
 * and net_allow_list_matches. Asserts that every IPv6 form carrying an IPv4 address (mapped, NAT64,
 * 6to4) is judged as that address, that a list naming an address (or its whole-length CIDR) always
 * matches it and a list naming a host always matches that host, and that adding entries never unmatches. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "fuzz_common.h"
#include "net/fetch.h"

static struct sockaddr_in v4_address(const uint8_t bytes[4])
{
    struct sockaddr_in in4;
    memset(&in4, 0, sizeof(in4));
    in4.sin_family = AF_INET;
    memcpy(&in4.sin_addr, bytes, 4);
    return in4;
}

static struct sockaddr_in6 v6_address(const uint8_t bytes[16])
{
    struct sockaddr_in6 in6;
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    memcpy(in6.sin6_addr.s6_addr, bytes, 16);
    return in6;
}

/* allow_list + "," + entry, malloc'd. */
static char *with_entry(const char *allow_list, const char *entry)
{
    size_t length = strlen(allow_list) + strlen(entry) + 2;
    char *list = malloc(length);
    if (list == NULL) abort();
    snprintf(list, length, "%s,%s", allow_list, entry);
    return list;
}

/* A list naming the address itself, or its full-length CIDR, matches it. */
static void check_named_address(const char *allow_list, const struct sockaddr *addr, const void *raw,
                                int family)
{
    char text[INET6_ADDRSTRLEN + 8];
    FUZZ_CHECK(inet_ntop(family, raw, text, INET6_ADDRSTRLEN) != NULL);
    char *list = with_entry(allow_list, text);
    FUZZ_CHECK(net_allow_list_matches(list, NULL, addr));
    FUZZ_CHECK(net_allow_list_matches(list, text, NULL)); /* the address written as the URL's host */
    free(list);
    strcat(text, family == AF_INET ? "/32" : "/128");
    list = with_entry(allow_list, text);
    FUZZ_CHECK(net_allow_list_matches(list, NULL, addr));
    free(list);
    /* an IPv4-mapped IPv6 address is compared as the IPv4 address it carries */
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    bool as_v4 = family == AF_INET || memcmp(raw, mapped_prefix, sizeof(mapped_prefix)) == 0;
    list = with_entry(allow_list, as_v4 ? "0.0.0.0/0" : "::/0");
    FUZZ_CHECK(net_allow_list_matches(list, NULL, addr));
    free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t raw[16];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = fuzz_take_byte(&in);
    char *host = fuzz_take_field(&in, '\n', NULL);
    char *allow_list = fuzz_take_rest(&in, NULL);

    /* IPv4, and the same address in each IPv6 form that carries it */
    struct sockaddr_in in4 = v4_address(raw);
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t nat64[16] = {0x00, 0x64, 0xff, 0x9b};
    uint8_t six_to_four[16] = {0x20, 0x02};
    memcpy(mapped + 12, raw, 4);
    memcpy(nat64 + 12, raw, 4);
    memcpy(six_to_four + 2, raw, 4);
    memcpy(six_to_four + 6, raw + 4, 10); /* the rest of a 6to4 address says nothing about its target */
    struct sockaddr_in6 as_mapped = v6_address(mapped), as_nat64 = v6_address(nat64),
                        as_six_to_four = v6_address(six_to_four);
    bool v4_public = net_address_is_public((struct sockaddr *)&in4);
    FUZZ_CHECK(net_address_is_public((struct sockaddr *)&as_mapped) == v4_public);
    FUZZ_CHECK(net_address_is_public((struct sockaddr *)&as_nat64) == v4_public);
    FUZZ_CHECK(net_address_is_public((struct sockaddr *)&as_six_to_four) == v4_public);
    if (raw[0] == 127 || raw[0] == 10 || (raw[0] == 192 && raw[1] == 168) || (raw[0] == 169 && raw[1] == 254))
        FUZZ_CHECK(!v4_public);

    /* a mapped address is the IPv4 address for the allow-list too */
    bool v4_matches = net_allow_list_matches(allow_list, host, (struct sockaddr *)&in4);
    FUZZ_CHECK(net_allow_list_matches(allow_list, host, (struct sockaddr *)&as_mapped) == v4_matches);
    check_named_address(allow_list, (struct sockaddr *)&in4, raw, AF_INET);

    struct sockaddr_in6 in6 = v6_address(raw);
    bool v6_matches = net_allow_list_matches(allow_list, host, (struct sockaddr *)&in6);
    (void)net_address_is_public((struct sockaddr *)&in6);
    if (raw[0] == 0xfe && (raw[1] & 0xc0) == 0x80)
        FUZZ_CHECK(!net_address_is_public((struct sockaddr *)&in6));
    check_named_address(allow_list, (struct sockaddr *)&in6, raw, AF_INET6);

    /* more entries never take a match away */
    char *longer = with_entry(allow_list, "example.invalid");
    if (v4_matches) FUZZ_CHECK(net_allow_list_matches(longer, host, (struct sockaddr *)&in4));
    if (v6_matches) FUZZ_CHECK(net_allow_list_matches(longer, host, (struct sockaddr *)&in6));
    free(longer);

    /* a list naming the host matches it (names compare without regard to case) */
    size_t host_length = strlen(host);
    bool plain = host_length > 0 && host_length < 256 && strpbrk(host, ", \t\n\v\f\r/") == NULL;
    if (plain) {
        char *list = with_entry(allow_list, host);
        FUZZ_CHECK(net_allow_list_matches(list, host, NULL));
        free(list);
    }
    free(host);
    free(allow_list);
    return 0;
}
