/* catalog.h — the eight models as data, and the one validator that reads that data.
 *
 * Each model lists its fields; each field has a type, required flag, default, enum, numeric range,
 * maximum length / item count, aliases, nullability and whether it is "advanced" (the seed pages'
 * "do not pass unless necessary"). catalog_validate() reads only those tables: adding a model with
 * the same kinds of fields needs no new code. Field rules follow specs/foxapi-api.md §5.1–5.4.
 *
 * A model's row also carries, as data, what the rest of reelay needs to know about it: its media
 * inputs (which field is media of which kind, formats, length limits), where its billable seconds
 * come from, and the sandbox's recipe for rendering it. Adding a model of known kinds is its row here,
 * its price (catalog/prices.c) and the providers that serve it (see CONTRIBUTING.md). */
#ifndef REELAY_CATALOG_CATALOG_H
#define REELAY_CATALOG_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef enum {
    CATALOG_FAMILY_LIPSYNC,        /* lipsync-2, lipsync-2-pro, sync-3 */
    CATALOG_FAMILY_TALKING_HEAD,   /* creatify-aurora */
    CATALOG_FAMILY_MOTION_CONTROL, /* kling-v3-motion-control, kling-v2-6-motion-control */
    CATALOG_FAMILY_TEXT_TO_VIDEO,  /* sora-2, sora-2-pro */
} catalog_family;

typedef enum {
    CATALOG_TYPE_STRING,
    CATALOG_TYPE_URL,    /* a string that must be an absolute http(s) URL */
    CATALOG_TYPE_NUMBER, /* integer or real */
    CATALOG_TYPE_INTEGER,
    CATALOG_TYPE_BOOLEAN,
    CATALOG_TYPE_URL_ARRAY, /* array of http(s) URLs */
    CATALOG_TYPE_STRING_ARRAY,
} catalog_type;

typedef struct catalog_field {
    const char *name; /* canonical name */
    catalog_type type;
    bool required;
    bool nullable;                  /* JSON null accepted and means "absent" */
    bool advanced;                  /* "do not pass unless necessary": restricts routing (issue 3) */
    const char *default_json;       /* JSON text of the default, or NULL for none */
    const char *const *enum_values; /* NULL-terminated list of allowed strings (or integer texts), or NULL */
    bool has_range;
    double minimum, maximum;       /* inclusive, when has_range */
    size_t min_length, max_length; /* strings: characters (UTF-8 code points); 0 = no limit */
    size_t min_items, max_items;   /* arrays; 0 = no limit */
    const char *const *aliases;    /* NULL-terminated list of accepted other names, or NULL */
    /* Arrays: NULL-terminated list of other names under which ONE item is given instead of the array
     * (an older shape: "image_url": "…" for "image_urls": ["…"]); it becomes a one-item array. */
    const char *const *item_aliases;
    const char *description; /* one sentence for GET /v1/models */
} catalog_field;

/* ---- the rules beyond validation, as data: media inputs, billable seconds, the sandbox's recipe ----
 * Each is a small generic rule kind; the code that applies them (api/generations.c, catalog/prices.c,
 * engine/sandbox_runner.c) never asks which model or family it is looking at. */

/* "When parameter `param` is the string `value`"; param NULL = always. */
typedef struct catalog_condition {
    const char *param;
    const char *value;
} catalog_condition;

typedef enum {
    CATALOG_MEDIA_VIDEO, /* a real video stream, not a still image */
    CATALOG_MEDIA_AUDIO, /* an audio stream */
    CATALOG_MEDIA_IMAGE, /* a still image */
} catalog_media_kind;

/* The formats an input accepts, with the words of the two refusals. */
typedef struct catalog_media_formats {
    /* libavformat demuxer names; one must be in the probe's list ("mov,mp4,…"); NULL = any */
    const char *const *containers;
    const char *const *codecs; /* the first video stream's codec must be one of these; NULL = any */
    /* audio: containers where a video stream (cover art the probe counts as video) does not make the
     * file "not audio"; NULL = none */
    const char *const *video_tolerated_in;
    const char *not_kind;   /* "must be a video (MP4 or MOV)": not this kind of media at all */
    const char *not_format; /* "must be an MP4 or MOV video": the kind, in another format */
} catalog_media_formats;

