/* fuzz_catalog_validate.c — request bodies (any bytes, parsed as the API parses them) through
 * catalog_validate, as sent and once re-addressed to each of the eight models. Asserts that a success
 * yields only the model's own fields, each within its rules, and is a fixed point (validating the
 * canonical parameters again gives them back unchanged), and that a refusal is a 400/422 whose code,
 * param and message can be written as the JSON error body (valid UTF-8, terminated). */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "fuzz_common.h"

static const catalog_field *field_named(const catalog_model *model, const char *name)
{
    for (size_t i = 0; i < model->field_count; i++)
        if (strcmp(model->fields[i].name, name) == 0) return &model->fields[i];
    return NULL;
}

static bool in_enum(const catalog_field *field, const char *text)
{
    for (const char *const *value = field->enum_values; *value; value++)
        if (strcmp(*value, text) == 0) return true;
    return false;
}

static size_t code_points(const char *text)
{
    size_t count = 0;
    for (; *text; text++)
        if (((unsigned char)*text & 0xC0) != 0x80) count++;
    return count;
}

static void check_text(const catalog_field *field, const json_t *value)
{
    FUZZ_CHECK(json_is_string(value));
    const char *text = json_string_value(value);
    FUZZ_CHECK(strlen(text) == json_string_length(value)); /* no NUL kept */
    if (field->type == CATALOG_TYPE_URL || field->type == CATALOG_TYPE_URL_ARRAY) {
        FUZZ_CHECK(strncasecmp(text, "https://", 8) == 0 || strncasecmp(text, "http://", 7) == 0);
        FUZZ_CHECK(strlen(text) <= 2048);
        for (const char *p = text; *p; p++)
            FUZZ_CHECK((unsigned char)*p > 0x20 && *p != 0x7f);
        return;
    }
    size_t length = code_points(text);
    if (field->min_length) FUZZ_CHECK(length >= field->min_length);
    if (field->max_length) FUZZ_CHECK(length <= field->max_length);
    if (field->enum_values) FUZZ_CHECK(in_enum(field, text));
}

/* Every canonical value keeps its field's rules. */
static void check_value(const catalog_field *field, const json_t *value)
{
    switch (field->type) {
    case CATALOG_TYPE_STRING:
    case CATALOG_TYPE_URL:
        check_text(field, value);
        break;
    case CATALOG_TYPE_BOOLEAN:
        FUZZ_CHECK(json_is_boolean(value));
        break;
    case CATALOG_TYPE_INTEGER: {
        FUZZ_CHECK(json_is_integer(value));
        char text[32];
        snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(value));
        if (field->enum_values) FUZZ_CHECK(in_enum(field, text));
        if (field->has_range) {
            double number = (double)json_integer_value(value);
            FUZZ_CHECK(number >= field->minimum && number <= field->maximum);
        }
        break;
    }
    case CATALOG_TYPE_NUMBER: {
        FUZZ_CHECK(json_is_number(value));
        double number = json_number_value(value);
        FUZZ_CHECK(isfinite(number));
        if (field->has_range) FUZZ_CHECK(number >= field->minimum && number <= field->maximum);
        break;
    }
    case CATALOG_TYPE_URL_ARRAY:
    case CATALOG_TYPE_STRING_ARRAY: {
        FUZZ_CHECK(json_is_array(value));
        size_t count = json_array_size(value);
        if (field->min_items) FUZZ_CHECK(count >= field->min_items);
        if (field->max_items) FUZZ_CHECK(count <= field->max_items);
        for (size_t i = 0; i < count; i++)
            check_text(field, json_array_get(value, i));
        break;
    }
    }
}

/* A refusal must be writable as {"error":{"message","type","code","param"}} (http_send_error). */
static void check_refusal(const reelay_error *err)
{
    FUZZ_CHECK(err->status == 400 || err->status == 422);
    FUZZ_CHECK(err->type != NULL);
    FUZZ_CHECK(fuzz_terminated(err->code, sizeof(err->code)) && err->code[0] != '\0');
    FUZZ_CHECK(fuzz_terminated(err->param, sizeof(err->param)));
    FUZZ_CHECK(fuzz_terminated(err->message, sizeof(err->message)) && err->message[0] != '\0');
    FUZZ_CHECK(fuzz_utf8_valid(err->code, strlen(err->code)));
    FUZZ_CHECK(fuzz_utf8_valid(err->param, strlen(err->param)));
    FUZZ_CHECK(fuzz_utf8_valid(err->message, strlen(err->message)));
    json_t *error =
        json_pack("{s:s, s:s, s:o, s:o}", "message", err->message, "type", err->type, "code",
                  json_string(err->code), "param", err->param[0] ? json_string(err->param) : json_null());
    FUZZ_CHECK(error != NULL);
    json_decref(error);
}

static void validate(const json_t *body)
{
    const catalog_model *model = NULL;
    json_t *params = NULL, *advanced = NULL;
    reelay_error err;
    memset(&err, 0, sizeof(err));
    if (catalog_validate(body, &model, &params, &advanced, &err) != 0) {
        FUZZ_CHECK(params == NULL && advanced == NULL);
        check_refusal(&err);
        return;
    }
    FUZZ_CHECK(model != NULL && json_is_object(params) && json_is_array(advanced));
    FUZZ_CHECK(catalog_model_find(model->id) == model);
    FUZZ_CHECK(json_is_string(json_object_get(params, "model")));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(params, "model")), model->id) == 0);

    const char *key;
    json_t *value;
    json_object_foreach(params, key, value)
    {
        if (strcmp(key, "model") == 0) continue;
        const catalog_field *field = field_named(model, key); /* canonical names only, aliases renamed */
        FUZZ_CHECK(field != NULL);
        FUZZ_CHECK(!json_is_null(value));
        check_value(field, value);
    }
    for (size_t i = 0; i < model->field_count; i++)
        if (model->fields[i].required) FUZZ_CHECK(json_object_get(params, model->fields[i].name) != NULL);
    size_t index;
    json_array_foreach(advanced, index, value)
    {
        FUZZ_CHECK(json_is_string(value));
        const catalog_field *field = field_named(model, json_string_value(value));
        FUZZ_CHECK(field != NULL && field->advanced);
        FUZZ_CHECK(json_object_get(params, field->name) != NULL);
    }

    /* The canonical form is a fixed point. */
    const catalog_model *again_model = NULL;
    json_t *again = NULL;
    reelay_error again_err;
    FUZZ_CHECK(catalog_validate(params, &again_model, &again, NULL, &again_err) == 0);
    FUZZ_CHECK(again_model == model);
    FUZZ_CHECK(json_equal(again, params));
    json_decref(again);
    json_decref(params);
    json_decref(advanced);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t error;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &error);
    if (body == NULL) return 0; /* the API answers 400 invalid_json before validation */
    validate(body);
    if (json_is_object(body)) {
        json_t *copy = json_deep_copy(body);
        for (size_t m = 0; copy != NULL && m < catalog_model_count(); m++) {
            json_object_set_new(copy, "model", json_string(catalog_model_at(m)->id));
            validate(copy);
        }
        json_decref(copy);
    }
    json_decref(body);
    return 0;
}
