/*
 * web_assets: the table of files embedded at build time (scripts/embed.c writes its definition
 * into $(BUILD)/gen/web_assets.c from src/web/assets/). Read-only data: web.c looks paths up in
 * it; nothing else should need it.
 */
#ifndef MCPD_WEB_WEB_ASSETS_H
#define MCPD_WEB_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;          /* URL path: "/" + the file's base name ("/index.html") */
    const char *content_type;  /* from the extension */
    const unsigned char *data; /* the file's bytes, followed by a NUL not counted in len */
    size_t len;                /* bytes, without the trailing NUL */
    const char *etag;          /* strong ETag, quoted: 128 bits of the content's SHA-256 in hex */
};

/* web_asset_count entries, then a zeroed sentinel. */
extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

#endif
