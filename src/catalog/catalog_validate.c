/* catalog_validate.c — the one validator: reads a model's field table and checks a request body
 * against it, producing the canonical parameter set or the first error, named precisely. Nothing
 * here knows a particular model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/url_scheme.h"

enum { MAX_URL_LENGTH = 2048 };

/* Number of UTF-8 code points (jansson guarantees valid UTF-8). */
static size_t utf8_length(const char *text, size_t bytes)
{
    size_t count = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80) count++;
    return count;
}

static bool is_blank(const char *text)
{
    for (; *text; text++)
        if (*text != ' ' && *text != '\t' && *text != '\n' && *text != '\r') return false;
    return true;
}

static bool url_is_acceptable(const char *url, size_t length)
{
    if (length == 0 || length > MAX_URL_LENGTH || strlen(url) != length) return false;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f) return false;
    }
    size_t scheme = url_scheme_http_length(url);
    if (scheme == 0) return false;
    const char *rest = url + scheme;
    /* a host must follow: not empty, not starting with a path, query or fragment */
    return *rest != '\0' && *rest != '/' && *rest != '?' && *rest != '#' && *rest != ':' && *rest != '@';
}

static void describe_enum(const catalog_field *field, char *out, size_t size)
{
    out[0] = '\0';
    size_t used = 0;
    for (const char *const *value = field->enum_values; *value; value++) {
        int n = snprintf(out + used, size - used, "%s%s", value == field->enum_values ? "" : ", ", *value);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
}

static bool enum_contains(const catalog_field *field, const char *text)
{
    for (const char *const *value = field->enum_values; *value; value++)
        if (strcmp(*value, text) == 0) return true;
    return false;
}

/* Checks a string value (alone or as an array item) against the field's string rules. */
static int check_string(const catalog_field *field, const json_t *value, const char *param,
                        const char *model_id, reelay_error *err)
{
    const char *text = json_string_value(value);
    size_t bytes = json_string_length(value);
    if (strlen(text) != bytes)
        return reelay_error_raise(err, "invalid_value", param, "%s must not contain NUL characters.", param);
    size_t length = utf8_length(text, bytes);
    if (field->min_length && (length < field->min_length || is_blank(text)))
        return reelay_error_raise(err, "too_short", param, "%s must not be empty.", param);
    if (field->max_length && length > field->max_length)
        return reelay_error_raise(err, "too_long", param, "%s must be at most %zu characters (got %zu).",
                                  param, field->max_length, length);
    if (field->enum_values && !enum_contains(field, text)) {
        char allowed[256];
        describe_enum(field, allowed, sizeof(allowed));
        return reelay_error_raise(err, "invalid_value", param, "%s must be one of %s for %s.", param, allowed,
                                  model_id);
    }
    return 0;
}

static int check_url(const json_t *value, const char *param, reelay_error *err)
{
    if (!url_is_acceptable(json_string_value(value), json_string_length(value)))
        return reelay_error_raise(
            err, "invalid_url", param,
            "%s must be an absolute http:// or https:// URL of at most %d characters, without spaces.", param,
            MAX_URL_LENGTH);
    return 0;
}

static int check_array(const catalog_field *field, const json_t *value, const char *model_id,
                       reelay_error *err)
{
    const char *name = field->name;
    const char *item_kind = field->type == CATALOG_TYPE_URL_ARRAY ? "URL strings" : "strings";
    if (!json_is_array(value))
        return reelay_error_raise(err, "invalid_type", name, "%s must be an array of %s.", name, item_kind);
    size_t count = json_array_size(value);
    if (field->min_items && count < field->min_items) {
        if (field->min_items == field->max_items)
            return reelay_error_raise(err, "too_few_items", name, "%s must contain exactly %zu item%s.", name,
                                      field->min_items, field->min_items == 1 ? "" : "s");
        return reelay_error_raise(err, "too_few_items", name, "%s must contain at least %zu items.", name,
                                  field->min_items);
    }
    if (field->max_items && count > field->max_items) {
        if (field->min_items == field->max_items)
            return reelay_error_raise(err, "too_many_items", name, "%s must contain exactly %zu item%s.",
                                      name, field->max_items, field->max_items == 1 ? "" : "s");
        return reelay_error_raise(err, "too_many_items", name, "%s must contain at most %zu items.", name,
                                  field->max_items);
    }
    for (size_t i = 0; i < count; i++) {
        char param[sizeof(err->param)];
        snprintf(param, sizeof(param), "%s[%zu]", name, i);
        const json_t *item = json_array_get(value, i);
        if (!json_is_string(item))
            return reelay_error_raise(err, "invalid_type", param, "%s must be a string.", param);
        int failed = field->type == CATALOG_TYPE_URL_ARRAY ? check_url(item, param, err)
                                                           : check_string(field, item, param, model_id, err);
        if (failed) return failed;
    }
    return 0;
}

/* Checks one given, non-null value. On success *canonical is a new reference to the value to keep. */
static int check_value(const catalog_field *field, const json_t *value, const char *model_id,
                       json_t **canonical, reelay_error *err)
{
    const char *name = field->name;
    *canonical = NULL;
    switch (field->type) {
    case CATALOG_TYPE_STRING:
        if (!json_is_string(value))
            return reelay_error_raise(err, "invalid_type", name, "%s must be a string.", name);
        if (check_string(field, value, name, model_id, err)) return -1;
        break;
    case CATALOG_TYPE_URL:
        if (!json_is_string(value))
            return reelay_error_raise(err, "invalid_type", name, "%s must be a URL string.", name);
        if (check_url(value, name, err)) return -1;
        break;
    case CATALOG_TYPE_BOOLEAN:
        if (!json_is_boolean(value))
            return reelay_error_raise(err, "invalid_type", name, "%s must be true or false.", name);
        break;
    case CATALOG_TYPE_NUMBER:
    case CATALOG_TYPE_INTEGER: {
        if (!json_is_number(value))
            return reelay_error_raise(err, "invalid_type", name, "%s must be a number.", name);
        double number = json_number_value(value);
        if (!isfinite(number))
            return reelay_error_raise(err, "invalid_value", name, "%s must be a finite number.", name);
        if (field->type == CATALOG_TYPE_INTEGER) {
            if (json_is_real(value) && (number != floor(number) || fabs(number) > 1e15))
                return reelay_error_raise(err, "invalid_type", name, "%s must be a whole number.", name);
            json_int_t integer = json_is_integer(value) ? json_integer_value(value) : (json_int_t)number;
            if (field->enum_values) {
                char text[32];
                snprintf(text, sizeof(text), "%lld", (long long)integer);
                if (!enum_contains(field, text)) {
                    char allowed[256];
                    describe_enum(field, allowed, sizeof(allowed));
                    return reelay_error_raise(err, "invalid_value", name, "%s must be one of %s.", name,
                                              allowed);
                }
            }
            *canonical = json_integer(integer);
            return 0;
        }
        if (field->has_range && (number < field->minimum || number > field->maximum))
            return reelay_error_raise(err, "out_of_range", name, "%s must be between %g and %g.", name,
                                      field->minimum, field->maximum);
        break;
    }
    case CATALOG_TYPE_URL_ARRAY:
    case CATALOG_TYPE_STRING_ARRAY:
        if (check_array(field, value, model_id, err)) return -1;
        break;
    }
    *canonical = json_deep_copy(value);
    return 0;
}

/* The field of `model` called `key` (by name or alias), or NULL. */
static const catalog_field *field_for_key(const catalog_model *model, const char *key)
{
    for (size_t i = 0; i < model->field_count; i++) {
        const catalog_field *field = &model->fields[i];
        if (strcmp(field->name, key) == 0) return field;
        for (const char *const *alias = field->aliases; alias && *alias; alias++)
            if (strcmp(*alias, key) == 0) return field;
        for (const char *const *alias = field->item_aliases; alias && *alias; alias++)
            if (strcmp(*alias, key) == 0) return field;
    }
    return NULL;
}

static bool any_model_has_field(const char *key)
{
    for (size_t m = 0; m < catalog_model_count(); m++)
        if (field_for_key(catalog_model_at(m), key)) return true;
    return false;
}

static int validate_fields(const json_t *body, const catalog_model *model, json_t **params_out,
                           json_t **advanced_out, reelay_error *err);

static int resolve_model(const json_t *body, const catalog_model **model_out, reelay_error *err)
{
    const json_t *model_value = json_object_get(body, "model");
    if (model_value == NULL || json_is_null(model_value))
        return reelay_error_raise(err, "missing_required_field", "model", "model is required.");
    if (!json_is_string(model_value))
        return reelay_error_raise(err, "invalid_type", "model", "model must be a string.");
    const catalog_model *model = catalog_model_find(json_string_value(model_value));
    if (model == NULL || strlen(json_string_value(model_value)) != json_string_length(model_value)) {
        char names[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < catalog_model_count(); i++) {
            int n =
                snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", catalog_model_at(i)->id);
            if (n > 0 && (size_t)n < sizeof(names) - used) used += (size_t)n;
        }
        return reelay_error_raise(err, "model_not_found", "model", "model must be one of %s.", names);
    }
    *model_out = model;
    return 0;
}

/* Every key of the body must be a field of this model: unknown ones, and ones only other models take,
 * are refused. 0, or -1 with err filled. */
static int refuse_foreign_keys(const json_t *body, const catalog_model *model, reelay_error *err)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)body, key, value)
    {
        if (strcmp(key, "model") == 0 || field_for_key(model, key)) continue;
        if (any_model_has_field(key))
            return reelay_error_raise(err, "unsupported_field", key, "%s does not support %s.", model->id,
                                      key);
        return reelay_error_raise(err, "unknown_field", key,
                                  "Unknown field %s for %s; see GET /v1/models for its fields.", key,
                                  model->id);
    }
    return 0;
}

