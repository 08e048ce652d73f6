/* console.c — GET /console and everything below it: the web console's page and bundle, served from
 * memory (console_assets.h) with a strict Content-Security-Policy. The page is never cached without
 * asking (no-cache, with an ETag); the bundle's names carry their content's hash, so it is cached for
 * a year. The console talks to the API like any client: with the key a user pastes, in an
 * Authorization header; it has no route of its own besides these files. */
#include <string.h>

#include "api/api_internal.h"
#include "api/console_assets.h"

/* Nothing but this origin's own files, no inline script or style, no framing, no forms posted
 * elsewhere; media and images may also be blob: (a dropped file's preview) or data: (the favicon). */
#define CONSOLE_CSP                                                                                          \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "                  \
    "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "                      \
    "frame-ancestors 'none'"

static const char assets_prefix[] = "assets/";

const console_asset *console_asset_for_path(const char *rest, size_t length)
{
    size_t prefix_length = sizeof(assets_prefix) - 1;
    if (length < prefix_length || memcmp(rest, assets_prefix, prefix_length) != 0) return &console_assets[0];
    const char *name = rest + prefix_length;
    size_t name_length = length - prefix_length;
    for (size_t i = 1; i < console_asset_count; i++) {
        const console_asset *asset = &console_assets[i];
        if (strlen(asset->name) == name_length && memcmp(asset->name, name, name_length) == 0) return asset;
    }
    return NULL;
}

void api_console_page(http_exchange *exchange)
{
    h2o_req_t *req = exchange->req;
    const char *rest = exchange->param_count > 0 ? exchange->params[0].base : "";
    size_t rest_length = exchange->param_count > 0 ? exchange->params[0].len : 0;
    const console_asset *asset = console_asset_for_path(rest, rest_length);
    http_set_header(req, "content-security-policy", CONSOLE_CSP);
    http_set_header(req, "x-content-type-options", "nosniff");
    http_set_header(req, "referrer-policy", "no-referrer");
    if (asset == NULL) {
        http_send_error_code(req, "unknown_path", NULL, "There is nothing at this path.");
        return;
    }
    bool is_page = asset == &console_assets[0];
    http_set_header(req, "cache-control", is_page ? "no-cache" : "public, max-age=31536000, immutable");
    http_set_header(req, "etag", asset->etag);
    h2o_iovec_t wanted = http_request_header(req, "if-none-match");
    static h2o_generator_t generator = {NULL, NULL}; /* the bytes are static: nothing to proceed or stop */
    if (wanted.base != NULL && http_etag_list_matches(wanted.base, wanted.len, asset->etag)) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_start_response(req, &generator);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    req->res.status = 200;
    req->res.reason = http_reason_phrase(200);
    req->res.content_length = asset->length;
    http_set_header(req, "content-type", asset->content_type);
    h2o_iovec_t body = h2o_iovec_init(asset->bytes, asset->length);
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}
