/*
 * The reader half of common/json.h: jansson behind pc_json, so that jansson.h
 * stays in this file. A pc_json node is a json_t.
 */
#include "common/json.h"

#include <jansson.h>
#include <stdarg.h>

#include "common/error.h"

static const json_t *J(const pc_json *j)
{
    return (const json_t *)j;
}

/* jansson's iterator functions take non-const objects although they do not modify them. */
static json_t *J_mut(const pc_json *j)
{
    return (json_t *)(uintptr_t)j;
}

static const pc_json *P(const json_t *j)
{
    return (const pc_json *)j;
}

/* Depth of the deepest container, counting j itself; stops looking past `limit`. */
static int depth_of(const json_t *j, int limit)
{
    int deepest = 0;
    if (limit < 0)
        return 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)j, k, v)
        {
            int d = depth_of(v, limit - 1);
            if (d > deepest)
                deepest = d;
            if (deepest >= limit)
                break;
        }
        return deepest + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int d = depth_of(v, limit - 1);
            if (d > deepest)
                deepest = d;
            if (deepest >= limit)
                break;
        }
        return deepest + 1;
    }
    return 0;
}

pc_status pc_json_parse(const char *data, size_t len, size_t max_len, const char *what,
                        pc_json **root)
{
    json_error_t e;
    if (len > max_len)
        return pc_err(PC_E_CORRUPT, "invalid JSON in %s: %zu bytes exceed the limit of %zu bytes",
                      what, len, max_len);
    /*
     * Duplicate keys are refused: two readers of the same document could
     * otherwise act on different values. NUL inside strings is refused too
     * (jansson's default), since getters hand out C strings.
     */
    json_t *j = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!j)
        return pc_err(PC_E_CORRUPT, "invalid JSON in %s: %s at line %d column %d", what, e.text,
                      e.line, e.column);
    if (depth_of(j, PC_JSON_MAX_DEPTH) > PC_JSON_MAX_DEPTH) {
        json_decref(j);
        return pc_err(PC_E_CORRUPT, "invalid JSON in %s: nested deeper than %d levels", what,
                      PC_JSON_MAX_DEPTH);
    }
    *root = (pc_json *)j;
    return PC_OK;
}

void pc_json_free(pc_json *root)
{
    json_decref((json_t *)root);
}

bool pc_json_is_object(const pc_json *j)
{
    return json_is_object(J(j));
}

bool pc_json_is_array(const pc_json *j)
{
    return json_is_array(J(j));
}

bool pc_json_is_string(const pc_json *j)
{
    return json_is_string(J(j));
}

bool pc_json_is_number(const pc_json *j)
{
    return json_is_number(J(j));
}

bool pc_json_is_bool(const pc_json *j)
{
    return json_is_boolean(J(j));
}

bool pc_json_is_null(const pc_json *j)
{
    return json_is_null(J(j));
}

const pc_json *pc_json_get(const pc_json *j, const char *key)
{
    if (!json_is_object(J(j)))
        return NULL;
    return P(json_object_get(J(j), key));
}

const pc_json *pc_json_path(const pc_json *j, ...)
{
    va_list ap;
    const char *key;
    va_start(ap, j);
    while (j && (key = va_arg(ap, const char *)) != NULL)
        j = pc_json_get(j, key);
    va_end(ap);
    return j;
}

size_t pc_json_array_len(const pc_json *j)
{
    return json_is_array(J(j)) ? json_array_size(J(j)) : 0;
}

const pc_json *pc_json_array_at(const pc_json *j, size_t i)
{
    if (!json_is_array(J(j)))
        return NULL;
    return P(json_array_get(J(j), i));
}

bool pc_json_object_next(const pc_json *j, void **iter, const char **key, const pc_json **val)
{
    /* *iter holds the item returned last, so that the end stays the end on further calls. */
    if (!json_is_object(J(j)))
        return false;
    void *it = *iter ? json_object_iter_next(J_mut(j), *iter) : json_object_iter(J_mut(j));
    if (!it)
        return false;
    *iter = it;
    *key = json_object_iter_key(it);
    *val = P(json_object_iter_value(it));
    return true;
}

const char *pc_json_string(const pc_json *j)
{
    return json_is_string(J(j)) ? json_string_value(J(j)) : NULL;
}

size_t pc_json_string_len(const pc_json *j)
{
    return json_is_string(J(j)) ? json_string_length(J(j)) : 0;
}

bool pc_json_int(const pc_json *j, int64_t *out)
{
    if (!json_is_integer(J(j)))
        return false;
    *out = (int64_t)json_integer_value(J(j));
    return true;
}

bool pc_json_number(const pc_json *j, double *out)
{
    if (!json_is_number(J(j)))
        return false;
    *out = json_number_value(J(j));
    return true;
}

bool pc_json_bool(const pc_json *j, bool *out)
{
    if (!json_is_boolean(J(j)))
        return false;
    *out = json_is_true(J(j));
    return true;
}

const char *pc_json_get_str(const pc_json *j, const char *key)
{
    return pc_json_string(pc_json_get(j, key));
}