/* The value the body gives for a field under its name, one of its aliases or item aliases, in *given (a
 * new reference; NULL when absent or JSON null, which means absent). One item given under an item alias
 * becomes a one-item array. -1 with err filled when two of its names are given, or a null where null is
 * not allowed. */
static int given_value(const json_t *body, const catalog_field *field, json_t **given, reelay_error *err)
{
    const char *names[8] = {field->name};
    const char *given_as = NULL;
    size_t name_count = 1, plain_count;
    for (const char *const *alias = field->aliases; alias && *alias && name_count < 8; alias++)
        names[name_count++] = *alias;
    plain_count = name_count;
    for (const char *const *alias = field->item_aliases; alias && *alias && name_count < 8; alias++)
        names[name_count++] = *alias;
    const json_t *found = NULL;
    bool one_item = false;
    for (size_t n = 0; n < name_count; n++) {
        const json_t *candidate = json_object_get(body, names[n]);
        if (candidate == NULL) continue;
        if (found != NULL)
            return reelay_error_raise(err, "duplicate_field", names[n],
                                      "%s and %s are the same field; give only one.", given_as, names[n]);
        found = candidate;
        given_as = names[n];
        one_item = n >= plain_count;
    }
    *given = NULL;
    if (found != NULL && json_is_null(found)) {
        if (!field->nullable && !field->required)
            return reelay_error_raise(err, "invalid_type", field->name, "%s must not be null.", field->name);
        return 0;
    }
    if (found == NULL) return 0;
    *given = one_item ? json_pack("[O]", found) : json_incref((json_t *)found);
    if (*given == NULL) return reelay_error_raise(err, "internal_error", field->name, "out of memory");
    return 0;
}

