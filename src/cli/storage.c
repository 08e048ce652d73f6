/* storage.c — the storage a command works on, from its settings: the local folder <data>/blobs (or the
 * folder --storage names), or a bucket of S3-compatible storage for an s3:// URL, with its scratch space
 * under <data>/blobs. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_storage_open(const settings *s, const char *data_dir, blob_store **out)
{
    const char *url = settings_text(s, SETTING_STORAGE);
    char local[4096];
    if (snprintf(local, sizeof(local), "%s/blobs", data_dir) >= (int)sizeof(local)) {
        fprintf(stderr, "reelay: the data folder's path is too long\n");
        return 1;
    }
    if (url == NULL || strncmp(url, "s3://", 5) != 0) {
        const char *folder = url != NULL ? url : local;
        if (blob_store_open(folder, out) == 0) return 0;
        fprintf(stderr, "reelay: cannot create the storage folder %s\n", folder);
        return 1;
    }
    const char *endpoint = settings_text(s, SETTING_S3_ENDPOINT);
    long long addressing = settings_integer(s, SETTING_S3_ADDRESSING); /* auto, path, virtual */
    blob_s3_config config = {.url = url,
                             .endpoint = endpoint,
                             .region = settings_text(s, SETTING_S3_REGION),
                             .access_key_id = settings_text(s, SETTING_S3_ACCESS_KEY_ID),
                             .secret_access_key = settings_text(s, SETTING_S3_SECRET_ACCESS_KEY),
                             .path_style = addressing == 1 || (addressing == 0 && endpoint != NULL)};
    char err[512];
    if (blob_store_open_s3(&config, local, out, err, sizeof(err)) == 0) return 0;
    fprintf(stderr, "reelay: cannot use the storage %s: %s\n", url, err);
    return 1;
}
