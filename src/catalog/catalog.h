/* catalog.h — the eight models as data, and the one validator that reads that data.
 *
 * Each model lists its fields; each field has a type, required flag, default, enum, numeric range,
 * maximum length / item count, aliases, nullability and whether it is "advanced" (the seed pages'
 * "do not pass unless necessary"). catalog_validate() reads only those tables: adding a model with
 * the same kinds of fields needs no new code. Field rules follow specs/foxapi-api.md §5.1–5.4. */
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
    CATALOG_TYPE_URL,          /* a string that must be an absolute http(s) URL */
    CATALOG_TYPE_NUMBER,       /* integer or real */
    CATALOG_TYPE_INTEGER,
    CATALOG_TYPE_BOOLEAN,
    CATALOG_TYPE_URL_ARRAY,    /* array of http(s) URLs */
    CATALOG_TYPE_STRING_ARRAY,
} catalog_type;

typedef struct catalog_field {
    const char *name;           /* canonical name */
    catalog_type type;
    bool required;
    bool nullable;              /* JSON null accepted and means "absent" */
    bool advanced;              /* "do not pass unless necessary": restricts routing (issue 3) */
    const char *default_json;   /* JSON text of the default, or NULL for none */
    const char *const *enum_values; /* NULL-terminated list of allowed strings (or integer texts), or NULL */
    bool has_range;
    double minimum, maximum;    /* inclusive, when has_range */
    size_t min_length, max_length; /* strings: characters (UTF-8 code points); 0 = no limit */
    size_t min_items, max_items;   /* arrays; 0 = no limit */
    const char *const *aliases; /* NULL-terminated list of accepted other names, or NULL */
    const char *description;    /* one sentence for GET /v1/models */
} catalog_field;

typedef struct catalog_model {
    const char *id;               /* "lipsync-2" */
    catalog_family family;
    const char *description;
    int estimated_seconds;        /* task_info.estimated_time for a new task */
    const catalog_field *fields;  /* every field except "model" */
    size_t field_count;
} catalog_model;

size_t catalog_model_count(void);
const catalog_model *catalog_model_at(size_t index);
/* NULL for an unknown id. */
const catalog_model *catalog_model_find(const char *id);
const char *catalog_family_name(catalog_family family); /* "lipsync", "talking_head", … */

/* Validates a request body for POST /v1/videos/generations.
 *
 * On success returns 0, sets *model_out, and sets *params_out to a new object (caller decrefs) with the
 * canonical parameter set: "model" plus every field of that model that has a value — given, or its
 * default — under its canonical name (aliases renamed, nulls dropped). If advanced_out is not NULL it
 * receives a new array (caller decrefs) of the advanced field names the client explicitly gave.
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
 * max_length,min_items,max_items,aliases,description}…]}…]}. Caller decrefs. */
json_t *catalog_models_json(void);

#endif
