/* openai_videos_create.c — POST /v1/videos: OpenAI's create, as JSON or as multipart/form-data (what
 * OpenAI's SDKs send), over the unified submit's admission (generations.c: api_generations_admit).
 *
 * A form's text fields are the body's fields: a value is a string unless the model's field of that name
 * takes another type (an integer, a boolean, a list), when it is read as JSON ("8", "true", "[…]"). Its
 * `input_reference` file is kept first as an upload of the key (auto_cleanup, as POST
 * /v1/files/upload/stream would keep it) and its signed link becomes the model's image field
 * (openai_reference_set); then the task is admitted as a JSON create would be. An Idempotency-Key of a
 * form is bound to its fields and the SHA-256 of the file's bytes (not the new upload's link), and is
 * looked up before anything is stored: a retried form answers its task and keeps nothing new.
 *
 * The route takes upload-sized bodies (its key is checked before the body is read); a JSON body is
 * still held to the JSON limit. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/openai_videos_map.h"
#include "api/uploads_internal.h"
#include "catalog/catalog.h"

enum { MAX_VIDEO_FORM_PARTS = 64 };

/* A form waiting for its reference's upload: what the admission needs afterwards. */
typedef struct form_create {
    key_record key;
    char idempotency_key[STORE_IDEMPOTENCY_KEY_MAX + 1];
    json_t *unified;     /* owned */
    json_t *param_names; /* owned: openai_param_names */
    unsigned char request_hash[32];
} form_create;

static void form_create_free(form_create *form)
{
    json_decref(form->unified);
    json_decref(form->param_names);
    free(form);
}

/* The reference is stored (or upload is NULL: upload_commit answered, or the client went). */
static void reference_stored(api_thread *thread, h2o_req_t *req, const upload_record *upload, const char *url,
                             void *context)
{
    form_create *form = context;
    if (upload != NULL && req != NULL) {
        reelay_error err;
        const catalog_model *model =
            catalog_model_find(json_string_value(json_object_get(form->unified, "model")));
        if (openai_reference_set(form->unified, model, url, &err))
            api_generations_admit(thread, req, &form->key, form->idempotency_key, form->unified,
                                  &(api_admit_options){.openai_video = true,
                                                       .request_hash = form->request_hash,
                                                       .param_names = form->param_names});
        else
            http_send_error(req, &err);
    }
    form_create_free(form);
}

static bool part_is(const http_multipart_part *part, const char *name)
{
    return part->name.len == strlen(name) && memcmp(part->name.base, name, part->name.len) == 0;
}

/* A form's text value as the JSON the model's field of that name takes (module comment). NULL when the
 * value is not UTF-8 (or out of memory). */
static json_t *form_value(const catalog_model *model, const char *name, h2o_iovec_t data)
{
    const catalog_field *field = model ? catalog_model_field(model, name) : NULL;
    if (field != NULL && field->type != CATALOG_TYPE_STRING && field->type != CATALOG_TYPE_URL) {
        json_t *typed = json_loadb(data.base, data.len, JSON_DECODE_ANY, NULL);
        if (typed != NULL) return typed; /* otherwise the string, refused by the validation by name */
    }
    return json_stringn(data.base, data.len);
}

/* The model a form names (its "model" part; OpenAI's default sora-2 without one), or NULL. */
static const catalog_model *form_model(const http_multipart_part *parts, size_t count)
{
    char id[64] = "sora-2";
    for (size_t i = 0; i < count; i++)
        if (part_is(&parts[i], "model"))
            snprintf(id, sizeof(id), "%.*s", (int)(parts[i].data.len < 63 ? parts[i].data.len : 63),
                     parts[i].data.base);
    return catalog_model_find(id);
}

/* Adds one text part to the body; false after answering 400. */
static bool add_text_part(h2o_req_t *req, json_t *body, const catalog_model *model,
                          const http_multipart_part *part, const char *name)
{
    if (json_object_get(body, name) != NULL) {
        http_send_error_code(req, "duplicate_form_field", name, "This form field appears more than once.");
        return false;
    }
    json_t *value = strcmp(name, "input_reference") == 0
                        ? json_loadb(part->data.base, part->data.len, 0, NULL)
                        : form_value(model, name, part->data);
    if (value == NULL || json_object_set_new(body, name, value) != 0) {
        http_send_error_code(req, "invalid_field", name,
                             "This form field is not valid text (UTF-8; input_reference: a JSON object).");
        return false;
    }
    return true;
}

/* The form's fields as a JSON object (OpenAI's names) and its input_reference file part (*file, NULL
 * when none), which points into the request's body. NULL after answering 400. */
