#ifndef PGCASK_PLUGIN_GRPC_KV_H
#define PGCASK_PLUGIN_GRPC_KV_H

/*
 * Owned string lists for the sidecar: key/value pairs (plugin parameters,
 * backup metadata, metric labels) and plain string vectors. A zeroed struct
 * is an empty list; the list owns copies of everything added; _clear frees
 * them and leaves an empty list.
 */

#include <stddef.h>

#include "common/status.h"

typedef struct sc_kv {
    char *key;
    char *value;
} sc_kv;

typedef struct sc_kvs {
    sc_kv *items;
    size_t n;
} sc_kvs;

typedef struct sc_strv {
    char **items;
    size_t n;
} sc_strv;

/* Append copies of key and value (PC_E_INTERNAL when out of memory). */
pc_status sc_kvs_add(sc_kvs *l, const char *key, const char *value);
/* Value of the first pair with this key, or NULL. */
const char *sc_kvs_get(const sc_kvs *l, const char *key);
void sc_kvs_clear(sc_kvs *l);

pc_status sc_strv_add(sc_strv *l, const char *s);
void sc_strv_clear(sc_strv *l);

#endif
