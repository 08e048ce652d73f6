/* console_assets.h — the web console's files (/console), built into the binary.
 *
 * The data is generated at build time by scripts/console_embed.cmake into the build folder
 * (console_assets.c): the page (index.html, naming the bundle's hashed file names) and the bundle made
 * by esbuild from console/ (one JS and one CSS file, minified). When the bundle could not be built
 * (console/node_modules missing: `make deps` was not run), the page alone is there and says how to
 * build it. console.c serves them (api_console_page); this header is also the contract of the lookup. */
#ifndef REELAY_API_CONSOLE_ASSETS_H
#define REELAY_API_CONSOLE_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct console_asset {
    const char *name; /* "index.html" for the page; the bundle's are "app-<hash>.js", "app-<hash>.css" */
    const char *content_type; /* served as is, e.g. "text/javascript; charset=utf-8" */
    const char *etag;         /* quoted: "\"<first 16 hex digits of the content's SHA-256>\"" */
    const unsigned char *bytes;
    size_t length;
} console_asset;

/* Every file: [0] is the page, the others are the bundle (none when it was not built). Generated. */
extern const console_asset console_assets[];
extern const size_t console_asset_count;
/* Whether the bundle was built (false: the page only says how to build it). Generated. */
extern const bool console_bundle_built;

/* What a path below /console/ answers: rest[0..length) is the part after "/console/" (no query; may be
 * empty). "assets/<name>" is the bundle file of that name, or NULL when there is none (a 404: an old
 * page naming a former bundle must not get HTML as script); anything else is the page, since the
 * console is a single-page application that reads its own path. Pure. */
const console_asset *console_asset_for_path(const char *rest, size_t length);

#endif
