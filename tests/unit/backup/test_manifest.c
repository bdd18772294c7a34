/*
 * pgcask.manifest (catalog/manifest.h): writer -> reader round trips (plain
 * and through zstd, as stored), truncation at every byte, a changed line
 * caught by the end digest, hostile lines refused one by one, writer input
 * checks, and the lookup index (duplicates, tablespaces, marks, growth).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "catalog/manifest.h"
#include "common/buf.h"
#include "common/error.h"
#include "compress/compress.h"

#define SHA_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define ID    "20261121T100000"

static const cat_mf_header HDR = {
    .backup_id = ID,
    .type = "full",
    .parent_id = NULL,
    .server = "pg1",
    .system_id = "7512345678901234567",
    .pg_version = 150020,
    .timeline = 3,
    .compression = "zstd",
    .created_at = 1795255200123456LL,
};

static const cat_mf_archive ARCH[] = {
    {"data.tar.zst", NULL, 1234, 99999, SHA_A},
    {"16385.tar.zst", "16385", 77, 10240, SHA_B},
};

static const cat_mf_file FILES[] = {
    {"base/1/1259", NULL, 'f', 8192, 1795255100, 0600, SHA_A, ID, "data.tar.zst", NULL, true,
     0xdeadbeef},
    {"base", NULL, 'd', 0, 1795255000, 0700, NULL, ID, NULL, NULL, false, 0},
    {"pg_tblspc/16385", NULL, 'l', 0, 1795255000, 0777, NULL, ID, NULL, "/srv/tbs \"one\"", false,
     0},
    {"PG_15_202209061/5/16390", "16385", 'f', 0, -5, 0600, SHA_B, ID, "16385.tar.zst", NULL, false,
     0},
    {"caf\xc3\xa9/\xe2\x82\xac", NULL, 'f', 1, 0, 0644, SHA_B, ID, "data.tar.zst", NULL, true,
     0xabcd},
};

#define NARCH  (sizeof ARCH / sizeof ARCH[0])
#define NFILES (sizeof FILES / sizeof FILES[0])

/* Write the standard manifest into out. */
static void write_std(pc_buf *out)
{
    pc_sink *mem;
    cat_mfw *w;
    assert_int_equal(pc_sink_mem_new(out, &mem), PC_OK);
    assert_int_equal(cat_mfw_new(mem, &HDR, &w), PC_OK);
    for (size_t i = 0; i < NARCH; i++)
        assert_int_equal(cat_mfw_archive(w, &ARCH[i]), PC_OK);
    for (size_t i = 0; i < NFILES; i++)
        assert_int_equal(cat_mfw_file(w, &FILES[i]), PC_OK);
    assert_int_equal(cat_mfw_finish(w), PC_OK);
    cat_mfw_free(w);
}

/* ---- what the reader hands out, copied ---- */

typedef struct got {
    int headers;
    char hdr_id[32], hdr_type[8], hdr_server[32], hdr_sysid[32], hdr_comp[16];
    bool hdr_parent_null;
    int hdr_pgv;
    uint32_t hdr_tli;
    int64_t hdr_created;
    size_t narch, nfiles;
    char arch[8][160];
    char files[8][400];
    pc_status fail_at_file; /* return this from the file callback (0: never) */
} got;

static pc_status on_header(void *ud, const cat_mf_header *h)
{
    got *g = ud;
    g->headers++;
    snprintf(g->hdr_id, sizeof g->hdr_id, "%s", h->backup_id);
    snprintf(g->hdr_type, sizeof g->hdr_type, "%s", h->type);
    snprintf(g->hdr_server, sizeof g->hdr_server, "%s", h->server);
    snprintf(g->hdr_sysid, sizeof g->hdr_sysid, "%s", h->system_id);
    snprintf(g->hdr_comp, sizeof g->hdr_comp, "%s", h->compression);
    g->hdr_parent_null = h->parent_id == NULL;
    g->hdr_pgv = h->pg_version;
    g->hdr_tli = h->timeline;
    g->hdr_created = h->created_at;
    return PC_OK;
}

