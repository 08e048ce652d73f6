/* catalog_models.c — the eight models as data: every field with its type, default, enum, range,
 * limits, aliases and whether it is "advanced" (the seed pages' "do not pass unless necessary").
 * Rules follow specs/foxapi-api.md §5.1–5.4. Adding a model of a known kind means adding rows here. */
#include <string.h>

#include "catalog/catalog.h"

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define COUNT(fields) (sizeof(fields) / sizeof(fields[0]))

/* Every model takes callback_url (specs/foxapi-api.md §2.2); the API also requires https and a public host. */
#define CALLBACK_FIELD                                                                                                 \
    {.name = "callback_url", .type = CATALOG_TYPE_URL, .nullable = true,                                               \
     .description = "HTTPS URL (at most 2048 characters, public host) that receives the task's JSON, signed, when it " \
                    "completes, fails or is cancelled."}

/* ---- lip-sync: lipsync-2, lipsync-2-pro, sync-3 ---- */

#define LIPSYNC_MEDIA_FIELDS                                                                                           \
    {.name = "video_url", .type = CATALOG_TYPE_URL, .required = true, .aliases = LIST("video"),                         \
     .description = "Public URL of the MP4 video whose lips are synced."},                                             \
    {.name = "audio_url", .type = CATALOG_TYPE_URL, .required = true, .aliases = LIST("audio"),                         \
     .description = "Public URL of the MP3/WAV audio; its length drives the output length by sync_mode."},            \
    {.name = "sync_mode", .type = CATALOG_TYPE_STRING, .nullable = true, .default_json = "\"loop\"",                   \
     .enum_values = LIST("bounce", "loop", "cut_off", "silence", "remap"),                                              \
     .description = "How video and audio lengths are reconciled: bounce, loop, remap → audio length; cut_off → the "   \
                    "shorter; silence → video length."}

static const catalog_field lipsync_fields[] = {
    LIPSYNC_MEDIA_FIELDS,
    {.name = "temperature", .type = CATALOG_TYPE_NUMBER, .nullable = true, .advanced = true, .default_json = "0.5",
     .has_range = true, .minimum = 0, .maximum = 1,
     .description = "Mouth-motion expressiveness from 0 (conservative) to 1 (exaggerated). Do not pass unless necessary."},
    {.name = "active_speaker", .type = CATALOG_TYPE_BOOLEAN, .nullable = true, .advanced = true,
     .default_json = "false",
     .description = "Detect speaking segments and sync only during speech. Do not pass unless necessary."},
    CALLBACK_FIELD,
};

static const catalog_field sync3_fields[] = {LIPSYNC_MEDIA_FIELDS, CALLBACK_FIELD};

/* ---- talking head: creatify-aurora ---- */

static const catalog_field aurora_fields[] = {
    {.name = "image_url", .type = CATALOG_TYPE_URL, .required = true,
     .description = "Public URL of a clear, front-facing single-person portrait (JPG/PNG)."},
    {.name = "audio_url", .type = CATALOG_TYPE_URL, .required = true,
     .description = "Public URL of the audio (at most 60 s); the output follows its length."},
    {.name = "prompt", .type = CATALOG_TYPE_STRING, .nullable = true, .max_length = 2000,
     .description = "Style, camera angle, expression, lighting, scene (at most 2000 characters, reelay's limit)."},
    {.name = "guidance_scale", .type = CATALOG_TYPE_NUMBER, .nullable = true, .advanced = true, .default_json = "1",
     .has_range = true, .minimum = 0, .maximum = 5,
     .description = "Prompt adherence, 0 to 5. Do not pass unless necessary."},
    {.name = "audio_guidance_scale", .type = CATALOG_TYPE_NUMBER, .nullable = true, .advanced = true,
     .default_json = "2", .has_range = true, .minimum = 0, .maximum = 5,
     .description = "Audio-rhythm adherence, 0 to 5. Do not pass unless necessary."},
    {.name = "resolution", .type = CATALOG_TYPE_STRING, .nullable = true, .default_json = "\"720p\"",
     .enum_values = LIST("480p", "720p"), .description = "Output resolution: the short side in pixels."},
    CALLBACK_FIELD,
};

/* ---- motion control: kling-v3-motion-control, kling-v2-6-motion-control ---- */

