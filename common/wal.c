#include "common/wal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/fsutil.h"

/* XLogLongPageHeaderData: the fields we read and where they sit (host byte order). */
#define HDR_MAGIC    0
#define HDR_INFO     2
#define HDR_TLI      4
#define HDR_PAGEADDR 8
#define HDR_SYSID    24
#define HDR_SEGSIZE  32
#define HDR_BLCKSZ   36
#define HDR_LEN      40

#define XLP_LONG_HEADER 0x0002
/* XLOG_PAGE_MAGIC of PostgreSQL 9.6 (0xD093) through 18 (0xD118), with room on both sides. */
#define MAGIC_MIN 0xD061
#define MAGIC_MAX 0xD1FF

/* Longest piece of a bad input quoted back in a message. */
#define QUOTE_MAX 128

bool pc_wal_segsize_valid(uint64_t segsize)
{
    return segsize >= PC_WAL_MIN_SEGSIZE && segsize <= PC_WAL_MAX_SEGSIZE &&
           (segsize & (segsize - 1)) == 0;
}

static uint64_t segs_per_log(uint64_t segsize)
{
    return UINT64_C(0x100000000) / segsize;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hexval(s[i]) < 0)
            return false;
    return true;
}

/* The caller checked that s[0..7] are hex digits. */
static uint32_t hex8(const char *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 4 | (uint32_t)hexval(s[i]);
    return v;
}

bool pc_wal_is_segment_name(const char *name)
{
    return strlen(name) == PC_WAL_NAME_LEN && is_hex(name, PC_WAL_NAME_LEN);
}

pc_status pc_wal_parse(const char *name, pc_wal_name *out)
{
    size_t len = strlen(name);
    pc_wal_name w;
    memset(&w, 0, sizeof w);

    if (len == 8 + strlen(".history") && is_hex(name, 8) && strcmp(name + 8, ".history") == 0) {
        w.kind = PC_WAL_HISTORY;
        w.tli = hex8(name);
        snprintf(w.name, sizeof w.name, "%08" PRIX32 ".history", w.tli);
        *out = w;
        return PC_OK;
    }
    if (len < PC_WAL_NAME_LEN || !is_hex(name, PC_WAL_NAME_LEN))
        goto bad;
    const char *suffix = name + PC_WAL_NAME_LEN;
    if (*suffix == '\0') {
        w.kind = PC_WAL_SEGMENT;
    } else if (strcmp(suffix, ".partial") == 0) {
        w.kind = PC_WAL_PARTIAL;
    } else if (len == PC_WAL_NAME_LEN + 1 + 8 + strlen(".backup") && suffix[0] == '.' &&
               is_hex(suffix + 1, 8) && strcmp(suffix + 9, ".backup") == 0) {
        w.kind = PC_WAL_BACKUP;
        w.offset = hex8(suffix + 1);
    } else {
        goto bad;
    }
    w.tli = hex8(name);
    w.log = hex8(name + 8);
    w.seg = hex8(name + 16);
    snprintf(w.name, sizeof w.name, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, w.tli, w.log, w.seg);
    if (w.kind == PC_WAL_PARTIAL)
        strcat(w.name, ".partial");
    else if (w.kind == PC_WAL_BACKUP)
        snprintf(w.name + PC_WAL_NAME_LEN, sizeof w.name - PC_WAL_NAME_LEN, ".%08" PRIX32 ".backup",
                 w.offset);
    *out = w;
    return PC_OK;

bad:
    pc_err(PC_E_USAGE, "\"%.*s%s\" is not a WAL file name", QUOTE_MAX, name,
           len > QUOTE_MAX ? "..." : "");
    pc_err_hint("Expected a 24-hex-digit segment name (optionally with .partial or "
                ".<offset>.backup) or <timeline>.history.");
    return PC_E_USAGE;
}

pc_status pc_wal_parse_path(const char *path, pc_wal_name *out)
{
    return pc_wal_parse(pc_basename(path), out);
}

uint64_t pc_wal_segno(uint32_t log, uint32_t seg, uint64_t segsize)
{
    return (uint64_t)log * segs_per_log(segsize) + seg;
}

