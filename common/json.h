#ifndef PGCASK_COMMON_JSON_H
#define PGCASK_COMMON_JSON_H

/*
 * JSON: a streaming writer into a pc_buf (for logs, --format json outputs,
 * manifests), and a reader that wraps jansson so that no other module
 * includes jansson.h. The reader is for untrusted input (the CNPG Cluster
 * JSON, PostgreSQL's backup_manifest): size and depth are capped, every
 * getter checks the type, and a missing key or wrong type is not an error
 * of the document, just a NULL / false return that the caller turns into a
 * message.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/status.h"

/* ---- Writer ---- */

typedef struct pc_jw {
    pc_buf *out;
    int depth;
    unsigned char state[64]; /* per nesting level, see json_write.c */
    bool pretty;  /* two-space indentation and newlines */
    pc_status st; /* first error (only buffer cap); checked by pc_jw_end */
} pc_jw;

void pc_jw_init(pc_jw *w, pc_buf *out, bool pretty);
void pc_jw_obj_begin(pc_jw *w);
void pc_jw_obj_end(pc_jw *w);
void pc_jw_arr_begin(pc_jw *w);
void pc_jw_arr_end(pc_jw *w);
void pc_jw_key(pc_jw *w, const char *key); /* inside an object, before the value */
void pc_jw_str(pc_jw *w, const char *s);   /* NULL writes null */
void pc_jw_strn(pc_jw *w, const char *s, size_t n);
void pc_jw_int(pc_jw *w, int64_t v);
void pc_jw_uint(pc_jw *w, uint64_t v);
void pc_jw_dbl(pc_jw *w, double v); /* non-finite writes null */
void pc_jw_bool(pc_jw *w, bool v);
void pc_jw_null(pc_jw *w);
void pc_jw_raw(pc_jw *w, const char *json); /* pre-encoded value */
/* Shorthands for key + value. */
void pc_jw_kstr(pc_jw *w, const char *k, const char *v);
void pc_jw_kint(pc_jw *w, const char *k, int64_t v);
void pc_jw_kuint(pc_jw *w, const char *k, uint64_t v);
void pc_jw_kdbl(pc_jw *w, const char *k, double v);
void pc_jw_kbool(pc_jw *w, const char *k, bool v);
void pc_jw_knull(pc_jw *w, const char *k);
pc_status pc_jw_end(pc_jw *w);
/* Append s as a JSON string literal (with quotes, escaped; invalid UTF-8 bytes become U+FFFD). */
pc_status pc_json_escape(pc_buf *out, const char *s, size_t n);

/* ---- Reader ---- */

typedef struct pc_json pc_json; /* a node; owned by the document root */

#define PC_JSON_MAX_DEPTH 64

/*
 * Parse `len` bytes (no terminator needed). Fails with PC_E_CORRUPT (message:
 * "invalid JSON in <what>: <reason> at line L column C") when malformed,
 * larger than max_len, or nested deeper than PC_JSON_MAX_DEPTH. Duplicate
 * object keys and "\u0000" in strings count as malformed. Any value may be
 * the top level. Free the root with pc_json_free.
 */
pc_status pc_json_parse(const char *data, size_t len, size_t max_len, const char *what,
                        pc_json **root);
void pc_json_free(pc_json *root);

bool pc_json_is_object(const pc_json *j);
bool pc_json_is_array(const pc_json *j);
bool pc_json_is_string(const pc_json *j);
bool pc_json_is_number(const pc_json *j);
bool pc_json_is_bool(const pc_json *j);
bool pc_json_is_null(const pc_json *j);

/* Object member (NULL if j is not an object or has no such key). */
const pc_json *pc_json_get(const pc_json *j, const char *key);
/* Follow a path of keys: pc_json_path(j, "spec", "plugins", NULL). */
const pc_json *pc_json_path(const pc_json *j, ...);
size_t pc_json_array_len(const pc_json *j); /* 0 if not an array */
const pc_json *pc_json_array_at(const pc_json *j, size_t i);
/* Iterate an object: returns false when done. *iter starts NULL. */
bool pc_json_object_next(const pc_json *j, void **iter, const char **key, const pc_json **val);

/* Value getters: NULL / false when the type differs. */
const char *pc_json_string(const pc_json *j);
size_t pc_json_string_len(const pc_json *j);
bool pc_json_int(const pc_json *j, int64_t *out);   /* integers only */
bool pc_json_number(const pc_json *j, double *out); /* integer or real */
bool pc_json_bool(const pc_json *j, bool *out);
/* Convenience: string member or NULL. */
const char *pc_json_get_str(const pc_json *j, const char *key);

#endif