/* Puts one field's canonical value (given, or its default) into params under its canonical name, and
 * its name into advanced when it is an advanced option the client gave. 0, or -1 with err filled. */
static int add_field(const json_t *body, const catalog_model *model, const catalog_field *field,
                     json_t *params, json_t *advanced, reelay_error *err)
{
    json_t *given = NULL;
    if (given_value(body, field, &given, err)) return -1;
    if (given == NULL) {
        if (field->required)
            return reelay_error_raise(err, "missing_required_field", field->name, "%s is required for %s.",
                                      field->name, model->id);
        if (field->default_json) {
            json_t *fallback = json_loads(field->default_json, JSON_DECODE_ANY, NULL);
            if (fallback == NULL)
                return reelay_error_raise(err, "internal_error", field->name, "bad catalog default");
            json_object_set_new(params, field->name, fallback);
        }
        return 0;
    }
    json_t *canonical = NULL;
    int failed = check_value(field, given, model->id, &canonical, err);
    json_decref(given);
    if (failed) return -1;
    json_object_set_new(params, field->name, canonical);
    if (field->advanced) json_array_append_new(advanced, json_string(field->name));
    return 0;
}

/* The body with the members of the model's params_object (an older shape's "model_params") moved to
 * the top level: a new reference (the body itself, increfed, when the model has none or the body does not
 * give it), or NULL with err filled (not an object, "model" inside it, a member also given outside). */
