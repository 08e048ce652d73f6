/* channel_models.c — reading a channel's model list ("all" or "m1,m2,…"). */
#include <string.h>

#include "store/store.h"

bool channel_serves_model(const channel_record *channel, const char *model)
{
    if (strcmp(channel->models, "all") == 0) return true;
    size_t model_length = strlen(model);
    for (const char *p = channel->models; *p;) {
        size_t length = strcspn(p, ",");
        if (length == model_length && strncmp(p, model, length) == 0) return true;
        p += length + (p[length] == ',');
    }
    return false;
}