static json_t *read_form(h2o_req_t *req, h2o_iovec_t boundary, http_multipart_part *file)
{
    http_multipart_part parts[MAX_VIDEO_FORM_PARTS];
    size_t count = 0;
    const char *parse_error = NULL;
    if (http_multipart_parse(req->entity.base, req->entity.len, boundary, parts, MAX_VIDEO_FORM_PARTS, &count,
                             &parse_error) != 0) {
        http_send_error_code(req, "invalid_multipart", NULL, "The multipart body is malformed: %s.",
                             parse_error);
        return NULL;
    }
    const catalog_model *model = form_model(parts, count);
    json_t *body = json_object();
    if (body == NULL) {
        http_send_error_code(req, "internal_error", NULL, "Out of memory.");
        return NULL;
    }
    memset(file, 0, sizeof(*file));
    for (size_t i = 0; i < count; i++) {
        char name[64];
        if (parts[i].name.len >= sizeof(name)) {
            http_send_error_code(req, "invalid_field", NULL, "A form field's name is longer than 63 bytes.");
            json_decref(body);
            return NULL;
        }
        snprintf(name, sizeof(name), "%.*s", (int)parts[i].name.len, parts[i].name.base);
        bool is_file = strcmp(name, "input_reference") == 0 && parts[i].filename.base != NULL;
        if (is_file && file->data.base == NULL && json_object_get(body, name) == NULL) {
            *file = parts[i];
        } else if (is_file || !add_text_part(req, body, model, &parts[i], name)) {
            if (is_file)
                http_send_error_code(req, "duplicate_form_field", name,
                                     "This form field appears more than once.");
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

/* The file part's name for its upload: its own file name made safe, else "input_reference" with the
 * extension of its declared type. */
static void reference_filename(const http_multipart_part *file, char *out, size_t out_size)
{
    if (api_file_name_sanitize(file->filename.base, file->filename.len, out, out_size)) return;
    const char *extension = file->content_type.base
                                ? api_file_extension_of_type(file->content_type.base, file->content_type.len)
                                : NULL;
    snprintf(out, out_size, "input_reference%s%s", extension ? "." : "", extension ? extension : "");
}

/* The hash an Idempotency-Key of a form is bound to: the unified fields and the file's bytes. */
static bool form_request_hash(const json_t *unified, const http_multipart_part *file, unsigned char out[32])
{
    unsigned char fields[32], bytes[32];
    if (!api_request_hash(unified, fields)) return false;
    crypto_hash_sha256(bytes, (const unsigned char *)file->data.base, file->data.len);
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, fields, sizeof(fields));
    crypto_hash_sha256_update(&state, bytes, sizeof(bytes));
    crypto_hash_sha256_final(&state, out);
    return true;
}

/* Stores the reference, then admits (reference_stored). Takes *unified and *param_names. */
static void create_with_reference(api_thread *thread, h2o_req_t *req, const key_record *key,
                                  const char *idempotency_key, json_t *unified, json_t *param_names,
                                  const http_multipart_part *file)
{
    form_create *form = calloc(1, sizeof(*form));
    if (form == NULL || !form_request_hash(unified, file, form->request_hash)) {
        free(form);
        json_decref(unified);
        json_decref(param_names);
        http_send_error_code(req, "internal_error", NULL, "Out of memory.");
        return;
    }
    form->key = *key;
    snprintf(form->idempotency_key, sizeof(form->idempotency_key), "%s", idempotency_key);
    form->unified = unified;
    form->param_names = param_names;
    if (idempotency_key[0] &&
        api_answered_by_idempotency(thread, req, key, idempotency_key, form->request_hash, true)) {
        form_create_free(form);
        return;
    }
    if (file->data.len == 0) {
        form_create_free(form);
        http_send_error_code(req, "empty_file", "input_reference", "The input_reference file is empty.");
        return;
    }
    char filename[4 * API_FILE_NAME_MAX + 1], declared[128] = "";
    reference_filename(file, filename, sizeof(filename));
    if (file->content_type.base)
        snprintf(declared, sizeof(declared), "%.*s", (int)file->content_type.len, file->content_type.base);
    upload_then then = {.fn = reference_stored, .context = form};
    upload_store_bytes(thread, req, key->id, file->data.base, file->data.len, filename,
                       declared[0] ? declared : NULL, true, &then);
}

/* The body as the unified fields: a form's or a JSON object's, mapped from OpenAI's names, with the
 * OpenAI names it used (*param_names, may be NULL). NULL after answering. */
static json_t *read_create_body(api_thread *thread, h2o_req_t *req, http_multipart_part *file,
                                json_t **param_names)
{
    reelay_error err;
    h2o_iovec_t boundary;
    json_t *body = NULL;
    memset(file, 0, sizeof(*file));
    if (http_multipart_boundary(http_request_header(req, "content-type"), &boundary) == 0) {
        if ((body = read_form(req, boundary, file)) == NULL) return NULL;
    } else if (req->entity.len > thread->app->max_json_bytes) {
        http_send_error_code(req, "request_too_large", NULL, "A JSON body may be at most %zu bytes.",
                             thread->app->max_json_bytes);
        return NULL;
    } else if ((body = api_parse_json_object(req, &err)) == NULL) {
        http_send_error(req, &err);
        return NULL;
    }
    json_t *unified = openai_video_request_to_unified(body, &err);
    *param_names = unified ? openai_param_names(body) : NULL;
    const catalog_media_input *reference =
        openai_reference_input(catalog_model_find(json_string_value(json_object_get(unified, "model"))));
    if (*param_names && reference && file->data.base) /* the form's file */
        json_object_set_new(*param_names, reference->field, json_string("input_reference"));
    json_decref(body);
    if (unified == NULL) http_send_error(req, &err);
    return unified;
}

void api_openai_videos_create(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char idempotency_key[STORE_IDEMPOTENCY_KEY_MAX + 1];
    if (!api_read_idempotency_key(req, idempotency_key)) return;
    http_multipart_part file;
    json_t *param_names = NULL;
    json_t *unified = read_create_body(thread, req, &file, &param_names);
    if (unified == NULL) return;
    if (file.data.base != NULL) {
        create_with_reference(thread, req, &key, idempotency_key, unified, param_names, &file);
        return;
    }
    api_generations_admit(thread, req, &key, idempotency_key, unified,
                          &(api_admit_options){.openai_video = true, .param_names = param_names});
    json_decref(unified);
    json_decref(param_names);
}