static json_t *flatten_params_object(const json_t *body, const catalog_model *model, reelay_error *err)
{
    const json_t *inner = model->params_object ? json_object_get(body, model->params_object) : NULL;
    if (inner == NULL) return json_incref((json_t *)body); /* the usual case: nothing to copy */
    if (json_is_null(inner)) {
        json_t *copy = json_deep_copy(body);
        if (copy) json_object_del(copy, model->params_object);
        if (copy == NULL) reelay_error_raise(err, "internal_error", NULL, "out of memory");
        return copy;
    }
    const char *name = model->params_object;
    if (!json_is_object(inner)) {
        reelay_error_raise(err, "invalid_type", name, "%s must be an object of %s's fields.", name,
                           model->id);
        return NULL;
    }
    json_t *flat = json_deep_copy(body);
    if (flat == NULL) {
        reelay_error_raise(err, "internal_error", NULL, "out of memory");
        return NULL;
    }
    json_object_del(flat, name);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)inner, key, value)
    {
        if (strcmp(key, "model") == 0 || json_object_get(flat, key) != NULL) {
            reelay_error_raise(err, "duplicate_field", key,
                               "%s is given both in %s and outside it; give it once.", key, name);
            json_decref(flat);
            return NULL;
        }
        json_object_set(flat, key, value);
    }
    return flat;
}

int catalog_validate(const json_t *body, const catalog_model **model_out, json_t **params_out,
                     json_t **advanced_out, reelay_error *err)
{
    *params_out = NULL;
    if (advanced_out) *advanced_out = NULL;
    if (!json_is_object(body))
        return reelay_error_raise(err, "invalid_body", NULL, "The request body must be a JSON object.");
    const catalog_model *model = NULL;
    if (resolve_model(body, &model, err)) return -1;
    json_t *flat = flatten_params_object(body, model, err);
    if (flat == NULL) return -1;
    int valid = validate_fields(flat, model, params_out, advanced_out, err);
    json_decref(flat);
    if (valid == 0) *model_out = model;
    return valid;
}

/* catalog_validate's work once the model is known and the body flat. */
static int validate_fields(const json_t *body, const catalog_model *model, json_t **params_out,
                           json_t **advanced_out, reelay_error *err)
{
    if (refuse_foreign_keys(body, model, err)) return -1;

    json_t *params = json_object();
    json_t *advanced = json_array();
    json_object_set_new(params, "model", json_string(model->id));
    for (size_t i = 0; i < model->field_count; i++) {
        if (add_field(body, model, &model->fields[i], params, advanced, err) != 0) {
            json_decref(params);
            json_decref(advanced);
            return -1;
        }
    }
    *params_out = params;
    if (advanced_out)
        *advanced_out = advanced;
    else
        json_decref(advanced);
    return 0;
}