static pc_status on_archive(void *ud, const cat_mf_archive *a)
{
    got *g = ud;
    snprintf(g->arch[g->narch++], 160, "%s|%s|%llu|%llu|%s", a->name,
             a->tablespace ? a->tablespace : "-", (unsigned long long)a->size,
             (unsigned long long)a->raw_size, a->sha256);
    return PC_OK;
}

static void file_text(const cat_mf_file *f, char *out, size_t len)
{
    snprintf(out, len, "%s|%s|%c|%llu|%lld|%o|%s|%s|%s|%s|%d:%08x", f->path,
             f->tablespace ? f->tablespace : "-", f->type, (unsigned long long)f->size,
             (long long)f->mtime, f->mode, f->sha256 ? f->sha256 : "-", f->backup_id,
             f->archive ? f->archive : "-", f->target ? f->target : "-", f->has_crc32c,
             (unsigned)f->crc32c);
}

static pc_status on_file(void *ud, const cat_mf_file *f)
{
    got *g = ud;
    if (g->fail_at_file)
        return pc_err(g->fail_at_file, "callback says stop");
    file_text(f, g->files[g->nfiles++], 400);
    return PC_OK;
}

static const cat_mf_handler HANDLER = {on_header, on_archive, on_file};

/* Feed text to a reader in chunks of `chunk` bytes; returns finish's status. */
static pc_status read_text(const void *text, size_t len, size_t chunk, got *g)
{
    pc_sink *r;
    assert_int_equal(cat_mf_reader_new(&HANDLER, g, &r), PC_OK);
    pc_status st = PC_OK;
    const unsigned char *p = text;
    for (size_t o = 0; o < len && st == PC_OK; o += chunk)
        st = pc_sink_write(r, p + o, len - o < chunk ? len - o : chunk);
    if (st == PC_OK)
        st = pc_sink_finish(r);
    pc_sink_free(r);
    return st;
}

static void check_std(const got *g)
{
    assert_int_equal(g->headers, 1);
    assert_string_equal(g->hdr_id, ID);
    assert_string_equal(g->hdr_type, "full");
    assert_string_equal(g->hdr_server, "pg1");
    assert_string_equal(g->hdr_sysid, "7512345678901234567");
    assert_string_equal(g->hdr_comp, "zstd");
    assert_true(g->hdr_parent_null);
    assert_int_equal(g->hdr_pgv, 150020);
    assert_int_equal(g->hdr_tli, 3);
    assert_int_equal(g->hdr_created, HDR.created_at);
    assert_int_equal(g->narch, NARCH);
    assert_string_equal(g->arch[0], "data.tar.zst|-|1234|99999|" SHA_A);
    assert_string_equal(g->arch[1], "16385.tar.zst|16385|77|10240|" SHA_B);
    assert_int_equal(g->nfiles, NFILES);
    for (size_t i = 0; i < NFILES; i++) {
        char want[400];
        file_text(&FILES[i], want, sizeof want);
        assert_string_equal(g->files[i], want);
    }
}

static void test_round_trip(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    write_std(&b);
    /* the documented shape: header first, end line last, one object a line */
    const char *text = pc_buf_cstr(&b);
    assert_non_null(strstr(text,
                           "{\"pgcask_manifest\":1,\"backup_id\":\"" ID "\",\"type\":\"full\","
                           "\"parent_id\":null,\"server\":\"pg1\",\"system_id\":"
                           "\"7512345678901234567\",\"pg_version\":150020,\"timeline\":3,"
                           "\"compression\":\"zstd\",\"created_at\":"
                           "\"2026-11-21T10:00:00.123456+00:00\"}\n"));
    assert_non_null(strstr(text, "\n{\"archive\":\"16385.tar.zst\",\"tablespace\":\"16385\","
                                 "\"size\":77,\"raw_size\":10240,\"sha256\":\"" SHA_B "\"}\n"));
    assert_non_null(strstr(text, "\n{\"file\":\"pg_tblspc/16385\",\"tablespace\":null,\"type\":"
                                 "\"l\",\"size\":0,\"mtime\":1795255000,\"mode\":511,\"sha256\":"
                                 "null,\"backup\":\"" ID "\",\"archive\":null,\"target\":"
                                 "\"/srv/tbs \\\"one\\\"\"}\n"));
    const char *end = strstr(text, "{\"end\":true,\"archives\":2,\"files\":5,\"sha256\":\"");
    assert_non_null(end);
    assert_int_equal(strlen(end),
                     strlen("{\"end\":true,\"archives\":2,\"files\":5,\"sha256\":\"\"}\n") + 64);

    static const size_t chunks[] = {1, 7, 512, 1 << 20};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        got g = {0};
        assert_int_equal(read_text(b.data, b.len, chunks[c], &g), PC_OK);
        check_std(&g);
    }
    pc_buf_free(&b);
}

