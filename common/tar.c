#include "common/tar.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

/* ustar header field offsets and widths (POSIX.1-1988, pax keeps them). */
#define H_NAME     0
#define H_MODE     100
#define H_UID      108
#define H_GID      116
#define H_SIZE     124
#define H_MTIME    136
#define H_CHKSUM   148
#define H_TYPE     156
#define H_LINKNAME 157
#define H_MAGIC    257
#define H_VERSION  263
#define H_UNAME    265
#define H_GNAME    297
#define H_DEVMAJOR 329
#define H_DEVMINOR 337
#define H_PREFIX   345

#define NAME_LEN   100
#define PREFIX_LEN 155

/* Largest values the octal fields hold: 7 digits (ids, mode), 11 digits (size, mtime). */
#define OCT7_MAX  07777777ULL
#define OCT11_MAX 077777777777ULL

static const unsigned char zeros[64 * 1024];

/* ==== Writer ==== */

struct pc_tarw {
    pc_sink *next;
    uint64_t bytes;
    uint64_t file_left;
    char *file_name; /* current member, for messages */
    bool in_file;
    bool finished;
    pc_status failed;
    uint32_t uid, gid;
};

pc_status pc_tarw_new(pc_sink *next, pc_tarw **out)
{
    pc_tarw *w = pc_calloc(1, sizeof *w);
    if (!w) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    w->next = next;
    *out = w;
    return PC_OK;
}

void pc_tarw_set_owner(pc_tarw *w, uint32_t uid, uint32_t gid)
{
    w->uid = uid;
    w->gid = gid;
}

uint64_t pc_tarw_bytes(const pc_tarw *w)
{
    return w->bytes;
}

uint64_t pc_tarw_file_remaining(const pc_tarw *w)
{
    return w->in_file ? w->file_left : 0;
}

static pc_status fail(pc_tarw *w, pc_status st)
{
    w->failed = st;
    return st;
}

static pc_status emit(pc_tarw *w, const void *data, size_t len)
{
    pc_status st = pc_sink_write(w->next, data, len);
    if (st)
        return fail(w, st);
    w->bytes += len;
    return PC_OK;
}

static pc_status emit_zeros(pc_tarw *w, uint64_t n)
{
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        pc_status st = emit(w, zeros, k);
        if (st)
            return st;
        n -= k;
    }
    return PC_OK;
}

/* Common checks before a new member or the end marker. */
static pc_status ready_for_member(pc_tarw *w, const char *what)
{
    if (w->failed)
        return w->failed;
    if (w->finished)
        return pc_err(PC_E_INTERNAL, "tar writer: %s after finish or abort", what);
    if (w->in_file)
        return fail(w, pc_err(PC_E_INTERNAL, "tar writer: %s while member \"%s\" is open", what,
                              w->file_name));
    if (w->bytes % PC_TAR_BLOCK != 0)
        return fail(w, pc_err(PC_E_CORRUPT,
                              "raw tar data ends inside a 512-byte block (at byte %" PRIu64 ")",
                              w->bytes));
    return PC_OK;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

static void put_octal(unsigned char *field, size_t width, uint64_t v)
{
    /* width-1 zero-padded digits and a NUL, as GNU tar and Python write them */
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (unsigned char)('0' + (v & 7));
        v >>= 3;
    }
}

