#include "plugin-grpc/kv.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

pc_status sc_kvs_add(sc_kvs *l, const char *key, const char *value)
{
    sc_kv *n = pc_realloc(l->items, (l->n + 1) * sizeof *n);
    if (!n)
        return PC_E_INTERNAL;
    l->items = n;
    char *k = pc_strdup(key);
    char *v = k ? pc_strdup(value) : NULL;
    if (!v) {
        free(k);
        return PC_E_INTERNAL;
    }
    l->items[l->n].key = k;
    l->items[l->n].value = v;
    l->n++;
    return PC_OK;
}

const char *sc_kvs_get(const sc_kvs *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

void sc_kvs_clear(sc_kvs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

pc_status sc_strv_add(sc_strv *l, const char *s)
{
    char **n = pc_realloc(l->items, (l->n + 1) * sizeof *n);
    if (!n)
        return PC_E_INTERNAL;
    l->items = n;
    if (!(l->items[l->n] = pc_strdup(s)))
        return PC_E_INTERNAL;
    l->n++;
    return PC_OK;
}

void sc_strv_clear(sc_strv *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}