/* A length limit, applied when its condition holds (the first holding one of a list counts). */
typedef struct catalog_length_limit {
    catalog_condition when;
    double max_seconds; /* > 0; 0 ends a list */
    const char *why;    /* ends the refusal: "for creatify-aurora", "with character_orientation video" */
} catalog_length_limit;

enum { CATALOG_MAX_MEDIA_INPUTS = 3 }; /* at most one input of each kind */

/* One media input of a model: a URL field whose target is probed at submit and fetched by the sandbox. */
typedef struct catalog_media_input {
    const char *field;       /* the catalog field holding the URL ("video_url", "image_urls") */
    bool first_item;         /* the field is a URL array: its first item is the input, named "<field>[0]" */
    catalog_media_kind kind; /* also the sandbox slot it is fetched into */
    const catalog_media_formats *formats;
    bool needs_duration;                       /* refused (input_not_media) without a readable length */
    const catalog_length_limit *length_limits; /* ended by max_seconds 0; NULL = no limit */
} catalog_media_input;

/* Where billable seconds come from. */
typedef enum {
    CATALOG_SECONDS_NONE,    /* ends a list of billing rules */
    CATALOG_SECONDS_AUDIO,   /* the audio input's length */
    CATALOG_SECONDS_VIDEO,   /* the video input's length */
    CATALOG_SECONDS_SHORTER, /* the shorter of the two */
    CATALOG_SECONDS_PARAM,   /* the number in parameter `param`, else `fallback` */
} catalog_seconds_source;

/* One billing rule: the first whose condition holds gives the billable seconds. */
typedef struct catalog_billing_rule {
    catalog_condition when;
    catalog_seconds_source seconds;
    const char *param; /* CATALOG_SECONDS_PARAM */
    double fallback;   /* CATALOG_SECONDS_PARAM, when the parameter is not a number */
} catalog_billing_rule;

/* What the sandbox renders (engine/sandbox_runner.c maps these onto media_render's kinds). */
typedef enum {
    CATALOG_RENDER_NONE,           /* no recipe: the sandbox cannot run the model */
    CATALOG_RENDER_LIPSYNC,        /* video + audio, timed by a sync mode */
    CATALOG_RENDER_TALKING_HEAD,   /* image + audio */
    CATALOG_RENDER_MOTION_CONTROL, /* image over a reference video */
    CATALOG_RENDER_TEST_CARD,      /* text (+ optional opening image) for a fixed duration */
} catalog_render_kind;

/* One parameter handed to the renderer. */
typedef enum {
    CATALOG_RENDER_ARG_NONE,       /* ends a list */
    CATALOG_RENDER_ARG_SYNC_MODE,  /* param's string → the lip-sync timing mode */
    CATALOG_RENDER_ARG_TEXT,       /* param's string → the text shown */
    CATALOG_RENDER_ARG_DURATION,   /* param's number → the length in seconds */
    CATALOG_RENDER_ARG_SHORT_SIDE, /* param "<N>p" → the short side N (else `pixels`) */
    /* param "<N>p" (else `pixels`) → N high and N×16/9 wide, or the other way round when
     * `portrait_param` is one of `portrait_values` */
    CATALOG_RENDER_ARG_FRAME,
    CATALOG_RENDER_ARG_KEEP_SOUND, /* true when param is absent or the string `value` */
} catalog_render_arg_kind;

typedef struct catalog_render_arg {
    catalog_render_arg_kind kind;
    const char *param;
    int pixels;                         /* SHORT_SIDE, FRAME: the short side when param has none */
    const char *portrait_param;         /* FRAME */
    const char *const *portrait_values; /* FRAME */
    const char *value;                  /* KEEP_SOUND */
} catalog_render_arg;

/* The sandbox's rendering recipe: the inputs are the model's media inputs, each fetched into the slot
 * of its kind (optional ones skipped when absent); args set the rest. */