/* As stored: zstd-compressed, read back through the decompressor. */
static void test_round_trip_zstd(void **state)
{
    pc_buf z;
    pc_buf_init(&z, PC_BUF_NOCAP);
    pc_sink *mem, *c;
    cat_mfw *w;
    assert_int_equal(pc_sink_mem_new(&z, &mem), PC_OK);
    assert_int_equal(cmp_compress_new(CMP_ZSTD, CMP_LEVEL_DEFAULT, 1, mem, &c), PC_OK);
    assert_int_equal(cat_mfw_new(c, &HDR, &w), PC_OK);
    for (size_t i = 0; i < NARCH; i++)
        assert_int_equal(cat_mfw_archive(w, &ARCH[i]), PC_OK);
    for (size_t i = 0; i < NFILES; i++)
        assert_int_equal(cat_mfw_file(w, &FILES[i]), PC_OK);
    assert_int_equal(cat_mfw_finish(w), PC_OK);
    cat_mfw_free(w);
    assert_int_equal(z.data[0], 0x28); /* zstd frame magic 28 b5 2f fd */
    assert_int_equal(z.data[3], 0xfd);

    got g = {0};
    pc_sink *r, *d;
    assert_int_equal(cat_mf_reader_new(&HANDLER, &g, &r), PC_OK);
    assert_int_equal(cmp_decompress_new(CMP_ZSTD, 1 << 20, r, &d), PC_OK);
    assert_int_equal(pc_source_mem(z.data, z.len, d), PC_OK);
    pc_sink_free(d);
    check_std(&g);
    pc_buf_free(&z);
}

static void test_truncated_everywhere(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    write_std(&b);
    size_t nlines = 0;
    for (size_t len = 0; len < b.len; len++) {
        got g = {0};
        pc_err_clear();
        assert_int_equal(read_text(b.data, len, 13, &g), PC_E_CORRUPT);
        const char *m = pc_err_get()->message;
        if (len > 0 && b.data[len - 1] == '\n') {
            nlines++;
            char want[128];
            snprintf(want, sizeof want,
                     "pgcask manifest is truncated: it has no end line (%zu complete lines)",
                     nlines);
            assert_string_equal(m, want);
        } else if (len == 0) {
            assert_string_equal(m, "pgcask manifest is truncated: it has no end line (0 complete "
                                   "lines)");
        } else {
            char want[128];
            snprintf(want, sizeof want, "pgcask manifest is truncated: it stops inside line %zu",
                     nlines + 1);
            assert_string_equal(m, want);
        }
    }
    assert_int_equal(nlines, 1 + NARCH + NFILES);
    pc_buf_free(&b);
}

/* Replace the first occurrence of `from` in the buffer's text by `to`. */
static char *replaced(const pc_buf *b, const char *from, const char *to)
{
    const char *t = pc_buf_cstr(b);
    const char *at = strstr(t, from);
    assert_non_null(at);
    size_t n = strlen(t) - strlen(from) + strlen(to);
    char *r = malloc(n + 1);
    assert_non_null(r);
    size_t pre = (size_t)(at - t);
    memcpy(r, t, pre);
    strcpy(r + pre, to);
    strcat(r, at + strlen(from));
    return r;
}