void pc_wal_segno_split(uint64_t segno, uint64_t segsize, uint32_t *log, uint32_t *seg)
{
    uint64_t per = segs_per_log(segsize);
    *log = (uint32_t)(segno / per);
    *seg = (uint32_t)(segno % per);
}

void pc_wal_segment_name(uint32_t tli, uint64_t segno, uint64_t segsize, char *out)
{
    uint32_t log, seg;
    pc_wal_segno_split(segno, segsize, &log, &seg);
    snprintf(out, PC_WAL_NAME_LEN + 1, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, tli, log, seg);
}

static pc_status check_segsize(uint64_t segsize)
{
    if (pc_wal_segsize_valid(segsize))
        return PC_OK;
    pc_err(PC_E_USAGE, "invalid WAL segment size %" PRIu64 " bytes", segsize);
    pc_err_hint("The WAL segment size is a power of two between 1MiB and 1GiB "
                "(initdb --wal-segsize).");
    return PC_E_USAGE;
}

/* The seg field of a name only goes up to 4 GiB / segsize - 1. */
static pc_status check_seg_range(const pc_wal_name *w, uint64_t segsize)
{
    if (w->seg < segs_per_log(segsize))
        return PC_OK;
    pc_err(PC_E_USAGE,
           "WAL file name \"%s\" is out of range for a WAL segment size of %" PRIu64 " bytes",
           w->name, segsize);
    pc_err_hint("Check --wal-segment-size: it must match the cluster (initdb --wal-segsize).");
    return PC_E_USAGE;
}

pc_status pc_wal_next(const char *name, uint64_t segsize, char *out)
{
    pc_wal_name w;
    pc_status st = check_segsize(segsize);
    if (st)
        return st;
    if ((st = pc_wal_parse(name, &w)))
        return st;
    if (w.kind != PC_WAL_SEGMENT)
        return pc_err(PC_E_USAGE, "\"%s\" is not a WAL segment name", w.name);
    if ((st = check_seg_range(&w, segsize)))
        return st;
    uint64_t segno = pc_wal_segno(w.log, w.seg, segsize);
    if (segno + 1 >= segs_per_log(segsize) * UINT64_C(0x100000000))
        return pc_err(PC_E_USAGE, "\"%s\" is the last possible WAL segment", w.name);
    pc_wal_segment_name(w.tli, segno + 1, segsize, out);
    return PC_OK;
}

uint64_t pc_wal_name_segno(const pc_wal_name *w, uint64_t segsize)
{
    return pc_wal_segno(w->log, w->seg, segsize);
}

void pc_wal_hash_dir(const pc_wal_name *w, char *out)
{
    switch (w->kind) {
    case PC_WAL_HISTORY:
        out[0] = '\0';
        return;
    case PC_WAL_SEGMENT:
    case PC_WAL_PARTIAL:
    case PC_WAL_BACKUP:
        break;
    }
    memcpy(out, w->name, 16);
    out[16] = '\0';
}

/* 1 to 8 hex digits, then `end`; advances *p past `end`. */
static bool lsn_half(const char **p, char end, uint32_t *out)
{
    uint32_t v = 0;
    int n = 0;
    const char *s = *p;
    while (hexval(*s) >= 0) {
        if (++n > 8)
            return false;
        v = v << 4 | (uint32_t)hexval(*s++);
    }
    if (n == 0 || *s != end)
        return false;
    *p = s + 1;
    *out = v;
    return true;
}

pc_status pc_lsn_parse(const char *text, pc_lsn *out)
{
    const char *p = text;
    uint32_t hi, lo;
    if (!lsn_half(&p, '/', &hi) || !lsn_half(&p, '\0', &lo)) {
        pc_err(PC_E_USAGE, "\"%.*s%s\" is not an LSN", QUOTE_MAX, text,
               strlen(text) > QUOTE_MAX ? "..." : "");
        pc_err_hint("An LSN is written as two hexadecimal numbers, like 16/B374D848.");
        return PC_E_USAGE;
    }
    *out = (pc_lsn)hi << 32 | lo;
    return PC_OK;
}

