/*
 * Deflate through Intel's ISA-L (igzip), loaded on first use.
 *
 * igzip compresses 5-30 times faster than zlib at a ratio between zlib's
 * levels 1 and 6 (docs/performance.md has the figures), so it does the gzip
 * levels 1-6; 7-9 stay with zlib for the smallest output. Its output is
 * plain deflate: any gzip reader, barman-cloud's included, reads it.
 *
 * libisal is optional at run time: when libisal.so.2 is missing, or a
 * symbol is, cmp_isal_level says so and zlib compresses every level.
 * Like libsnappy it is dlopen'ed, not linked, so the commands that never
 * gzip pay nothing at start-up.
 */
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "compress/internal.h"

typedef struct isal_api {
    int (*init)(struct isal_zstream *);
    void (*reset)(struct isal_zstream *);
    int (*set_dict)(struct isal_zstream *, uint8_t *, uint32_t);
    int (*deflate)(struct isal_zstream *);
} isal_api;
static isal_api isal;
static pthread_once_t isal_once = PTHREAD_ONCE_INIT;

static void isal_load(void)
{
    static const struct {
        const char *name;
        size_t off;
    } syms[] = {
        {"isal_deflate_init", offsetof(isal_api, init)},
        {"isal_deflate_reset", offsetof(isal_api, reset)},
        {"isal_deflate_set_dict", offsetof(isal_api, set_dict)},
        {"isal_deflate", offsetof(isal_api, deflate)},
    };
    void *lib = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    isal_api api;
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(lib, syms[i].name);
        if (!f) {
            dlclose(lib);
            return;
        }
        /* POSIX guarantees a data pointer from dlsym converts to a function pointer */
        memcpy((char *)&api + syms[i].off, &f, sizeof f);
    }
    isal = api; /* published by pthread_once's memory ordering */
}

int cmp_isal_level(int gzip_level)
{
    if (gzip_level < 1 || gzip_level > 6)
        return -1;
    pthread_once(&isal_once, isal_load);
    if (!isal.deflate)
        return -1;
    /* igzip's level 3 is slower than zlib's 6 on some data: 1 and 2 only */
    return gzip_level <= 3 ? 1 : 2;
}

struct cmp_isal {
    struct isal_zstream z;
    unsigned char *level_buf;
    uint32_t level_buf_size;
    int level;
    bool gzip_trailer;
};

static void start(cmp_isal *c, bool fresh)
{
    if (fresh)
        isal.init(&c->z);
    else
        isal.reset(&c->z);
    c->z.level = (uint32_t)c->level;
    c->z.level_buf = c->level_buf;
    c->z.level_buf_size = c->level_buf_size;
    c->z.gzip_flag = c->gzip_trailer ? IGZIP_GZIP_NO_HDR : IGZIP_DEFLATE;
}

pc_status cmp_isal_new(int isal_level, bool gzip_trailer, cmp_isal **out)
{
    if (!isal.deflate || isal_level < 1 || isal_level > 2)
        return pc_err(PC_E_INTERNAL, "ISA-L level %d is not available", isal_level);
    cmp_isal *c = pc_calloc(1, sizeof *c);
    if (!c)
        return PC_E_INTERNAL;
    c->level = isal_level;
    c->gzip_trailer = gzip_trailer;
    c->level_buf_size = isal_level == 1 ? ISAL_DEF_LVL1_DEFAULT : ISAL_DEF_LVL2_DEFAULT;
    if (!(c->level_buf = pc_malloc(c->level_buf_size))) {
        free(c);
        return PC_E_INTERNAL;
    }
    start(c, true);
    *out = c;
    return PC_OK;
}

void cmp_isal_free(cmp_isal *c)
{
    if (!c)
        return;
    free(c->level_buf);
    free(c);
}

pc_status cmp_isal_restart(cmp_isal *c, const void *dict, size_t dict_len)
{
    start(c, false);
    /* set_dict takes a non-const pointer but only copies from it */
    if (dict_len > 0 && isal.set_dict(&c->z, (uint8_t *)(uintptr_t)dict, (uint32_t)dict_len))
        return pc_err(PC_E_INTERNAL, "gzip compression failed: ISA-L refused the dictionary");
    return PC_OK;
}

pc_status cmp_isal_run(cmp_isal *c, const void *in, size_t in_len, size_t *in_used, void *out,
                       size_t out_cap, size_t *out_used, cmp_isal_flush flush, bool *done)
{
    /* avail_in and avail_out are 32-bit: the caller slices, this clamps */
    uint32_t ain = in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)in_len;
    uint32_t aout = out_cap > UINT32_MAX ? UINT32_MAX : (uint32_t)out_cap;
    c->z.next_in = (uint8_t *)(uintptr_t)in; /* igzip only reads next_in */
    c->z.avail_in = ain;
    c->z.next_out = out;
    c->z.avail_out = aout;
    c->z.flush = flush == CMP_ISAL_SYNC ? SYNC_FLUSH : NO_FLUSH;
    c->z.end_of_stream = flush == CMP_ISAL_END && ain == in_len;
    int ret = isal.deflate(&c->z);
    if (ret != COMP_OK)
        return pc_err(PC_E_INTERNAL, "gzip compression failed: ISA-L error %d", ret);
    *in_used = ain - c->z.avail_in;
    *out_used = aout - c->z.avail_out;
    /* all input taken and, for a flush, written out up to a byte boundary or the stream's end */
    switch (flush) {
    case CMP_ISAL_NONE:
        *done = c->z.avail_in == 0;
        break;
    case CMP_ISAL_SYNC:
        *done = c->z.avail_in == 0 && c->z.internal_state.state == ZSTATE_NEW_HDR;
        break;
    case CMP_ISAL_END:
        *done = c->z.internal_state.state == ZSTATE_END;
        break;
    }
    return PC_OK;
}