typedef struct catalog_sandbox_recipe {
    catalog_render_kind render;
    const catalog_render_arg *args; /* ended by CATALOG_RENDER_ARG_NONE; NULL = none */
} catalog_sandbox_recipe;

typedef struct catalog_model {
    const char *id;        /* "lipsync-2" */
    catalog_family family; /* shown by GET /v1/models; no code chooses by it */
    const char *description;
    int estimated_seconds;       /* task_info.estimated_time for a new task */
    const catalog_field *fields; /* every field except "model" */
    size_t field_count;
    const catalog_media_input *media; /* its media inputs, in the order they are probed and fetched */
    size_t media_count;
    const catalog_billing_rule *billable; /* ended by CATALOG_SECONDS_NONE; the last rule should be
                                             unconditional */
    catalog_sandbox_recipe sandbox;
    /* An older shape's object of parameters (e.g. "model_params"): its members are read as if they
     * were given at the top level of the body (one given in both places is duplicate_field). NULL =
     * none. */
    const char *params_object;
} catalog_model;

size_t catalog_model_count(void);
const catalog_model *catalog_model_at(size_t index);
/* NULL for an unknown id. */
const catalog_model *catalog_model_find(const char *id);
const char *catalog_family_name(catalog_family family); /* "lipsync", "talking_head", … */

/* True when the condition holds for these params: no param, or params[param] is the string value. */
bool catalog_condition_holds(const catalog_condition *condition, const json_t *params);
/* The URL given for the input in these (validated) params, or NULL when absent. Borrowed from params. */
const char *catalog_media_url(const catalog_media_input *input, const json_t *params);
/* Writes the input's name as errors report it ("video_url", "image_urls[0]") into out; false when it
 * does not fit. */
bool catalog_media_name(const catalog_media_input *input, char *out, size_t out_size);
/* The length limit that applies to the input with these params, or NULL when none does. */
const catalog_length_limit *catalog_media_length_limit(const catalog_media_input *input,
                                                       const json_t *params);
/* The model's field of that name, or NULL. */
const catalog_field *catalog_model_field(const catalog_model *model, const char *name);

/* Validates a request body for POST /v1/videos/generations.
 *
 * On success returns 0, sets *model_out, and sets *params_out to a new object (caller decrefs) with the
 * canonical parameter set: "model" plus every field of that model that has a value — given, or its
 * default — under its canonical name (aliases renamed, nulls dropped). If advanced_out is not NULL it
 * receives a new array (caller decrefs) of the advanced field names the client explicitly gave.
 *
 * Older shapes are mapped as the rows say: a field's aliases and item_aliases (one item for an array),
 * and the model's params_object, whose members count as top-level fields.
 *
 * On failure returns -1 and fills *err: 400 for a body that is not a JSON object, otherwise 422
 * invalid_request_error with `param` naming the field (e.g. "image_urls[0]") and a message saying what
 * is allowed. Codes: missing_required_field, invalid_type, invalid_value, out_of_range, too_long,
 * too_short, too_many_items, too_few_items, invalid_url, unknown_field, unsupported_field (a field this
 * model does not take, e.g. sync-3 + temperature), model_not_found, duplicate_field (a field given under
 * two of its names). */
int catalog_validate(const json_t *body, const catalog_model **model_out, json_t **params_out,
                     json_t **advanced_out, reelay_error *err);

/* GET /v1/models body: {"object":"list","data":[{"id","object":"model","family","description",
 * "estimated_time","fields":[{name,type,required,nullable,advanced,default,enum,minimum,maximum,
 * max_length,min_items,max_items,aliases,item_aliases,description}…],"mappings":[…]}…]}. "mappings"
 * lists every other name or shape the model accepts: {"from","to","how"} with how "alias" (the same
 * field under another name), "one_item" (a single item for the array field `to`) or "members_as_fields"
 * (`from` is an object whose members are read as top-level fields; `to` null). Caller decrefs. */
json_t *catalog_models_json(void);

#endif