static void put_base256(unsigned char *field, size_t width, uint64_t v)
{
    memset(field, 0, width);
    field[0] = 0x80;
    for (size_t i = width - 1; i > 0 && v; i--) {
        field[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* Split name into ustar prefix + name at the last '/' that makes both fit; -1 if none does. */
static long ustar_split(const char *name, size_t n)
{
    if (n <= NAME_LEN)
        return 0;
    size_t start = n - 1 < PREFIX_LEN ? n - 1 : PREFIX_LEN;
    for (size_t i = start + 1; i-- > 0;) {
        if (name[i] != '/')
            continue;
        size_t rest = n - i - 1;
        if (rest == 0)
            continue; /* the trailing slash of a directory */
        if (rest > NAME_LEN || i == 0)
            return -1;
        return (long)i;
    }
    return -1;
}

static unsigned digits10(size_t v)
{
    unsigned d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static pc_status pax_record(pc_buf *b, const char *key, const char *value)
{
    /* "<len> key=value\n" where len counts itself */
    size_t base = strlen(key) + strlen(value) + 3;
    size_t len = base + digits10(base);
    if (digits10(len) != digits10(base))
        len = base + digits10(len);
    return pc_buf_printf(b, "%zu %s=%s\n", len, key, value);
}

static void finish_header(unsigned char *h)
{
    memset(h + H_CHKSUM, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < PC_TAR_BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + H_CHKSUM, 8, "%06o", sum);
    h[H_CHKSUM + 7] = ' ';
}

static void base_header(unsigned char *h, char type, uint32_t mode, uint32_t uid, uint32_t gid,
                        int64_t mtime)
{
    memset(h, 0, PC_TAR_BLOCK);
    put_octal(h + H_MODE, 8, mode & 07777);
    put_octal(h + H_UID, 8, uid > OCT7_MAX ? 0 : uid);
    put_octal(h + H_GID, 8, gid > OCT7_MAX ? 0 : gid);
    put_octal(h + H_SIZE, 12, 0);
    put_octal(h + H_MTIME, 12, mtime < 0 || (uint64_t)mtime > OCT11_MAX ? 0 : (uint64_t)mtime);
    h[H_TYPE] = (unsigned char)type;
    memcpy(h + H_MAGIC, "ustar", 6);
    memcpy(h + H_VERSION, "00", 2);
    put_octal(h + H_DEVMAJOR, 8, 0);
    put_octal(h + H_DEVMINOR, 8, 0);
}

/* A pax fallback copy of a string into a ustar field: ASCII only, truncated. */
static void put_fallback(unsigned char *field, size_t width, const char *s)
{
    size_t i = 0;
    for (; s[i] && i < width; i++)
        field[i] = (unsigned char)s[i] < 0x80 ? (unsigned char)s[i] : '_';
}

static pc_status write_header(pc_tarw *w, const char *name, const char *link, char type,
                              uint32_t mode, uint64_t size, int64_t mtime)
{
    size_t nlen = strlen(name);
    if (nlen == 0)
        return fail(w, pc_err(PC_E_INTERNAL, "tar writer: empty member name"));
    long split = is_ascii(name) ? ustar_split(name, nlen) : -1;
    bool pax_path = split < 0;
    bool pax_link = strlen(link) > NAME_LEN || !is_ascii(link);
    bool pax_size = size > OCT11_MAX;
    bool pax_mtime = mtime < 0 || (uint64_t)mtime > OCT11_MAX;
    bool pax_uid = w->uid > OCT7_MAX, pax_gid = w->gid > OCT7_MAX;
    unsigned char h[PC_TAR_BLOCK];
    pc_status st;

    if (pax_path || pax_link || pax_size || pax_mtime || pax_uid || pax_gid) {
        pc_buf rec;
        char num[32];
        pc_buf_init(&rec, PC_TAR_MAX_EXT_HEADER);
        st = PC_OK;
        if (pax_path)
            st = pax_record(&rec, "path", name);
        if (!st && pax_link)
            st = pax_record(&rec, "linkpath", link);
        if (!st && pax_size) {
            snprintf(num, sizeof num, "%" PRIu64, size);
            st = pax_record(&rec, "size", num);
        }
        if (!st && pax_mtime) {
            snprintf(num, sizeof num, "%" PRId64, mtime);
            st = pax_record(&rec, "mtime", num);
        }
        if (!st && pax_uid) {
            snprintf(num, sizeof num, "%" PRIu32, w->uid);
            st = pax_record(&rec, "uid", num);
        }
        if (!st && pax_gid) {
            snprintf(num, sizeof num, "%" PRIu32, w->gid);
            st = pax_record(&rec, "gid", num);
        }
        if (st) {
            pc_buf_free(&rec);
            return fail(w, pc_err(PC_E_INTERNAL,
                                  "tar writer: extended header of \"%s\" is too long", name));
        }
        base_header(h, 'x', 0644, 0, 0, mtime);
        memcpy(h + H_NAME, "././@PaxHeader", 14);
        put_octal(h + H_SIZE, 12, rec.len);
        finish_header(h);
        st = emit(w, h, sizeof h);
        if (!st)
            st = emit(w, rec.data, rec.len);
        if (!st)
            st = emit_zeros(w, (PC_TAR_BLOCK - rec.len % PC_TAR_BLOCK) % PC_TAR_BLOCK);
        pc_buf_free(&rec);
        if (st)
            return st;
    }

    base_header(h, type, mode, w->uid, w->gid, mtime);
    if (pax_path) {
        put_fallback(h + H_NAME, NAME_LEN, name);
    } else if (split == 0) {
        memcpy(h + H_NAME, name, nlen);
    } else {
        memcpy(h + H_PREFIX, name, (size_t)split);
        memcpy(h + H_NAME, name + split + 1, nlen - (size_t)split - 1);
    }
    if (pax_link)
        put_fallback(h + H_LINKNAME, NAME_LEN, link);
    else
        memcpy(h + H_LINKNAME, link, strlen(link));
    if (pax_size)
        put_base256(h + H_SIZE, 12, size);
    else
        put_octal(h + H_SIZE, 12, size);
    finish_header(h);
    return emit(w, h, sizeof h);
}

pc_status pc_tarw_add_dir(pc_tarw *w, const char *name, uint32_t mode, int64_t mtime)
{
    pc_status st = ready_for_member(w, "adding a directory");
    if (st)
        return st;
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '/')
        return write_header(w, name, "", '5', mode, 0, mtime);
    char *slashed = pc_asprintf("%s/", name);
    if (!slashed)
        return fail(w, PC_E_INTERNAL);
    st = write_header(w, slashed, "", '5', mode, 0, mtime);
    free(slashed);
    return st;
}

pc_status pc_tarw_add_symlink(pc_tarw *w, const char *name, const char *target, int64_t mtime)
{
    pc_status st = ready_for_member(w, "adding a symlink");
    if (st)
        return st;
    if (*target == '\0')
        return fail(w,
                    pc_err(PC_E_INTERNAL, "tar writer: symlink \"%s\" has an empty target", name));
    return write_header(w, name, target, '2', 0777, 0, mtime);
}

pc_status pc_tarw_file_begin(pc_tarw *w, const char *name, uint64_t size, uint32_t mode,
                             int64_t mtime)
{
    pc_status st = ready_for_member(w, "adding a file");
    if (st)
        return st;
    char *copy = pc_strdup(name);
    if (!copy)
        return fail(w, PC_E_INTERNAL);
    st = write_header(w, name, "", '0', mode, size, mtime);
    if (st) {
        free(copy);
        return st;
    }
    free(w->file_name);
    w->file_name = copy;
    w->in_file = true;
    w->file_left = size;
    return PC_OK;
}

static pc_status check_in_file(pc_tarw *w, const char *what)
{
    if (w->failed)
        return w->failed;
    if (w->finished || !w->in_file)
        return fail(w, pc_err(PC_E_INTERNAL, "tar writer: %s without an open member", what));
    return PC_OK;
}

pc_status pc_tarw_file_write(pc_tarw *w, const void *data, size_t len)
{
    pc_status st = check_in_file(w, "file write");
    if (st)
        return st;
    if (len > w->file_left)
        return fail(w, pc_err(PC_E_INTERNAL,
                              "tar writer: more data for \"%s\" than its declared size (%zu bytes "
                              "given, %" PRIu64 " left)",
                              w->file_name, len, w->file_left));
    st = emit(w, data, len);
    if (st)
        return st;
    w->file_left -= len;
    return PC_OK;
}

pc_status pc_tarw_file_pad(pc_tarw *w)
{
    pc_status st = check_in_file(w, "file pad");
    if (st)
        return st;
    st = emit_zeros(w, w->file_left);
    if (st)
        return st;
    w->file_left = 0;
    return PC_OK;
}

pc_status pc_tarw_file_end(pc_tarw *w)
{
    pc_status st = check_in_file(w, "file end");
    if (st)
        return st;
    if (w->file_left != 0)
        return fail(w, pc_err(PC_E_INTERNAL,
                              "tar writer: member \"%s\" ended %" PRIu64
                              " bytes short of its declared size",
                              w->file_name, w->file_left));
    st = emit_zeros(w, (PC_TAR_BLOCK - w->bytes % PC_TAR_BLOCK) % PC_TAR_BLOCK);
    if (st)
        return st;
    w->in_file = false;
    return PC_OK;
}

pc_status pc_tarw_append_raw(pc_tarw *w, const void *data, size_t len)
{
    if (w->failed)
        return w->failed;
    if (w->finished || w->in_file)
        return fail(w, pc_err(PC_E_INTERNAL, "tar writer: raw data %s",
                              w->finished ? "after finish or abort" : "inside a member"));
    return emit(w, data, len);
}

pc_status pc_tarw_finish(pc_tarw *w)
{
    pc_status st = ready_for_member(w, "finish");
    if (st)
        return st;
    st = emit_zeros(w, 2 * PC_TAR_BLOCK);
    if (st)
        return st;
    st = pc_sink_finish(w->next);
    if (st)
        return fail(w, st);
    w->finished = true;
    return PC_OK;
}

void pc_tarw_abort(pc_tarw *w)
{
    pc_sink_abort(w->next); /* a no-op on a finished chain */
    w->finished = true;
}

void pc_tarw_free(pc_tarw *w)
{
    if (!w)
        return;
    pc_sink_free(w->next);
    free(w->file_name);
    free(w);
}

/* ==== Reader ==== */

typedef enum rstate {
    R_HEADER,
    R_EXT,  /* collecting a pax or GNU long-name header */
    R_DATA, /* member content */
    R_PAD,  /* skipping padding or content nobody wants */
    R_END,  /* after the end-of-archive block: zeros only */
} rstate;

typedef struct tar_reader {
    pc_sink base;
    const pc_tar_handler *h;
    void *ud;
    bool lenient;
    rstate state;
    uint64_t pos; /* stream offset of the next byte, for messages */
    unsigned char hdr[PC_TAR_BLOCK];
    size_t hdr_len;
    uint64_t hdr_pos;
    /* R_EXT */
    char ext_type;
    pc_buf ext;
    /* R_DATA / R_PAD */
    uint64_t left;
    uint64_t pad;
    pc_sink *content;
    pc_buf cur_name;
    /* overrides for the next member, from pax and GNU headers */
    char *x_path, *x_link;
    bool x_has_size, x_has_mtime, x_has_uid, x_has_gid, x_sparse, x_pending;
    uint64_t x_size;
    int64_t x_mtime, x_uid, x_gid;
} tar_reader;

static void clear_pending(tar_reader *r)
{
    free(r->x_path);
    free(r->x_link);
    r->x_path = r->x_link = NULL;
    r->x_has_size = r->x_has_mtime = r->x_has_uid = r->x_has_gid = false;
    r->x_sparse = r->x_pending = false;
}

static pc_status corrupt(const tar_reader *r, const char *what)
{
    return pc_err(PC_E_CORRUPT, "corrupt tar: %s (header at offset %" PRIu64 ")", what, r->hdr_pos);
}

/* Length of a NUL-terminated field of at most width bytes. */
static size_t field_len(const unsigned char *f, size_t width)
{
    const unsigned char *z = memchr(f, 0, width);
    return z ? (size_t)(z - f) : width;
}

/*
 * A numeric header field: octal digits with optional surrounding spaces,
 * ending at a NUL (empty means 0), or GNU base-256 (first byte 0x80 or 0xff).
 */
static bool parse_num(const unsigned char *f, size_t width, int64_t *out)
{
    if (f[0] == 0x80 || f[0] == 0xff) {
        /* big-endian two's complement over the remaining bytes, as GNU tar and Python read it */
        bool neg = f[0] == 0xff;
        size_t n = width - 1, lo_bytes = n < 8 ? n : 8;
        for (size_t i = 1; i + lo_bytes < width; i++)
            if (f[i] != (neg ? 0xff : 0x00))
                return false;
        uint64_t lo = 0;
        for (size_t i = width - lo_bytes; i < width; i++)
            lo = (lo << 8) | f[i];
        if (lo_bytes < 8) {
            *out = neg ? (int64_t)lo - ((int64_t)1 << (8 * lo_bytes)) : (int64_t)lo;
            return true;
        }
        if ((lo >> 63) != (uint64_t)neg)
            return false;
        *out = neg ? -(int64_t)(~lo) - 1 : (int64_t)lo;
        return true;
    }
    size_t n = field_len(f, width);
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    while (n > i && f[n - 1] == ' ')
        n--;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (f[i] < '0' || f[i] > '7')
            return false;
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    *out = (int64_t)v; /* at most 11 digits: fits */
    return true;
}

static pc_status header_num(const tar_reader *r, size_t off, size_t width, const char *field,
                            int64_t *out)
{
    if (parse_num(r->hdr + off, width, out))
        return PC_OK;
    char what[64];
    snprintf(what, sizeof what, "invalid %s field", field);
    return corrupt(r, what);
}

static bool checksum_ok(const unsigned char *h)
{
    int64_t stored;
    if (!parse_num(h + H_CHKSUM, 8, &stored))
        return false;
    /* historic writers summed signed chars; Python and GNU tar accept both */
    int64_t usum = 0, ssum = 0;
    for (size_t i = 0; i < PC_TAR_BLOCK; i++) {
        unsigned char c = (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c;
    }
    return stored == usum || stored == ssum;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Decimal digits only, as pax numbers are written; frac allows a fractional part (mtime). */
static bool pax_int(const char *v, bool neg_ok, bool frac, int64_t *out)
{
    bool neg = false;
    if (neg_ok && *v == '-') {
        neg = true;
        v++;
    }
    if (!(*v >= '0' && *v <= '9'))
        return false;
    uint64_t x = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (x > (uint64_t)(INT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(*v - '0');
    }
    if (frac && *v == '.') {
        v++;
        while (*v >= '0' && *v <= '9')
            v++;
    }
    if (*v)
        return false;
    *out = neg ? -(int64_t)x : (int64_t)x;
    return true;
}

static pc_status apply_pax(tar_reader *r, bool global)
{
    const char *p = (const char *)r->ext.data;
    size_t left = r->ext.len;
    while (left > 0) {
        /* "<len> <key>=<value>\n", len counting the whole record */
        size_t len = 0, i = 0;
        while (i < left && p[i] >= '0' && p[i] <= '9' && i < 8)
            len = len * 10 + (size_t)(p[i++] - '0');
        if (i == 0 || i >= left || p[i] != ' ' || len <= i + 1 || len > left || p[len - 1] != '\n')
            return corrupt(r, "malformed pax record");
        const char *key = p + i + 1;
        const char *end = p + len - 1;
        const char *eq = memchr(key, '=', (size_t)(end - key));
        if (!eq || eq == key)
            return corrupt(r, "malformed pax record");
        size_t klen = (size_t)(eq - key), vlen = (size_t)(end - eq - 1);
        const char *val = eq + 1;
        if (memchr(val, '\0', vlen) || memchr(key, '\0', klen))
            return corrupt(r, "NUL byte in a pax record");
        if (!global) {
            char *v = pc_strndup(val, vlen);
            if (!v)
                return PC_E_INTERNAL;
            pc_status st = PC_OK;
            int64_t num = 0;
#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
            if (KEY_IS("path")) {
                free(r->x_path);
                r->x_path = v;
                v = NULL;
            } else if (KEY_IS("linkpath")) {
                free(r->x_link);
                r->x_link = v;
                v = NULL;
            } else if (KEY_IS("size")) {
                if (!pax_int(v, false, false, &num))
                    st = corrupt(r, "invalid pax size");
                r->x_size = (uint64_t)num;
                r->x_has_size = true;
            } else if (KEY_IS("mtime")) {
                if (!pax_int(v, true, true, &num))
                    st = corrupt(r, "invalid pax mtime");
                r->x_mtime = num;
                r->x_has_mtime = true;
            } else if (KEY_IS("uid") || KEY_IS("gid")) {
                if (!pax_int(v, false, false, &num))
                    st = corrupt(r, "invalid pax uid or gid");
                if (key[0] == 'u') {
                    r->x_uid = num;
                    r->x_has_uid = true;
                } else {
                    r->x_gid = num;
                    r->x_has_gid = true;
                }
            } else if (klen > 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
                /* extracting a sparse map as plain content would corrupt the file */
                r->x_sparse = true;
            }
#undef KEY_IS
            free(v);
            if (st)
                return st;
        }
        p += len;
        left -= len;
    }
    return PC_OK;
}

static pc_status ext_done(tar_reader *r)
{
    pc_status st = PC_OK;
    switch (r->ext_type) {
    case 'x':
    case 'g':
        st = apply_pax(r, r->ext_type == 'g');
        break;
    case 'L':
    case 'K': {
        /* GNU long name: the name, NUL terminated */
        char *v = r->ext.len
                      ? pc_strndup((const char *)r->ext.data, field_len(r->ext.data, r->ext.len))
                      : pc_strdup("");
        if (!v)
            return PC_E_INTERNAL;
        char **slot = r->ext_type == 'L' ? &r->x_path : &r->x_link;
        /* a pax path seen before wins, as in GNU tar */
        if (*slot)
            free(v);
        else
            *slot = v;
        break;
    }
    }
    if (r->ext_type != 'g')
        r->x_pending = true;
    pc_buf_reset(&r->ext);
    return st;
}

/* Skip data bytes of content nobody reads, and their padding. */
static void skip_then_header(tar_reader *r, uint64_t data)
{
    r->left = 0;
    r->pad = data + (PC_TAR_BLOCK - data % PC_TAR_BLOCK) % PC_TAR_BLOCK;
    r->state = r->pad ? R_PAD : R_HEADER;
}

static pc_status content_done(tar_reader *r)
{
    pc_status st = PC_OK;
    if (r->content) {
        st = pc_sink_finish(r->content);
        pc_sink_free(r->content);
        r->content = NULL;
    }
    return st;
}

static pc_status process_header(tar_reader *r)
{
    const unsigned char *h = r->hdr;
    if (all_zero(h, PC_TAR_BLOCK)) {
        if (r->x_pending)
            return corrupt(r, "extended header not followed by a member");
        r->state = R_END;
        return PC_OK;
    }
    if (!checksum_ok(h))
        return corrupt(r, r->hdr_pos == 0 ? "header checksum mismatch (not a tar archive?)"
                                          : "header checksum mismatch");

    int64_t mode, uid, gid, size, mtime;
    pc_status st = header_num(r, H_MODE, 8, "mode", &mode);
    if (!st)
        st = header_num(r, H_UID, 8, "uid", &uid);
    if (!st)
        st = header_num(r, H_GID, 8, "gid", &gid);
    if (!st)
        st = header_num(r, H_SIZE, 12, "size", &size);
    if (!st)
        st = header_num(r, H_MTIME, 12, "mtime", &mtime);
    if (st)
        return st;
    char type = (char)h[H_TYPE];

    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        if (size < 0 || (uint64_t)size > PC_TAR_MAX_EXT_HEADER)
            return pc_err(PC_E_CORRUPT,
                          "oversized tar header: %" PRId64 "-byte '%c' extended header at offset "
                          "%" PRIu64 " (limit %d)",
                          size, type, r->hdr_pos, PC_TAR_MAX_EXT_HEADER);
        r->ext_type = type;
        r->left = (uint64_t)size;
        r->pad = (PC_TAR_BLOCK - (uint64_t)size % PC_TAR_BLOCK) % PC_TAR_BLOCK;
        pc_buf_reset(&r->ext);
        if (size == 0) {
            st = ext_done(r);
            if (st)
                return st;
            r->state = r->pad ? R_PAD : R_HEADER;
        } else {
            r->state = R_EXT;
        }
        return PC_OK;
    }

    /* ustar (POSIX) uses the prefix field; old GNU ("ustar  ") and v7 headers do not */
    bool posix = memcmp(h + H_MAGIC, "ustar", 6) == 0;
    char hname[PREFIX_LEN + 1 + NAME_LEN + 1];
    size_t plen = posix ? field_len(h + H_PREFIX, PREFIX_LEN) : 0;
    size_t nlen = field_len(h + H_NAME, NAME_LEN);
    size_t o = 0;
    if (plen) {
        memcpy(hname, h + H_PREFIX, plen);
        hname[plen] = '/';
        o = plen + 1;
    }
    memcpy(hname + o, h + H_NAME, nlen);
    hname[o + nlen] = '\0';
    char hlink[NAME_LEN + 1];
    size_t llen = field_len(h + H_LINKNAME, NAME_LEN);
    memcpy(hlink, h + H_LINKNAME, llen);
    hlink[llen] = '\0';

    pc_tar_entry e = {
        .name = r->x_path ? r->x_path : hname,
        .linkname = r->x_link ? r->x_link : hlink,
        .typeflag = type,
        .mode = (uint32_t)(mode & 07777),
        .uid = r->x_has_uid ? r->x_uid : uid,
        .gid = r->x_has_gid ? r->x_gid : gid,
        .mtime = r->x_has_mtime ? r->x_mtime : mtime,
    };
    if (r->x_has_size)
        size = (int64_t)r->x_size;
    if (size < 0 || (uint64_t)size > PC_TAR_MAX_ENTRY_SIZE)
        return corrupt(r, "member size out of range");
    e.size = (uint64_t)size;

    /* bytes of content following the header; link, directory and device types have none */
    uint64_t data = 0;
    switch (type) {
    case '0':
    case '7':
        e.type = PC_TAR_FILE;
        break;
    case '\0': {
        /* v7 marks directories by a trailing slash */
        size_t n = strlen(e.name);
        e.type = n > 0 && e.name[n - 1] == '/' ? PC_TAR_DIR : PC_TAR_FILE;
        break;
    }
    case '1':
        e.type = PC_TAR_HARDLINK;
        break;
    case '2':
        e.type = PC_TAR_SYMLINK;
        break;
    case '5':
        e.type = PC_TAR_DIR;
        break;
    case '3':
    case '4':
    case '6':
        e.type = PC_TAR_OTHER;
        break;
    default:
        /* unknown types (GNU sparse 'S', dumpdir 'D', volume labels ...) carry size bytes */
        e.type = PC_TAR_OTHER;
        data = e.size;
        break;
    }
    if (e.type == PC_TAR_FILE) {
        data = e.size;
        if (r->x_sparse) {
            e.type = PC_TAR_OTHER;
            e.typeflag = 'S';
        }
    }

    pc_buf_reset(&r->cur_name);
    st = pc_buf_append_str(&r->cur_name, e.name);
    pc_sink *content = NULL;
    if (!st)
        st = r->h->entry(r->ud, &e, e.type == PC_TAR_FILE ? &content : NULL);
    clear_pending(r);
    if (st) {
        pc_sink_free(content);
        return st;
    }
    if (content && data > 0) {
        r->content = content;
        r->left = data;
        r->pad = (PC_TAR_BLOCK - data % PC_TAR_BLOCK) % PC_TAR_BLOCK;
        r->state = R_DATA;
        return PC_OK;
    }
    if (content) {
        r->content = content;
        st = content_done(r);
        if (st)
            return st;
    }
    skip_then_header(r, data);
    return PC_OK;
}

static pc_status reader_write(pc_sink *s, const void *data, size_t len)
{
    tar_reader *r = (tar_reader *)s;
    const unsigned char *p = data;
    pc_status st;
    while (len > 0) {
        size_t n = 0;
        switch (r->state) {
        case R_HEADER:
            if (r->hdr_len == 0)
                r->hdr_pos = r->pos;
            n = PC_TAR_BLOCK - r->hdr_len;
            n = n < len ? n : len;
            memcpy(r->hdr + r->hdr_len, p, n);
            r->hdr_len += n;
            if (r->hdr_len == PC_TAR_BLOCK) {
                r->hdr_len = 0;
                st = process_header(r);
                if (st)
                    return st;
            }
            break;
        case R_EXT:
            n = r->left < len ? (size_t)r->left : len;
            st = pc_buf_append(&r->ext, p, n);
            if (st)
                return st;
            r->left -= n;
            if (r->left == 0) {
                st = ext_done(r);
                if (st)
                    return st;
                r->state = r->pad ? R_PAD : R_HEADER;
            }
            break;
        case R_DATA:
            n = r->left < len ? (size_t)r->left : len;
            st = pc_sink_write(r->content, p, n);
            if (st)
                return st;
            r->left -= n;
            if (r->left == 0) {
                st = content_done(r);
                if (st)
                    return st;
                r->state = r->pad ? R_PAD : R_HEADER;
            }
            break;
        case R_PAD:
            n = r->pad < len ? (size_t)r->pad : len;
            r->pad -= n;
            if (r->pad == 0)
                r->state = R_HEADER;
            break;
        case R_END:
            n = len;
            if (!all_zero(p, n))
                return pc_err(PC_E_CORRUPT,
                              "corrupt tar: non-zero data after the end-of-archive marker "
                              "(near offset %" PRIu64 ")",
                              r->pos);
            break;
        }
        p += n;
        len -= n;
        r->pos += n;
    }
    return PC_OK;
}

static pc_status reader_finish(pc_sink *s)
{
    tar_reader *r = (tar_reader *)s;
    bool complete = r->state == R_END ||
                    (r->lenient && r->state == R_HEADER && r->hdr_len == 0 && !r->x_pending);
    if (!complete) {
        if (r->state == R_DATA || r->state == R_PAD)
            return pc_err(PC_E_CORRUPT,
                          "truncated tar: the stream ends inside member \"%s\" (at offset %" PRIu64
                          ")",
                          pc_buf_cstr(&r->cur_name), r->pos);
        return pc_err(PC_E_CORRUPT,
                      "truncated tar: the stream ends without the end-of-archive marker (at "
                      "offset %" PRIu64 ")",
                      r->pos);
    }
    return r->h->end ? r->h->end(r->ud) : PC_OK;
}

static void reader_abort(pc_sink *s)
{
    tar_reader *r = (tar_reader *)s;
    pc_sink_free(r->content);
    r->content = NULL;
}

static void reader_destroy(pc_sink *s)
{
    tar_reader *r = (tar_reader *)s;
    pc_sink_free(r->content);
    clear_pending(r);
    pc_buf_free(&r->ext);
    pc_buf_free(&r->cur_name);
    free(r);
}

static const pc_sink_ops reader_ops = {.name = "tar-reader",
                                       .write = reader_write,
                                       .finish = reader_finish,
                                       .abort = reader_abort,
                                       .destroy = reader_destroy};

pc_status pc_tar_reader_new(const pc_tar_handler *h, void *ud, pc_sink **out)
{
    tar_reader *r = pc_calloc(1, sizeof *r);
    if (!r)
        return PC_E_INTERNAL;
    pc_sink_init(&r->base, &reader_ops, NULL);
    r->h = h;
    r->ud = ud;
    r->state = R_HEADER;
    pc_buf_init(&r->ext, PC_TAR_MAX_EXT_HEADER);
    pc_buf_init(&r->cur_name, PC_BUF_NOCAP);
    *out = &r->base;
    return PC_OK;
}

void pc_tar_reader_set_lenient_end(pc_sink *reader, bool lenient)
{
    if (reader->ops != &reader_ops)
        abort(); /* a programming error: not a tar reader */
    ((tar_reader *)reader)->lenient = lenient;
}

/* ==== Paths ==== */

/* The name for a message: control and non-ASCII bytes as \xNN, cut at 200 bytes. */
static void quote_name(const char *name, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 5 < outlen; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    out[o] = '\0';
}

static pc_status bad_path(const char *name, const char *why)
{
    char q[208];
    quote_name(name, q, sizeof q);
    return pc_err(PC_E_CORRUPT, "unsafe tar member name \"%s\": %s", q, why);
}

pc_status pc_tar_path_check(const char *name, char *normalised, size_t len)
{
    if (*name == '\0')
        return bad_path(name, "empty name");
    if (*name == '/')
        return bad_path(name, "absolute path");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return bad_path(name, "control character in the name");
    size_t o = 0;
    const char *p = name;
    while (*p) {
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t clen = (size_t)(p - c);
        while (*p == '/')
            p++;
        if (clen == 0 || (clen == 1 && c[0] == '.'))
            continue;
        if (clen == 2 && c[0] == '.' && c[1] == '.')
            return bad_path(name, "\"..\" component");
        if (o + (o > 0) + clen + 1 > len)
            return bad_path(name, "name too long");
        if (o > 0)
            normalised[o++] = '/';
        memcpy(normalised + o, c, clen);
        o += clen;
    }
    if (o == 0) {
        if (len < 2)
            return bad_path(name, "name too long");
        normalised[o++] = '.';
    }
    normalised[o] = '\0';
    return PC_OK;
}

/* Next path component after *p (skipping empty and "." ones); false at the end. */
static bool next_component(const char **p, const char **c, size_t *clen)
{
    for (;;) {
        while (**p == '/')
            (*p)++;
        if (**p == '\0')
            return false;
        *c = *p;
        while (**p && **p != '/')
            (*p)++;
        *clen = (size_t)(*p - *c);
        if (!(*clen == 1 && (*c)[0] == '.'))
            return true;
    }
}

bool pc_path_is_within(const char *base, const char *path)
{
    const char *b = base, *p = path, *bc, *pc;
    size_t bl, pl;
    if (*path == '/') {
        if (*base != '/')
            return false;
        while (next_component(&b, &bc, &bl)) {
            if (!next_component(&p, &pc, &pl))
                return false;
            if ((pl == 2 && pc[0] == '.' && pc[1] == '.') || pl != bl || memcmp(pc, bc, bl) != 0)
                return false;
        }
    }
    size_t depth = 0;
    while (next_component(&p, &pc, &pl)) {
        if (pl == 2 && pc[0] == '.' && pc[1] == '.') {
            if (depth == 0)
                return false;
            depth--;
        } else {
            depth++;
        }
    }
    return true;
}