static void test_changed_line(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    write_std(&b);
    /* a valid line with another size: only the digest can tell */
    char *t = replaced(&b, "\"size\":8192", "\"size\":8193");
    got g = {0};
    assert_int_equal(read_text(t, strlen(t), 64, &g), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "pgcask manifest is damaged: line 9: the digest of the lines does not "
                        "match the end line (a line was changed, added or removed)");
    free(t);
    /* a line removed: the counts differ */
    t = replaced(&b,
                 "{\"archive\":\"16385.tar.zst\",\"tablespace\":\"16385\",\"size\":77,"
                 "\"raw_size\":10240,\"sha256\":\"" SHA_B "\"}\n",
                 "");
    memset(&g, 0, sizeof g);
    assert_int_equal(read_text(t, strlen(t), 64, &g), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "pgcask manifest is damaged: line 8: the end line counts 2 archives and 5 "
                        "files, the manifest has 1 and 5");
    free(t);
    /* data after the end line */
    pc_buf_append_str(&b, "{}\n");
    memset(&g, 0, sizeof g);
    assert_int_equal(read_text(b.data, b.len, 64, &g), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "pgcask manifest is damaged: line 10: data after the end line");
    pc_buf_free(&b);
}

/* A callback's failure stops the read with its own status. */
static void test_callback_stops(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    write_std(&b);
    got g = {.fail_at_file = PC_E_IO};
    assert_int_equal(read_text(b.data, b.len, 4096, &g), PC_E_IO);
    assert_string_equal(pc_err_get()->message, "callback says stop");
    pc_buf_free(&b);
}

#define H1                                                                                         \
    "{\"pgcask_manifest\":1,\"backup_id\":\"" ID "\",\"type\":\"full\",\"parent_id\":null,"        \
    "\"server\":\"s\",\"system_id\":\"1\",\"pg_version\":150000,\"timeline\":1,"                   \
    "\"compression\":\"none\",\"created_at\":\"2026-11-21T10:00:00Z\"}\n"
#define FILE_OK(path)                                                                              \
    "{\"file\":" path ",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,\"mode\":384,"   \
    "\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":\"data.tar\",\"target\":null}\n"

