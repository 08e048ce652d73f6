/* local_inputs.c — maps this server's own signed file links back to the stored objects (see
 * local_inputs.h): a prefix comparison, the query's expires and signature, link_verify, a stat. */
#include "engine/local_inputs.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/clock.h"
#include "util/url_scheme.h"

/* Copies the value of query parameter `name` (no decoding: our links need none) into out. */
static bool query_value(const char *query, const char *name, char *out, size_t out_size)
{
    size_t name_length = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t length = end ? (size_t)(end - p) : strlen(p);
        if (length > name_length && strncmp(p, name, name_length) == 0 && p[name_length] == '=') {
            size_t value_length = length - name_length - 1;
            if (value_length == 0 || value_length >= out_size) return false;
            memcpy(out, p + name_length + 1, value_length);
            out[value_length] = '\0';
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

bool local_input_resolve(const local_inputs *cfg, const char *url, char *path, size_t path_size)
{
    if (path_size) path[0] = '\0';
    if (cfg == NULL || cfg->public_url == NULL || cfg->public_url[0] == '\0' || cfg->signer == NULL ||
        cfg->blobs == NULL || url == NULL)
        return false;
    size_t base_length = strlen(cfg->public_url);
    static const char files[] = "/v1/files/";
    if (!url_scheme_has_prefix(url, cfg->public_url) ||
        strncmp(url + base_length, files, sizeof(files) - 1) != 0)
        return false;
    const char *name_start = url + base_length + sizeof(files) - 1;
    const char *query = strchr(name_start, '?');
    if (query == NULL || strchr(name_start, '#') != NULL) return false;
    char name[600], expires[32], signature[80];
    size_t name_length = (size_t)(query - name_start);
    if (name_length == 0 || name_length >= sizeof(name)) return false;
    memcpy(name, name_start, name_length);
    name[name_length] = '\0';
    if (!blob_name_is_valid(name) || !query_value(query + 1, "expires", expires, sizeof(expires)) ||
        !query_value(query + 1, "signature", signature, sizeof(signature)))
        return false;
    if (link_verify(cfg->signer, name, expires, signature, clock_unix_seconds()) != LINK_VALID) return false;
    char local[4096];
    struct stat st;
    if (blob_local_path(cfg->blobs, name, local, sizeof(local)) != 0 || stat(local, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return false;
    if ((size_t)snprintf(path, path_size, "%s", local) >= path_size) {
        if (path_size) path[0] = '\0';
        return false;
    }
    return true;
}