static const catalog_field kling_fields[] = {
    {.name = "image_url", .type = CATALOG_TYPE_URL, .required = true,
     .description = "Public URL of the character image (JPG/PNG), character unobstructed."},
    {.name = "video_url", .type = CATALOG_TYPE_URL, .required = true,
     .description = "Public URL of the reference motion video (MP4/MOV): at most 10 s with character_orientation "
                    "image, 30 s with video; its length is the output's."},
    {.name = "mode", .type = CATALOG_TYPE_STRING, .nullable = true, .default_json = "\"std\"",
     .enum_values = LIST("std", "pro"), .description = "std (standard) or pro (higher quality, higher price)."},
    {.name = "prompt", .type = CATALOG_TYPE_STRING, .nullable = true, .max_length = 2500,
     .description = "Optional description (at most 2500 characters, reelay's limit)."},
    {.name = "character_orientation", .type = CATALOG_TYPE_STRING, .nullable = true, .advanced = true,
     .default_json = "\"image\"", .enum_values = LIST("image", "video"),
     .description = "Follow the orientation of the image or of the video. Do not pass unless necessary."},
    {.name = "keep_original_sound", .type = CATALOG_TYPE_STRING, .nullable = true, .advanced = true,
     .default_json = "\"yes\"", .enum_values = LIST("yes", "no"),
     .description = "Keep the reference video's sound: the string yes or no. Do not pass unless necessary."},
    CALLBACK_FIELD,
};

/* ---- text/image to video: sora-2, sora-2-pro ---- */

static const catalog_field sora_fields[] = {
    {.name = "prompt", .type = CATALOG_TYPE_STRING, .required = true, .min_length = 1, .max_length = 5000,
     .description = "What to generate (1 to 5000 characters); name characters given in character_ids."},
    {.name = "image_urls", .type = CATALOG_TYPE_URL_ARRAY, .nullable = true, .min_items = 1, .max_items = 1,
     .description = "Image to video: exactly one public image URL, used as the first frame."},
    {.name = "aspect_ratio", .type = CATALOG_TYPE_STRING, .nullable = true, .default_json = "\"16:9\"",
     .enum_values = LIST("16:9", "1280x720", "9:16", "720x1280"),
     .description = "16:9 or 1280x720 (landscape), 9:16 or 720x1280 (portrait)."},
    {.name = "duration", .type = CATALOG_TYPE_INTEGER, .nullable = true, .default_json = "4",
     .enum_values = LIST("4", "8", "12", "16", "20"), .description = "Length in seconds: 4, 8, 12, 16 or 20."},
    {.name = "resolution", .type = CATALOG_TYPE_STRING, .nullable = true, .default_json = "\"720p\"",
     .enum_values = LIST("720p", "1080p"), .description = "720p or 1080p."},
    {.name = "character_ids", .type = CATALOG_TYPE_STRING_ARRAY, .nullable = true, .advanced = true,
     .max_items = 2, .min_length = 1, .max_length = 64,
     .description = "Up to two character ids to appear in the video. Do not pass unless necessary."},
    CALLBACK_FIELD,
};

static const catalog_model models[] = {
    {"lipsync-2", CATALOG_FAMILY_LIPSYNC, "Lip-sync a video to an audio track (standard).", 60, lipsync_fields,
     COUNT(lipsync_fields)},
    {"lipsync-2-pro", CATALOG_FAMILY_LIPSYNC, "Lip-sync a video to an audio track (higher quality).", 90,
     lipsync_fields, COUNT(lipsync_fields)},
    {"sync-3", CATALOG_FAMILY_LIPSYNC, "Next-generation professional lip-sync.", 90, sync3_fields, COUNT(sync3_fields)},
    {"creatify-aurora", CATALOG_FAMILY_TALKING_HEAD, "Talking-head avatar video from a portrait and an audio track.",
     120, aurora_fields, COUNT(aurora_fields)},
    {"kling-v3-motion-control", CATALOG_FAMILY_MOTION_CONTROL,
     "Animate a character image with the motion of a reference video (Kling V3).", 180, kling_fields,
     COUNT(kling_fields)},
    {"kling-v2-6-motion-control", CATALOG_FAMILY_MOTION_CONTROL,
     "Animate a character image with the motion of a reference video (Kling V2.6).", 180, kling_fields,
     COUNT(kling_fields)},
    {"sora-2", CATALOG_FAMILY_TEXT_TO_VIDEO, "Text or image to video.", 120, sora_fields, COUNT(sora_fields)},
    {"sora-2-pro", CATALOG_FAMILY_TEXT_TO_VIDEO, "Text or image to video, higher quality, with generated audio.", 240,
     sora_fields, COUNT(sora_fields)},
};

size_t catalog_model_count(void)
{
    return COUNT(models);
}

const catalog_model *catalog_model_at(size_t index)
{
    return index < COUNT(models) ? &models[index] : NULL;
}

const catalog_model *catalog_model_find(const char *id)
{
    for (size_t i = 0; id && i < COUNT(models); i++)
        if (strcmp(models[i].id, id) == 0) return &models[i];
    return NULL;
}

const char *catalog_family_name(catalog_family family)
{
    switch (family) {
    case CATALOG_FAMILY_LIPSYNC: return "lipsync";
    case CATALOG_FAMILY_TALKING_HEAD: return "talking_head";
    case CATALOG_FAMILY_MOTION_CONTROL: return "motion_control";
    case CATALOG_FAMILY_TEXT_TO_VIDEO: return "text_to_video";
    }
    return "unknown";
}