/* Each hostile text fails at its bad line with this message, whatever the end line says. */
static void test_hostile_lines(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"not json\n", "pgcask manifest is damaged: line 1: invalid JSON in manifest line: "
                       "invalid token near 'not' at line 1 column 3"},
        {"[1,2]\n", "pgcask manifest is damaged: line 1: not a JSON object"},
        {FILE_OK("\"a\""), "pgcask manifest is damaged: line 1: the first line is not a pgcask "
                           "manifest header"},
        {"{\"pgcask_manifest\":2}\n",
         "pgcask manifest format 2 is not supported (this pgcask reads 1)"},
        {"{\"pgcask_manifest\":\"1\"}\n",
         "pgcask manifest is damaged: line 1: key \"pgcask_manifest\" is not an integer"},
        {"{\"pgcask_manifest\":1,\"backup_id\":\"latest\",\"type\":\"full\",\"parent_id\":null,"
         "\"server\":\"s\",\"system_id\":\"1\",\"pg_version\":1,\"timeline\":1,\"compression\":"
         "\"none\",\"created_at\":\"2026-11-21T10:00:00Z\"}\n",
         "pgcask manifest is damaged: line 1: manifest header backup_id: is not a backup id "
         "(YYYYMMDDTHHMMSS): \"latest\""},
        {"{\"pgcask_manifest\":1,\"backup_id\":\"" ID "\",\"type\":\"incr\",\"parent_id\":null,"
         "\"server\":\"s\",\"system_id\":\"1\",\"pg_version\":1,\"timeline\":1,\"compression\":"
         "\"none\",\"created_at\":\"2026-11-21T10:00:00Z\"}\n",
         "pgcask manifest is damaged: line 1: manifest header: a diff or incr backup needs a "
         "parent_id"},
        {"{\"pgcask_manifest\":1,\"backup_id\":\"" ID "\",\"type\":\"full\",\"parent_id\":null,"
         "\"server\":\"s\",\"system_id\":\"1\",\"pg_version\":1,\"timeline\":0,\"compression\":"
         "\"none\",\"created_at\":\"2026-11-21T10:00:00Z\"}\n",
         "pgcask manifest is damaged: line 1: key \"timeline\" is out of range"},
        {"{\"pgcask_manifest\":1,\"backup_id\":\"" ID "\",\"type\":\"full\",\"parent_id\":null,"
         "\"server\":\"s\",\"system_id\":\"1\",\"pg_version\":1,\"timeline\":1,\"compression\":"
         "\"none\",\"created_at\":\"yesterday\\n\"}\n",
         "pgcask manifest is damaged: line 1: created_at \"yesterday\\x0a\" is not a time"},
        {H1 FILE_OK("\"/etc/passwd\""),
         "pgcask manifest is damaged: line 2: manifest file path: is not a normalised relative "
         "path: \"/etc/passwd\""},
        {H1 FILE_OK("\"base/../../x\""),
         "pgcask manifest is damaged: line 2: manifest file path: is not a normalised relative "
         "path: \"base/../../x\""},
        {H1 FILE_OK("\"./base/1\""),
         "pgcask manifest is damaged: line 2: manifest file path: is not a normalised relative "
         "path: \"./base/1\""},
        {H1 FILE_OK("\".\""), "pgcask manifest is damaged: line 2: manifest file path: is not a "
                              "normalised relative path: \".\""},
        {H1 FILE_OK("\"a\\nb\""), "pgcask manifest is damaged: line 2: manifest file path: holds "
                                  "a control character: \"a\\x0ab\""},
        {H1 FILE_OK("\"a\\u0000b\""),
         "pgcask manifest is damaged: line 2: invalid JSON in manifest line: \\u0000 is not "
         "allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"' at line 1 column 18"},
        {H1 "{\"file\":\"a\x1b[2J\",\"file\":\"b\"}\n",
         "pgcask manifest is damaged: line 2: invalid JSON in manifest line: control character "
         "0x1b near '\"a' at line 1 column 10"},
        {H1 "{\"file\x01\":1}\n",
         "pgcask manifest is damaged: line 2: invalid JSON in manifest line: control character "
         "0x1 near '\"file' at line 1 column 6"},
        {H1 FILE_OK("\"\""), "pgcask manifest is damaged: line 2: manifest file path: is empty"},
        {H1 FILE_OK("7"), "pgcask manifest is damaged: line 2: key \"file\" is not a string"},
        {H1 "{\"file\":\"a\",\"tablespace\":\"0x10\",\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":\"d.tar\","
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file tablespace: is not a tablespace OID: "
         "\"0x10\""},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"x\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":\"d.tar\","
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file: type is not f, d or l"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":-1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":\"d.tar\","
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: key \"size\" is out of range"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":4096,\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":\"d.tar\","
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: key \"mode\" is out of range"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"ABC\",\"backup\":\"" ID "\",\"archive\":\"d.tar\","
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file sha256: is not 64 lower-case hex "
         "digits: \"ABC\""},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":null,\"backup\":\"" ID "\",\"archive\":\"d.tar\","
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file sha256: is missing"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"d\",\"size\":0,\"mtime\":1,"
            "\"mode\":448,\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":null,"
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file: only regular files have a sha256: "
         "\"a\""},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":\"../x\","
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file archive: is not a plain file name: "
         "\"../x\""},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"l\",\"size\":0,\"mtime\":1,"
            "\"mode\":511,\"sha256\":null,\"backup\":\"" ID "\",\"archive\":null,"
            "\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file target: is missing"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"backup\":\"" ID "\",\"archive\":\"d.tar\"}\n",
         "pgcask manifest is damaged: line 2: key \"target\" is missing"},
        {H1 "{\"archive\":\"x/y.tar\",\"tablespace\":null,\"size\":1,\"raw_size\":1,"
            "\"sha256\":\"" SHA_A "\"}\n",
         "pgcask manifest is damaged: line 2: manifest archive archive: is not a plain file name: "
         "\"x/y.tar\""},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"crc32c\":\"0x123456\",\"backup\":\"" ID
            "\",\"archive\":\"d.tar\",\"target\":null}\n",
         "pgcask manifest is damaged: line 2: key \"crc32c\" is not 8 hexadecimal digits"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"crc32c\":\"123456789\",\"backup\":\"" ID
            "\",\"archive\":\"d.tar\",\"target\":null}\n",
         "pgcask manifest is damaged: line 2: key \"crc32c\" is not 8 hexadecimal digits"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"f\",\"size\":1,\"mtime\":1,"
            "\"mode\":384,\"sha256\":\"" SHA_A "\",\"crc32c\":12345678,\"backup\":\"" ID
            "\",\"archive\":\"d.tar\",\"target\":null}\n",
         "pgcask manifest is damaged: line 2: key \"crc32c\" is not 8 hexadecimal digits"},
        {H1 "{\"file\":\"a\",\"tablespace\":null,\"type\":\"d\",\"size\":0,\"mtime\":1,"
            "\"mode\":448,\"sha256\":null,\"crc32c\":\"0000abcd\",\"backup\":\"" ID
            "\",\"archive\":null,\"target\":null}\n",
         "pgcask manifest is damaged: line 2: manifest file: only regular files have a crc32c: "
         "\"a\""},
        {H1 "{\"what\":1}\n", "pgcask manifest is damaged: line 2: unknown line kind"},
        {H1 "{\"end\":false}\n", "pgcask manifest is damaged: line 2: key \"end\" is not true"},
        {H1 "{\"file\":\"a\",\"file\":\"b\"}\n",
         "pgcask manifest is damaged: line 2: invalid JSON in manifest line: duplicate object key "
         "near '\"file\"' at line 1 column 18"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        got g = {0};
        pc_err_clear();
        pc_status st = read_text(cases[i].text, strlen(cases[i].text), 5, &g);
        if (st != PC_E_CORRUPT || strcmp(pc_err_get()->message, cases[i].msg) != 0)
            fail_msg("case %zu: status %d, message:\n  %s\nwanted:\n  %s", i, st,
                     pc_err_get()->message, cases[i].msg);
        assert_int_equal(g.nfiles, 0);
    }
}

