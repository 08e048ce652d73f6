/* net_guard.c — the address rules of the outbound guard: which addresses count as public, and the
 * operator's allow-list of names, addresses and CIDRs that may be non-public anyway. Pure functions
 * over bytes, so the same rules serve the fetch client and any later callback or webhook check. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <strings.h>

#include "net/fetch.h"

/* An address reduced to raw bytes: 4 for IPv4, 16 for IPv6. IPv4-mapped IPv6 addresses are reduced
 * to their IPv4 form so that "127.0.0.1" in the allow-list also covers ::ffff:127.0.0.1. */
typedef struct net_address {
    int family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
} net_address;

typedef struct net_range {
    uint8_t bytes[16];
    unsigned prefix_bits;
} net_range;

/* Special-purpose IPv4 blocks (RFC 6890 and friends) that must never be reached on a user's behalf. */
static const net_range net_private_v4[] = {
    {{0, 0, 0, 0}, 8},      {{10, 0, 0, 0}, 8},    {{100, 64, 0, 0}, 10},      {{127, 0, 0, 0}, 8},
    {{169, 254, 0, 0}, 16}, {{172, 16, 0, 0}, 12}, {{192, 0, 0, 0}, 24},       {{192, 0, 2, 0}, 24},
    {{192, 168, 0, 0}, 16}, {{198, 18, 0, 0}, 15}, {{198, 51, 100, 0}, 24},    {{203, 0, 113, 0}, 24},
    {{224, 0, 0, 0}, 4},    {{240, 0, 0, 0}, 4},   {{255, 255, 255, 255}, 32},
};

/* Non-public IPv6 blocks. ::/96 also covers the deprecated IPv4-compatible form (::a.b.c.d), which is
 * not globally routable either; :: and ::1 are its most important members. */
static const net_range net_private_v6[] = {
    {{0}, 96},                      /* ::, ::1 and IPv4-compatible addresses */
    {{0xfc, 0x00}, 7},              /* unique local */
    {{0xfe, 0x80}, 10},             /* link-local */
    {{0xff, 0x00}, 8},              /* multicast */
    {{0x20, 0x01, 0x0d, 0xb8}, 32}, /* documentation */
};

static bool net_prefix_matches(const uint8_t *address, const uint8_t *prefix, unsigned prefix_bits)
{
    unsigned whole_bytes = prefix_bits / 8, rest_bits = prefix_bits % 8;
    if (memcmp(address, prefix, whole_bytes) != 0) return false;
    if (rest_bits == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest_bits));
    return (address[whole_bytes] & mask) == (prefix[whole_bytes] & mask);
}

static bool net_v4_is_public(const uint8_t *v4)
{
    for (size_t i = 0; i < sizeof(net_private_v4) / sizeof(net_private_v4[0]); i++)
        if (net_prefix_matches(v4, net_private_v4[i].bytes, net_private_v4[i].prefix_bits)) return false;
    return true;
}

static bool net_v6_is_public(const uint8_t *v6)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    static const uint8_t six_to_four[2] = {0x20, 0x02};
    /* Forms that carry an IPv4 address end up talking to that address, so its rules decide. */
    if (memcmp(v6, mapped, sizeof(mapped)) == 0) return net_v4_is_public(v6 + 12);
    if (memcmp(v6, nat64, sizeof(nat64)) == 0) return net_v4_is_public(v6 + 12);
    if (memcmp(v6, six_to_four, sizeof(six_to_four)) == 0) return net_v4_is_public(v6 + 2);
    for (size_t i = 0; i < sizeof(net_private_v6) / sizeof(net_private_v6[0]); i++)
        if (net_prefix_matches(v6, net_private_v6[i].bytes, net_private_v6[i].prefix_bits)) return false;
    return true;
}

/* The family of a socket address. Read with memcpy: the object behind `addr` is a sockaddr_in,
 * sockaddr_in6 or sockaddr_storage, and reading it through `struct sockaddr` breaks the aliasing
 * rules (GCC at -O2 then drops the caller's store of the family). */
static sa_family_t net_sockaddr_family(const struct sockaddr *addr)
{
    sa_family_t family;
    memcpy(&family, (const char *)addr + offsetof(struct sockaddr, sa_family), sizeof(family));
    return family;
}

/* Fills out from raw address bytes, reducing IPv4-mapped IPv6 to IPv4. */
static void net_address_from_bytes(int family, const uint8_t *raw, net_address *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof(*out));
    if (family == AF_INET6 && memcmp(raw, mapped, sizeof(mapped)) == 0) {
        out->family = AF_INET;
        memcpy(out->bytes, raw + 12, 4);
    } else {
        out->family = family;
        memcpy(out->bytes, raw, family == AF_INET ? 4 : 16);
    }
}