void pc_lsn_format(pc_lsn lsn, char *out, size_t outlen)
{
    /* PostgreSQL 9.6-17 and barman's backup.info write the low half unpadded. */
    snprintf(out, outlen, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

uint64_t pc_lsn_segno(pc_lsn lsn, uint64_t segsize)
{
    return lsn / segsize;
}

uint32_t pc_lsn_offset(pc_lsn lsn, uint64_t segsize)
{
    return (uint32_t)(lsn % segsize);
}

void pc_lsn_to_segment_name(uint32_t tli, pc_lsn lsn, uint64_t segsize, char *out)
{
    pc_wal_segment_name(tli, pc_lsn_segno(lsn, segsize), segsize, out);
}

static uint16_t get16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

pc_status pc_wal_read_header(const void *data, size_t len, pc_wal_header *out)
{
    const unsigned char *p = data;
    if (len < HDR_LEN)
        return pc_err(PC_E_CORRUPT, "WAL segment header is truncated (%zu of %d bytes)", len,
                      HDR_LEN);
    out->magic = get16(p + HDR_MAGIC);
    out->info = get16(p + HDR_INFO);
    out->tli = get32(p + HDR_TLI);
    out->pageaddr = get64(p + HDR_PAGEADDR);
    out->sysid = get64(p + HDR_SYSID);
    out->seg_size = get32(p + HDR_SEGSIZE);
    out->blcksz = get32(p + HDR_BLCKSZ);
    return PC_OK;
}

pc_status pc_wal_check_header(const pc_wal_name *w, const void *data, size_t len, uint64_t segsize)
{
    pc_wal_header h;
    pc_status st;
    char want[24], got[24];

    switch (w->kind) {
    case PC_WAL_SEGMENT:
    case PC_WAL_PARTIAL:
        break;
    case PC_WAL_BACKUP:
    case PC_WAL_HISTORY:
        return pc_err(PC_E_USAGE, "\"%s\" is not a WAL segment and has no WAL header", w->name);
    }
    if ((st = check_segsize(segsize)) || (st = check_seg_range(w, segsize)))
        return st;
    if (len < HDR_LEN)
        return pc_err(PC_E_CORRUPT,
                      "WAL segment \"%s\" is truncated: %zu bytes, too short for a "
                      "WAL page header",
                      w->name, len);
    pc_wal_read_header(data, len, &h);
    if (h.magic < MAGIC_MIN || h.magic > MAGIC_MAX) {
        pc_err(PC_E_CORRUPT, "\"%s\" is not a WAL segment: bad page magic 0x%04X", w->name,
               h.magic);
        pc_err_detail("PostgreSQL 9.6 to 18 write a magic between 0x%04X and 0x%04X.", MAGIC_MIN,
                      MAGIC_MAX);
        return PC_E_CORRUPT;
    }
    if (!(h.info & XLP_LONG_HEADER))
        return pc_err(PC_E_CORRUPT,
                      "WAL segment \"%s\" does not start with a long page header "
                      "(xlp_info 0x%04X)",
                      w->name, h.info);
    if (h.seg_size != segsize) {
        pc_err(PC_E_CORRUPT,
               "WAL segment \"%s\" was written with a segment size of %" PRIu32
               " bytes, expected %" PRIu64,
               w->name, h.seg_size, segsize);
        pc_err_hint("Set --wal-segment-size to the cluster's WAL segment size.");
        return PC_E_CORRUPT;
    }
    if (h.blcksz < 1024 || h.blcksz > 65536 || (h.blcksz & (h.blcksz - 1)) != 0)
        return pc_err(PC_E_CORRUPT, "WAL segment \"%s\" has an invalid block size %" PRIu32,
                      w->name, h.blcksz);
    pc_lsn expect = (pc_lsn)pc_wal_name_segno(w, segsize) * segsize;
    if (h.pageaddr != expect) {
        pc_lsn_format(h.pageaddr, got, sizeof got);
        pc_lsn_format(expect, want, sizeof want);
        pc_err(PC_E_CORRUPT, "WAL segment \"%s\" starts at LSN %s, expected %s", w->name, got,
               want);
        pc_err_detail("The file's contents belong to another segment (a recycled or misnamed "
                      "file).");
        return PC_E_CORRUPT;
    }
    return PC_OK;
}
