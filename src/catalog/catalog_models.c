/* catalog_models.c — the eight models as data: every field with its type, default, enum, range,
 * limits, aliases and whether it is "advanced" (the seed pages' "do not pass unless necessary");
 * then each model's media inputs, billing rules and sandbox recipe (catalog.h).
 * Rules follow specs/foxapi-api.md §5.1–5.4. Adding a model of a known kind means adding rows here. */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define COUNT(fields) (sizeof(fields) / sizeof(fields[0]))

/* The tables below are laid out by hand (one field per entry, aligned for reading, up to 120 columns):
 * clang-format leaves them alone. */
// clang-format off

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

/* The older sora-2-pro shape is mapped as data: `size` is aspect_ratio, `image_url` one item of
 * image_urls, and the members of `model_params` count as top-level fields (the rows' params_object). */
static const catalog_field sora_fields[] = {
    {.name = "prompt", .type = CATALOG_TYPE_STRING, .required = true, .min_length = 1, .max_length = 5000,
     .description = "What to generate (1 to 5000 characters); name characters given in character_ids."},
    {.name = "image_urls", .type = CATALOG_TYPE_URL_ARRAY, .nullable = true, .min_items = 1, .max_items = 1,
     .item_aliases = LIST("image_url"),
     .description = "Image to video: exactly one public image URL, used as the first frame."},
    {.name = "aspect_ratio", .type = CATALOG_TYPE_STRING, .nullable = true, .default_json = "\"16:9\"",
     .enum_values = LIST("16:9", "1280x720", "9:16", "720x1280"), .aliases = LIST("size"),
     .description = "16:9 or 1280x720 (landscape), 9:16 or 720x1280 (portrait)."},
    {.name = "duration", .type = CATALOG_TYPE_INTEGER, .nullable = true, .default_json = "4",
     .enum_values = LIST("4", "8", "12", "16", "20"), .description = "Length in seconds: 4, 8, 12, 16 or 20."},
    {.name = "resolution", .type = CATALOG_TYPE_STRING, .nullable = true, .default_json = "\"720p\"",
     .enum_values = LIST("720p", "1080p"), .description = "720p or 1080p."},
    {.name = "character_ids", .type = CATALOG_TYPE_STRING_ARRAY, .nullable = true, .advanced = true,
     .max_items = 2, .min_length = 1, .max_length = 64,
     .description = "Up to two character ids to appear in the video. Do not pass unless necessary."},
    {.name = "delete_video", .type = CATALOG_TYPE_BOOLEAN, .nullable = true, .default_json = "true",
     .description = "Whether the provider's copy may be deleted once retrieved (default true). reelay serves the "
                    "result from its own storage for the link lifetime either way."},
    CALLBACK_FIELD,
};

/* ---- media formats, billing rules and sandbox recipes shared by several models ---- */

/* The formats the model pages accept: video MP4/MOV, audio MP3/WAV, image JPG/PNG. */
static const catalog_media_formats video_mp4_mov = {.containers = LIST("mp4", "mov"),
                                                    .not_kind = "must be a video (MP4 or MOV)",
                                                    .not_format = "must be an MP4 or MOV video"};
static const catalog_media_formats audio_mp3_wav = {.containers = LIST("mp3", "wav"),
                                                    .video_tolerated_in = LIST("mp3"),
                                                    .not_kind = "must be audio (MP3 or WAV)",
                                                    .not_format = "must be an MP3 or WAV file"};
static const catalog_media_formats image_jpg_png = {.codecs = LIST("png", "mjpeg"),
                                                    .not_kind = "must be an image (JPG or PNG)",
                                                    .not_format = "must be a JPG or PNG image"};

#define LIMITS(...) ((const catalog_length_limit[]){__VA_ARGS__, {.max_seconds = 0}})
#define BILLING(...) ((const catalog_billing_rule[]){__VA_ARGS__, {.seconds = CATALOG_SECONDS_NONE}})
#define RENDER_ARGS(...) ((const catalog_render_arg[]){__VA_ARGS__, {.kind = CATALOG_RENDER_ARG_NONE}})

