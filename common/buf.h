#ifndef PGCASK_COMMON_BUF_H
#define PGCASK_COMMON_BUF_H

/*
 * A growable byte buffer with a hard cap (curl's DYNBUF rule): growing past
 * the cap fails with PC_E_CORRUPT instead of eating memory. Always NUL
 * terminated after the data, so text can be used as a C string.
 * Ownership: the struct is the caller's (stack or embedded); pc_buf_free
 * releases the storage and leaves an empty buffer.
 */

#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "common/error.h"

typedef struct pc_buf {
    unsigned char *data;
    size_t len;
    size_t alloc;
    size_t cap; /* maximum len; 0 is not allowed (use PC_BUF_NOCAP) */
} pc_buf;

#define PC_BUF_NOCAP SIZE_MAX

void pc_buf_init(pc_buf *b, size_t cap);
void pc_buf_free(pc_buf *b);
void pc_buf_reset(pc_buf *b); /* len = 0, keeps storage */
pc_status pc_buf_reserve(pc_buf *b, size_t extra);
pc_status pc_buf_append(pc_buf *b, const void *data, size_t len);
pc_status pc_buf_append_str(pc_buf *b, const char *s);
pc_status pc_buf_printf(pc_buf *b, const char *fmt, ...) PC_PRINTF(2, 3);
/* Hand the storage to the caller (malloc'd, NUL terminated); the buffer becomes empty. */
unsigned char *pc_buf_steal(pc_buf *b, size_t *len);
const char *pc_buf_cstr(const pc_buf *b); /* "" for an empty buffer */

/* malloc/calloc/strdup that record PC_E_INTERNAL "out of memory" on failure. */
void *pc_malloc(size_t n);
void *pc_calloc(size_t n, size_t size);
void *pc_realloc(void *p, size_t n);
char *pc_strdup(const char *s);
char *pc_strndup(const char *s, size_t n);
char *pc_asprintf(const char *fmt, ...) PC_PRINTF(1, 2);

#endif
