/* catalog_json.c — the catalog as GET /v1/models shows it: each model with every field's rules and
 * every other name or shape it accepts, rendered from the same tables the validator reads. */
#include <stdlib.h>

#include "catalog/catalog.h"

static const char *type_name(catalog_type type)
{
    switch (type) {
    case CATALOG_TYPE_STRING:
        return "string";
    case CATALOG_TYPE_URL:
        return "url";
    case CATALOG_TYPE_NUMBER:
        return "number";
    case CATALOG_TYPE_INTEGER:
        return "integer";
    case CATALOG_TYPE_BOOLEAN:
        return "boolean";
    case CATALOG_TYPE_URL_ARRAY:
        return "url_array";
    case CATALOG_TYPE_STRING_ARRAY:
        return "string_array";
    }
    return "unknown";
}

static json_t *string_list(const char *const *values, bool as_integers)
{
    if (values == NULL) return json_null();
    json_t *list = json_array();
    for (; *values; values++)
        json_array_append_new(list,
                              as_integers ? json_integer(strtoll(*values, NULL, 10)) : json_string(*values));
    return list;
}

/* A bound of a field's range: an integer field's bounds are JSON integers, a number field's reals. */
static json_t *bound_json(const catalog_field *field, double bound)
{
    if (!field->has_range) return json_null();
    return field->type == CATALOG_TYPE_INTEGER ? json_integer((json_int_t)bound) : json_real(bound);
}

static json_t *field_json(const catalog_field *field)
{
    json_t *out =
        json_pack("{s:s, s:s, s:b, s:b, s:b, s:s}", "name", field->name, "type", type_name(field->type),
                  "required", field->required, "nullable", field->nullable, "advanced", field->advanced,
                  "description", field->description ? field->description : "");
    json_object_set_new(out, "default",
                        field->default_json ? json_loads(field->default_json, JSON_DECODE_ANY, NULL)
                                            : json_null());
    json_object_set_new(out, "enum", string_list(field->enum_values, field->type == CATALOG_TYPE_INTEGER));
    json_object_set_new(out, "minimum", bound_json(field, field->minimum));
    json_object_set_new(out, "maximum", bound_json(field, field->maximum));
    json_object_set_new(out, "min_length",
                        field->min_length ? json_integer((json_int_t)field->min_length) : json_null());
    json_object_set_new(out, "max_length",
                        field->max_length ? json_integer((json_int_t)field->max_length) : json_null());
    json_object_set_new(out, "min_items",
                        field->min_items ? json_integer((json_int_t)field->min_items) : json_null());
    json_object_set_new(out, "max_items",
                        field->max_items ? json_integer((json_int_t)field->max_items) : json_null());
    json_object_set_new(out, "aliases", field->aliases ? string_list(field->aliases, false) : json_array());
    json_object_set_new(out, "item_aliases",
                        field->item_aliases ? string_list(field->item_aliases, false) : json_array());
    return out;
}

static void add_mappings(json_t *mappings, const char *const *names, const char *to, const char *how)
{
    for (; names && *names; names++)
        json_array_append_new(mappings, json_pack("{s:s, s:s, s:s}", "from", *names, "to", to, "how", how));
}

/* Every other name or shape the model accepts (catalog.h, catalog_models_json). */
static json_t *mappings_json(const catalog_model *model)
{
    json_t *mappings = json_array();
    for (size_t f = 0; f < model->field_count; f++) {
        add_mappings(mappings, model->fields[f].aliases, model->fields[f].name, "alias");
        add_mappings(mappings, model->fields[f].item_aliases, model->fields[f].name, "one_item");
    }
    if (model->params_object)
        json_array_append_new(mappings, json_pack("{s:s, s:n, s:s}", "from", model->params_object, "to",
                                                  "how", "members_as_fields"));
    return mappings;
}

json_t *catalog_models_json(void)
{
    json_t *data = json_array();
    for (size_t i = 0; i < catalog_model_count(); i++) {
        const catalog_model *model = catalog_model_at(i);
        json_t *fields = json_array();
        json_array_append_new(fields,
                              json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:o}", "name", "model", "type",
                                        "string", "required", true, "nullable", false, "advanced", false,
                                        "description", "The model id.", "enum", json_pack("[s]", model->id)));
        for (size_t f = 0; f < model->field_count; f++)
            json_array_append_new(fields, field_json(&model->fields[f]));
        json_array_append_new(data,
                              json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o}", "id", model->id, "object",
                                        "model", "family", catalog_family_name(model->family), "description",
                                        model->description, "estimated_time", model->estimated_seconds,
                                        "fields", fields, "mappings", mappings_json(model)));
    }
    return json_pack("{s:s, s:o}", "object", "list", "data", data);
}