static void test_long_line(void **state)
{
    size_t n = 70 * 1024;
    char *t = malloc(n + 2);
    assert_non_null(t);
    memset(t, ' ', n);
    t[n] = '\n';
    got g = {0};
    assert_int_equal(read_text(t, n + 1, 4096, &g), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "pgcask manifest is damaged: line 1 is longer than 65536 bytes");
    free(t);
}

/* The writer refuses what a reader would refuse, and aborts its sink when freed unfinished. */
static void test_writer_checks(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_sink *mem;
    cat_mfw *w;

    cat_mf_header h = HDR;
    h.type = "weekly";
    assert_int_equal(pc_sink_mem_new(&b, &mem), PC_OK);
    assert_int_equal(cat_mfw_new(mem, &h, &w), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "manifest header type: is not full, diff or incr: \"weekly\"");

    assert_int_equal(pc_sink_mem_new(&b, &mem), PC_OK);
    assert_int_equal(cat_mfw_new(mem, &HDR, &w), PC_OK);
    cat_mf_file f = FILES[0];
    f.path = "base/\x01x";
    assert_int_equal(cat_mfw_file(w, &f), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "manifest file path: holds a control character: \"base/\\x01x\"");
    f.path = "caf\xe9";
    assert_int_equal(cat_mfw_file(w, &f), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "manifest file path: is not valid UTF-8: \"caf\xe9\"");
    f = FILES[1];
    f.archive = "data.tar";
    assert_int_equal(cat_mfw_file(w, &f), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "manifest file: only regular files are in an archive: \"base\"");
    cat_mf_archive a = ARCH[0];
    a.sha256 = NULL;
    assert_int_equal(cat_mfw_archive(w, &a), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message, "manifest archive sha256: is missing");
    /* refused entries were not written; good ones still are */
    assert_int_equal(cat_mfw_file(w, &FILES[0]), PC_OK);
    assert_int_equal(cat_mfw_finish(w), PC_OK);
    cat_mfw_free(w);
    got g = {0};
    assert_int_equal(read_text(b.data, b.len, 100, &g), PC_OK);
    assert_int_equal(g.nfiles, 1);
    assert_int_equal(g.narch, 0);
    pc_buf_free(&b);
    cat_mfw_free(NULL);
}