static bool net_address_from_sockaddr(const struct sockaddr *addr, net_address *out)
{
    if (addr == NULL) return false;
    sa_family_t family = net_sockaddr_family(addr);
    if (family == AF_INET) {
        struct sockaddr_in in4;
        memcpy(&in4, addr, sizeof(in4));
        net_address_from_bytes(AF_INET, (const uint8_t *)&in4.sin_addr, out);
        return true;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof(in6));
        net_address_from_bytes(AF_INET6, in6.sin6_addr.s6_addr, out);
        return true;
    }
    return false;
}

/* Parses a textual IPv4 or IPv6 literal (strict inet_pton forms only). */
static bool net_address_parse(const char *text, net_address *out)
{
    uint8_t raw[16];
    if (inet_pton(AF_INET, text, raw) == 1) {
        net_address_from_bytes(AF_INET, raw, out);
        return true;
    }
    if (inet_pton(AF_INET6, text, raw) == 1) {
        net_address_from_bytes(AF_INET6, raw, out);
        return true;
    }
    return false;
}

bool net_address_is_public(const struct sockaddr *addr)
{
    if (addr == NULL) return false;
    sa_family_t family = net_sockaddr_family(addr);
    if (family == AF_INET) {
        struct sockaddr_in in4;
        memcpy(&in4, addr, sizeof(in4));
        return net_v4_is_public((const uint8_t *)&in4.sin_addr);
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof(in6));
        return net_v6_is_public(in6.sin6_addr.s6_addr);
    }
    return false;
}

/* An allow-list entry, parsed: a name, or an address range (a single address is a full-length prefix). */
typedef struct net_allow_entry {
    bool is_range;
    net_address network;
    unsigned prefix_bits;
} net_allow_entry;

/* Returns false for entries that are malformed: they then match nothing. */
static bool net_allow_entry_parse(char *text, net_allow_entry *out)
{
    memset(out, 0, sizeof(*out));
    char *slash = strchr(text, '/');
    if (slash == NULL) {
        if (net_address_parse(text, &out->network)) {
            out->is_range = true;
            out->prefix_bits = out->network.family == AF_INET ? 32 : 128;
        }
        return true; /* otherwise a host name */
    }
    *slash = '\0';
    const char *digits = slash + 1;
    if (*digits == '\0' || strlen(digits) > 3) return false;
    for (const char *p = digits; *p; p++)
        if (!isdigit((unsigned char)*p)) return false;
    unsigned long bits = strtoul(digits, NULL, 10);
    if (!net_address_parse(text, &out->network)) return false;
    if (out->network.family == AF_INET && strchr(text, ':') != NULL) {
        /* Written in IPv4-mapped form (::ffff:10.0.0.0/104): addresses are compared as IPv4, so the
         * prefix must be too; a prefix shorter than the mapped block itself is not worth guessing at. */
        if (bits < 96) return false;
        bits -= 96;
    }
    if (bits > (out->network.family == AF_INET ? 32u : 128u)) return false;
    out->is_range = true;
    out->prefix_bits = (unsigned)bits;
    return true;
}

static bool net_range_contains(const net_allow_entry *entry, const net_address *address)
{
    return address->family == entry->network.family &&
           net_prefix_matches(address->bytes, entry->network.bytes, entry->prefix_bits);
}

/* Hosts may arrive as written in a URL ("[::1]"); the comparison wants the bare literal. */
static void net_host_strip_brackets(const char *host, char *out, size_t out_size)
{
    size_t length = strlen(host);
    if (length >= 2 && host[0] == '[' && host[length - 1] == ']') {
        host++;
        length -= 2;
    }
    if (length >= out_size) length = 0; /* too long to be a literal; names compare on the original */
    memcpy(out, host, length);
    out[length] = '\0';
}

bool net_allow_list_matches(const char *allow_list, const char *host, const struct sockaddr *addr)
{
    if (allow_list == NULL || *allow_list == '\0') return false;
    net_address resolved, literal;
    bool have_resolved = net_address_from_sockaddr(addr, &resolved);
    bool have_literal = false;
    char bare_host[INET6_ADDRSTRLEN + 1] = "";
    if (host != NULL) {
        net_host_strip_brackets(host, bare_host, sizeof(bare_host));
        have_literal = net_address_parse(bare_host, &literal);
    }

    const char *cursor = allow_list;
    while (*cursor != '\0') {
        const char *end = strchr(cursor, ',');
        if (end == NULL) end = cursor + strlen(cursor);
        const char *first = cursor, *last = end;
        while (first < last && isspace((unsigned char)*first))
            first++;
        while (last > first && isspace((unsigned char)last[-1]))
            last--;
        size_t length = (size_t)(last - first);
        cursor = *end == ',' ? end + 1 : end;

        char text[256];
        if (length == 0 || length >= sizeof(text)) continue; /* empty or longer than any host name */
        memcpy(text, first, length);
        text[length] = '\0';

        net_allow_entry entry;
        if (!net_allow_entry_parse(text, &entry)) continue;
        if (!entry.is_range) {
            if (host != NULL && strcasecmp(text, host) == 0) return true;
            continue;
        }
        if (have_resolved && net_range_contains(&entry, &resolved)) return true;
        if (have_literal && net_range_contains(&entry, &literal)) return true;
    }
    return false;
}