static const catalog_media_input lipsync_media[] = {
    {.field = "video_url", .kind = CATALOG_MEDIA_VIDEO, .formats = &video_mp4_mov, .needs_duration = true},
    {.field = "audio_url", .kind = CATALOG_MEDIA_AUDIO, .formats = &audio_mp3_wav, .needs_duration = true},
};
/* lip-sync by sync_mode: cut_off → the shorter, silence → the video, loop/bounce/remap → the audio */
#define LIPSYNC_BILLING                                                                                      \
    BILLING({.when = {"sync_mode", "cut_off"}, .seconds = CATALOG_SECONDS_SHORTER},                          \
            {.when = {"sync_mode", "silence"}, .seconds = CATALOG_SECONDS_VIDEO},                            \
            {.seconds = CATALOG_SECONDS_AUDIO})
#define LIPSYNC_SANDBOX                                                                                      \
    {                                                                                                        \
        .render = CATALOG_RENDER_LIPSYNC,                                                                    \
        .args = RENDER_ARGS({.kind = CATALOG_RENDER_ARG_SYNC_MODE, .param = "sync_mode"})                    \
    }

static const catalog_media_input aurora_media[] = {
    {.field = "image_url", .kind = CATALOG_MEDIA_IMAGE, .formats = &image_jpg_png},
    {.field = "audio_url",
     .kind = CATALOG_MEDIA_AUDIO,
     .formats = &audio_mp3_wav,
     .needs_duration = true,
     .length_limits = LIMITS({.max_seconds = 60, .why = "for creatify-aurora"})},
};

static const catalog_media_input kling_media[] = {
    {.field = "image_url", .kind = CATALOG_MEDIA_IMAGE, .formats = &image_jpg_png},
    {.field = "video_url",
     .kind = CATALOG_MEDIA_VIDEO,
     .formats = &video_mp4_mov,
     .needs_duration = true,
     .length_limits = LIMITS({.when = {"character_orientation", "video"},
                              .max_seconds = 30,
                              .why = "with character_orientation video"},
                             {.max_seconds = 10, .why = "with character_orientation image"})},
};
#define KLING_SANDBOX                                                                                        \
    {                                                                                                        \
        .render = CATALOG_RENDER_MOTION_CONTROL,                                                             \
        .args = RENDER_ARGS(                                                                                 \
            {.kind = CATALOG_RENDER_ARG_KEEP_SOUND, .param = "keep_original_sound", .value = "yes"})         \
    }

static const catalog_media_input sora_media[] = {
    {.field = "image_urls", .first_item = true, .kind = CATALOG_MEDIA_IMAGE, .formats = &image_jpg_png},
};
#define SORA_BILLING BILLING({.seconds = CATALOG_SECONDS_PARAM, .param = "duration", .fallback = 4})
#define SORA_SANDBOX                                                                                         \
    {                                                                                                        \
        .render = CATALOG_RENDER_TEST_CARD,                                                                  \
        .args = RENDER_ARGS({.kind = CATALOG_RENDER_ARG_FRAME,                                               \
                             .param = "resolution",                                                          \
                             .pixels = 720,                                                                  \
                             .portrait_param = "aspect_ratio",                                               \
                             .portrait_values = LIST("9:16", "720x1280")},                                   \
                            {.kind = CATALOG_RENDER_ARG_DURATION, .param = "duration"},                      \
                            {.kind = CATALOG_RENDER_ARG_TEXT, .param = "prompt"})                            \
    }

/* ---- the models ---- */

#define FIELDS(list) .fields = list, .field_count = COUNT(list)
#define MEDIA(list) .media = list, .media_count = COUNT(list)