static void test_index(void **state)
{
    cat_mf_index *ix;
    assert_int_equal(cat_mf_index_new(&ix), PC_OK);
    for (size_t i = 0; i < NFILES; i++)
        assert_int_equal(cat_mf_index_add(ix, &FILES[i]), PC_OK);
    assert_int_equal(cat_mf_index_count(ix), NFILES);
    /* same path in another tablespace is another file */
    cat_mf_file f = FILES[0];
    f.tablespace = "16385";
    assert_int_equal(cat_mf_index_add(ix, &f), PC_OK);
    /* a duplicate is refused, naming it */
    assert_int_equal(cat_mf_index_add(ix, &FILES[3]), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "manifest lists \"PG_15_202209061/5/16390\" of tablespace 16385 twice");
    assert_int_equal(cat_mf_index_add(ix, &FILES[0]), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "manifest lists \"base/1/1259\" twice");
    assert_int_equal(cat_mf_index_count(ix), NFILES + 1);

    const cat_mf_file *e = cat_mf_index_find(ix, NULL, "base/1/1259");
    assert_non_null(e);
    assert_null(e->tablespace);
    assert_ptr_equal(e, cat_mf_index_at(ix, 0));
    assert_ptr_not_equal(e->path, FILES[0].path); /* copied */
    const cat_mf_file *t = cat_mf_index_find(ix, "16385", "base/1/1259");
    assert_non_null(t);
    assert_string_equal(t->tablespace, "16385");
    assert_null(cat_mf_index_find(ix, "16385", "base"));
    assert_null(cat_mf_index_find(ix, "1638", "PG_15_202209061/5/16390"));
    assert_null(cat_mf_index_find(ix, NULL, "base/1/125"));
    const cat_mf_file *l = cat_mf_index_find(ix, NULL, "pg_tblspc/16385");
    assert_string_equal(l->target, "/srv/tbs \"one\"");
    assert_null(cat_mf_index_at(ix, NFILES + 1));

    assert_false(cat_mf_index_marked(ix, e));
    assert_true(cat_mf_index_mark(ix, e));
    assert_false(cat_mf_index_mark(ix, e));
    assert_true(cat_mf_index_marked(ix, e));
    assert_false(cat_mf_index_marked(ix, t));

    /* growth keeps entries where they were and findable */
    char p[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(p, sizeof p, "base/16384/%d", i);
        f = FILES[0];
        f.path = p;
        assert_int_equal(cat_mf_index_add(ix, &f), PC_OK);
    }
    assert_ptr_equal(cat_mf_index_find(ix, NULL, "base/1/1259"), e);
    assert_true(cat_mf_index_marked(ix, e));
    const cat_mf_file *x = cat_mf_index_find(ix, NULL, "base/16384/12345");
    assert_non_null(x);
    assert_string_equal(x->path, "base/16384/12345");
    assert_ptr_equal(x, cat_mf_index_at(ix, NFILES + 1 + 12345));
    assert_int_equal(cat_mf_index_count(ix), NFILES + 1 + 20000);

    /* the index refuses hostile entries too */
    f = FILES[0];
    f.path = "../x";
    assert_int_equal(cat_mf_index_add(ix, &f), PC_E_CORRUPT);
    cat_mf_index_free(ix);
    cat_mf_index_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_zstd),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_changed_line),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_hostile_lines),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_writer_checks),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
