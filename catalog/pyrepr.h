#ifndef PGCASK_CATALOG_PYREPR_H
#define PGCASK_CATALOG_PYREPR_H

/*
 * Python literals, as barman writes them with repr() into backup.info and
 * reads them back with ast.literal_eval(): None, True/False, int, float,
 * str, and tuples, lists and dicts of those.
 *
 * The encoder reproduces CPython 3.11's repr() byte for byte (quote choice,
 * escapes, which non-ASCII characters count as printable: Unicode 14.0).
 * The parser takes untrusted text: nesting depth is capped, integers must
 * fit in 64 bits, strings must be valid UTF-8 without surrogates; every
 * rejection is PC_E_CORRUPT.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/status.h"

#define CAT_PY_MAX_DEPTH 32

typedef enum cat_py_kind {
    CAT_PY_NONE = 0,
    CAT_PY_BOOL = 1,
    CAT_PY_INT = 2,
    CAT_PY_FLOAT = 3,
    CAT_PY_STR = 4,
    CAT_PY_TUPLE = 5,
    CAT_PY_LIST = 6,
    CAT_PY_DICT = 7,
} cat_py_kind;

/* A parsed value; the tree is owned by its root (cat_py_free). */
typedef struct cat_py cat_py;
struct cat_py {
    cat_py_kind kind;
    bool b;    /* BOOL */
    int64_t i; /* INT */
    double f;  /* FLOAT */
    char *s;   /* STR: UTF-8, NUL terminated; may hold NUL bytes (see slen) */
    size_t slen;
    cat_py **items; /* TUPLE, LIST: n items; DICT: n pairs stored key, value, key, ... */
    size_t n;
};

/*
 * Parse exactly one literal from text (surrounding whitespace allowed).
 * PC_E_CORRUPT with a message saying what is wrong and where.
 */
pc_status cat_py_parse(const char *text, size_t len, cat_py **out);
void cat_py_free(cat_py *v); /* NULL is a no-op */

/* Append repr() of a str given as UTF-8; PC_E_USAGE when s is not valid UTF-8. */
pc_status cat_py_repr_str(pc_buf *out, const char *s, size_t len);
/* Append repr() of a float (shortest round-trip digits); PC_E_USAGE for inf or nan. */
pc_status cat_py_repr_float(pc_buf *out, double v);
/* Append repr() of a parsed value. */
pc_status cat_py_repr(pc_buf *out, const cat_py *v);

/* True when s is valid UTF-8 (no surrogates, overlongs or code points past U+10FFFF). */
bool cat_py_utf8_valid(const char *s, size_t len);

/* A dict value by str key, or NULL. */
const cat_py *cat_py_dict_get(const cat_py *dict, const char *key);

#endif