static const catalog_model models[] = {
    {.id = "lipsync-2",
     .family = CATALOG_FAMILY_LIPSYNC,
     .description = "Lip-sync a video to an audio track (standard).",
     .estimated_seconds = 60,
     FIELDS(lipsync_fields),
     MEDIA(lipsync_media),
     .billable = LIPSYNC_BILLING,
     .sandbox = LIPSYNC_SANDBOX},
    {.id = "lipsync-2-pro",
     .family = CATALOG_FAMILY_LIPSYNC,
     .description = "Lip-sync a video to an audio track (higher quality).",
     .estimated_seconds = 90,
     FIELDS(lipsync_fields),
     MEDIA(lipsync_media),
     .billable = LIPSYNC_BILLING,
     .sandbox = LIPSYNC_SANDBOX},
    {.id = "sync-3",
     .family = CATALOG_FAMILY_LIPSYNC,
     .description = "Next-generation professional lip-sync.",
     .estimated_seconds = 90,
     FIELDS(sync3_fields),
     MEDIA(lipsync_media),
     .billable = LIPSYNC_BILLING,
     .sandbox = LIPSYNC_SANDBOX},
    {.id = "creatify-aurora",
     .family = CATALOG_FAMILY_TALKING_HEAD,
     .description = "Talking-head avatar video from a portrait and an audio track.",
     .estimated_seconds = 120,
     FIELDS(aurora_fields),
     MEDIA(aurora_media),
     .billable = BILLING({.seconds = CATALOG_SECONDS_AUDIO}),
     .sandbox = {.render = CATALOG_RENDER_TALKING_HEAD,
                 .args = RENDER_ARGS(
                     {.kind = CATALOG_RENDER_ARG_SHORT_SIDE, .param = "resolution", .pixels = 720})}},
    {.id = "kling-v3-motion-control",
     .family = CATALOG_FAMILY_MOTION_CONTROL,
     .description = "Animate a character image with the motion of a reference video (Kling V3).",
     .estimated_seconds = 180,
     FIELDS(kling_fields),
     MEDIA(kling_media),
     .billable = BILLING({.seconds = CATALOG_SECONDS_VIDEO}),
     .sandbox = KLING_SANDBOX},
    {.id = "kling-v2-6-motion-control",
     .family = CATALOG_FAMILY_MOTION_CONTROL,
     .description = "Animate a character image with the motion of a reference video (Kling V2.6).",
     .estimated_seconds = 180,
     FIELDS(kling_fields),
     MEDIA(kling_media),
     .billable = BILLING({.seconds = CATALOG_SECONDS_VIDEO}),
     .sandbox = KLING_SANDBOX},
    {.id = "sora-2",
     .family = CATALOG_FAMILY_TEXT_TO_VIDEO,
     .description = "Text or image to video.",
     .estimated_seconds = 120,
     FIELDS(sora_fields),
     MEDIA(sora_media),
     .billable = SORA_BILLING,
     .sandbox = SORA_SANDBOX,
     .params_object = "model_params"},
    {.id = "sora-2-pro",
     .family = CATALOG_FAMILY_TEXT_TO_VIDEO,
     .description = "Text or image to video, higher quality, with generated audio.",
     .estimated_seconds = 240,
     FIELDS(sora_fields),
     MEDIA(sora_media),
     .billable = SORA_BILLING,
     .sandbox = SORA_SANDBOX,
     .params_object = "model_params"},
};

// clang-format on

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
    case CATALOG_FAMILY_LIPSYNC:
        return "lipsync";
    case CATALOG_FAMILY_TALKING_HEAD:
        return "talking_head";
    case CATALOG_FAMILY_MOTION_CONTROL:
        return "motion_control";
    case CATALOG_FAMILY_TEXT_TO_VIDEO:
        return "text_to_video";
    }
    return "unknown";
}

bool catalog_condition_holds(const catalog_condition *condition, const json_t *params)
{
    if (condition->param == NULL) return true;
    const char *given = json_string_value(json_object_get(params, condition->param));
    return given != NULL && condition->value != NULL && strcmp(given, condition->value) == 0;
}

const char *catalog_media_url(const catalog_media_input *input, const json_t *params)
{
    const json_t *value = json_object_get(params, input->field);
    if (input->first_item) value = json_array_get(value, 0);
    return json_string_value(value);
}

bool catalog_media_name(const catalog_media_input *input, char *out, size_t out_size)
{
    int n = snprintf(out, out_size, input->first_item ? "%s[0]" : "%s", input->field);
    return n >= 0 && (size_t)n < out_size;
}

const catalog_length_limit *catalog_media_length_limit(const catalog_media_input *input, const json_t *params)
{
    for (const catalog_length_limit *limit = input->length_limits; limit && limit->max_seconds > 0; limit++)
        if (catalog_condition_holds(&limit->when, params)) return limit;
    return NULL;
}

const catalog_field *catalog_model_field(const catalog_model *model, const char *name)
{
    for (size_t i = 0; name && i < model->field_count; i++)
        if (strcmp(model->fields[i].name, name) == 0) return &model->fields[i];
    return NULL;
}
