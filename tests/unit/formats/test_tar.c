/*
 * Tar writer and reader: output checked with GNU tar and Python's tarfile
 * (what barman-cloud-restore uses), GNU tar's gnu/posix/ustar/v7 outputs
 * and Python's pax output parsed by the reader in chunks of any size, and
 * the reader's answers to damaged and hostile streams.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/tar.h"

static char scratch[1024];

static int setup(void **state)
{
    const char *base = getenv("PGCASK_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    snprintf(scratch, sizeof scratch, "%s/formats_tar.XXXXXX", base);
    return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
    return pc_remove_tree(scratch) == PC_OK ? 0 : -1;
}

static char *path(const char *rel)
{
    static char buf[8][4096];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, 4096, "%s/%s", scratch, rel);
    return p;
}

/* Run a shell command; its stdout into out (when not NULL); returns the exit status. */
static int run(const char *cmd, pc_buf *out)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (out)
            assert_int_equal(pc_buf_append(out, chunk, n), PC_OK);
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_python(void)
{
    return run("/usr/bin/python3 -c 'import tarfile' 2>/dev/null", NULL) == 0;
}

static void write_file(const char *p, const void *data, size_t len)
{
    assert_int_equal(pc_write_file_atomic(p, data, len, 0644), PC_OK);
}

/* ---- collecting handler ---- */

typedef struct got_entry {
    char *name, *link;
    pc_tar_type type;
    char typeflag;
    uint32_t mode;
    int64_t uid, gid, mtime;
    uint64_t size;
    pc_buf content;
} got_entry;

typedef struct collector {
    got_entry e[64];
    size_t n;
    int ends;
    bool want_content;
    pc_status fail_with; /* returned by the handler for the entry named fail_on */
    const char *fail_on;
} collector;

static pc_status on_entry(void *ud, const pc_tar_entry *e, pc_sink **content)
{
    collector *c = ud;
    assert_true(c->n < 64);
    assert_true((content != NULL) == (e->type == PC_TAR_FILE));
    got_entry *g = &c->e[c->n++];
    g->name = strdup(e->name);
    g->link = strdup(e->linkname);
    g->type = e->type;
    g->typeflag = e->typeflag;
    g->mode = e->mode;
    g->uid = e->uid;
    g->gid = e->gid;
    g->mtime = e->mtime;
    g->size = e->size;
    pc_buf_init(&g->content, PC_BUF_NOCAP);
    if (c->fail_on && strcmp(c->fail_on, e->name) == 0)
        return pc_err(c->fail_with, "handler refuses \"%s\"", e->name);
    if (content && c->want_content)
        return pc_sink_mem_new(&g->content, content);
    return PC_OK;
}

static pc_status on_end(void *ud)
{
    ((collector *)ud)->ends++;
    return PC_OK;
}

static const pc_tar_handler handler = {.entry = on_entry, .end = on_end};

static void collector_free(collector *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].name);
        free(c->e[i].link);
        pc_buf_free(&c->e[i].content);
    }
    memset(c, 0, sizeof *c);
}

/* Parse data in chunks of `chunk` bytes; returns the status of the writes or the finish. */
static pc_status parse(const void *data, size_t len, size_t chunk, bool lenient, collector *c)
{
    pc_sink *r;
    assert_int_equal(pc_tar_reader_new(&handler, c, &r), PC_OK);
    pc_tar_reader_set_lenient_end(r, lenient);
    pc_status st = PC_OK;
    const unsigned char *p = data;
    for (size_t off = 0; !st && off < len; off += chunk)
        st = pc_sink_write(r, p + off, len - off < chunk ? len - off : chunk);
    if (!st)
        st = pc_sink_finish(r);
    pc_sink_free(r);
    return st;
}

static const got_entry *find(const collector *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].name, name) == 0)
            return &c->e[i];
    fail_msg("no entry \"%s\"", name);
    static const got_entry none;
    return &none;
}

/* ---- the archive the writer tests build ---- */

typedef struct spec {
    const char *name; /* as given to the writer */
    char kind;        /* 'd' dir, 'f' file, 'l' symlink */
    size_t size;
    uint32_t mode;
    int64_t mtime;
    const char *target;
} spec;

static char long101[128], long200[256], long300[400], longdir[200], longtarget[200];

static void make_long_names(void)
{
    /* 101 chars: does not fit the name field, splits at "dir/" into the prefix */
    snprintf(long101, sizeof long101, "dir/%097d", 1);
    /* 200 chars: prefix of 150 + name of 49 */
    snprintf(long200, sizeof long200, "%0150d/%049d", 2, 3);
    /* 300 chars: needs a pax path */
    snprintf(long300, sizeof long300, "%0150d/%0149d", 4, 5);
    snprintf(longdir, sizeof longdir, "%0120d/%040d", 6, 7);
    snprintf(longtarget, sizeof longtarget, "/var/lib/postgresql/%0140d", 8);
}

static spec specs[] = {
    {".", 'd', 0, 0700, 1700000000, NULL},
    {"base", 'd', 0, 0700, 1700000001, NULL},
    {"base/empty", 'f', 0, 0600, 1700000002, NULL},
    {"PG_VERSION", 'f', 3, 0600, 1700000003, NULL},
    {"f511", 'f', 511, 0640, 1700000004, NULL},
    {"f512", 'f', 512, 0644, 1700000005, NULL},
    {"f513", 'f', 513, 0600, 1700000006, NULL},
    {"base/1/big", 'f', 100000, 0600, 1700000007, NULL},
    {"99chars", 'f', 10, 0600, 1700000008, NULL},
    {NULL, 'f', 11, 0600, 1700000009, NULL}, /* long101 */
    {NULL, 'f', 12, 0600, 1700000010, NULL}, /* long200 */
    {NULL, 'f', 13, 0600, 1700000011, NULL}, /* long300 */
    {NULL, 'd', 0, 0755, 1700000012, NULL},  /* longdir */
    {"donn\xc3\xa9\x65s/\xc3\xa9t\xc3\xa9.txt", 'f', 14, 0600, 1700000013, NULL},
    {"pg_tblspc/16385", 'l', 0, 0777, 1700000014, "/srv/tbs1"},
    {"pg_tblspc/16386", 'l', 0, 0777, 1700000015, NULL}, /* longtarget */
    {"future", 'f', 1, 0600, 8589934592LL, NULL},        /* mtime past 11 octal digits */
};
#define NSPECS (sizeof specs / sizeof specs[0])

static void fill_specs(void)
{
    make_long_names();
    static char name99[100];
    memset(name99, 'n', 99);
    name99[99] = '\0';
    specs[8].name = name99;
    specs[9].name = long101;
    specs[10].name = long200;
    specs[11].name = long300;
    specs[12].name = longdir;
    specs[15].target = longtarget;
}

static unsigned char content_byte(size_t i, size_t k)
{
    return (unsigned char)((k * 31 + i * 7) % 251);
}

/* The member name readers report: directories with a trailing slash. */
static void listed_name(const spec *s, char *out, size_t len)
{
    snprintf(out, len, "%s%s", s->name, s->kind == 'd' ? "/" : "");
}

/* Write the archive of specs into sink; the writer uses uid/gid 26 after the first three. */
static pc_status write_specs(pc_sink *sink, uint64_t *bytes)
{
    pc_tarw *w;
    pc_status st = pc_tarw_new(sink, &w);
    if (st)
        return st;
    for (size_t k = 0; !st && k < NSPECS; k++) {
        const spec *s = &specs[k];
        if (k == 3)
            pc_tarw_set_owner(w, 26, 26);
        if (s->kind == 'd') {
            st = pc_tarw_add_dir(w, s->name, s->mode, s->mtime);
        } else if (s->kind == 'l') {
            st = pc_tarw_add_symlink(w, s->name, s->target, s->mtime);
        } else {
            st = pc_tarw_file_begin(w, s->name, s->size, s->mode, s->mtime);
            /* written in uneven pieces */
            unsigned char piece[777];
            for (size_t off = 0; !st && off < s->size; off += sizeof piece) {
                size_t n = s->size - off < sizeof piece ? s->size - off : sizeof piece;
                for (size_t i = 0; i < n; i++)
                    piece[i] = content_byte(off + i, k);
                st = pc_tarw_file_write(w, piece, n);
            }
            if (!st)
                st = pc_tarw_file_end(w);
        }
    }
    if (!st)
        st = pc_tarw_finish(w);
    if (bytes)
        *bytes = pc_tarw_bytes(w);
    pc_tarw_free(w);
    return st;
}

static void check_collected(const collector *c)
{
    assert_int_equal(c->n, NSPECS);
    assert_int_equal(c->ends, 1);
    for (size_t k = 0; k < NSPECS; k++) {
        const spec *s = &specs[k];
        const got_entry *g = &c->e[k];
        char want[512];
        listed_name(s, want, sizeof want);
        assert_string_equal(g->name, want);
        assert_int_equal(g->mode, s->mode);
        assert_int_equal(g->mtime, s->mtime);
        assert_int_equal(g->uid, k >= 3 ? 26 : 0);
        assert_int_equal(g->gid, k >= 3 ? 26 : 0);
        switch (s->kind) {
        case 'd':
            assert_int_equal(g->type, PC_TAR_DIR);
            break;
        case 'l':
            assert_int_equal(g->type, PC_TAR_SYMLINK);
            assert_string_equal(g->link, s->target);
            break;
        default:
            assert_int_equal(g->type, PC_TAR_FILE);
            assert_int_equal(g->size, s->size);
            assert_int_equal(g->content.len, s->size);
            for (size_t i = 0; i < s->size; i++)
                if (g->content.data[i] != content_byte(i, k))
                    fail_msg("%s: byte %zu differs", s->name, i);
        }
    }
}

static void test_writer_roundtrip(void **state)
{
    fill_specs();
    pc_buf tar;
    pc_sink *mem;
    pc_buf_init(&tar, PC_BUF_NOCAP);
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    uint64_t bytes;
    assert_int_equal(write_specs(mem, &bytes), PC_OK);
    assert_int_equal(bytes, tar.len);
    assert_int_equal(tar.len % 512, 0);
    /* ends with the two zero blocks */
    for (size_t i = tar.len - 1024; i < tar.len; i++)
        assert_int_equal(tar.data[i], 0);

    static const size_t chunks[] = {1, 3, 511, 512, 513, 4096, SIZE_MAX};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        collector c = {.want_content = true};
        assert_int_equal(parse(tar.data, tar.len, chunks[i], false, &c), PC_OK);
        check_collected(&c);
        collector_free(&c);
    }
    /* content left unread is skipped */
    collector c = {.want_content = false};
    assert_int_equal(parse(tar.data, tar.len, 1000, false, &c), PC_OK);
    assert_int_equal(c.n, NSPECS);
    collector_free(&c);
    pc_buf_free(&tar);
}

static void test_writer_gnu_tar(void **state)
{
    fill_specs();
    pc_sink *file;
    assert_int_equal(pc_sink_file_new(path("w.tar"), 0600, PC_FILE_NOSYNC, &file), PC_OK);
    assert_int_equal(write_specs(file, NULL), PC_OK);

    /* the listing, in order */
    pc_buf out, want;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_buf_init(&want, PC_BUF_NOCAP);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "tar --quoting-style=literal -tf '%s'", path("w.tar"));
    assert_int_equal(run(cmd, &out), 0);
    for (size_t k = 0; k < NSPECS; k++) {
        char n[512];
        listed_name(&specs[k], n, sizeof n);
        pc_buf_printf(&want, "%s\n", n);
    }
    assert_string_equal(pc_buf_cstr(&out), pc_buf_cstr(&want));

    /* extraction: every byte and link target as written */
    assert_int_equal(pc_mkdirs(path("x"), 0700), PC_OK);
    snprintf(cmd, sizeof cmd, "tar -xf '%s' -C '%s' 2>&1", path("w.tar"), path("x"));
    pc_buf_reset(&out);
    int rc = run(cmd, &out);
    if (rc != 0)
        fail_msg("tar -x failed: %s", pc_buf_cstr(&out));
    for (size_t k = 0; k < NSPECS; k++) {
        const spec *s = &specs[k];
        char rel[600];
        snprintf(rel, sizeof rel, "x/%s", s->name);
        struct stat sb;
        assert_int_equal(lstat(path(rel), &sb), 0);
        if (s->kind == 'd') {
            assert_true(S_ISDIR(sb.st_mode));
        } else if (s->kind == 'l') {
            char target[512];
            ssize_t n = readlink(path(rel), target, sizeof target - 1);
            assert_true(n > 0);
            target[n] = '\0';
            assert_string_equal(target, s->target);
        } else {
            pc_buf data;
            pc_buf_init(&data, PC_BUF_NOCAP);
            assert_int_equal(pc_read_file(path(rel), 1 << 20, &data), PC_OK);
            assert_int_equal(data.len, s->size);
            for (size_t i = 0; i < s->size; i++)
                assert_int_equal(data.data[i], content_byte(i, k));
            assert_int_equal(sb.st_mode & 07777, s->mode);
            pc_buf_free(&data);
        }
    }
    pc_buf_free(&out);
    pc_buf_free(&want);
}

static void test_writer_python(void **state)
{
    if (!have_python())
        skip();
    fill_specs();
    pc_sink *file;
    assert_int_equal(pc_sink_file_new(path("p.tar"), 0600, PC_FILE_NOSYNC, &file), PC_OK);
    assert_int_equal(write_specs(file, NULL), PC_OK);

    pc_buf out, want;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_buf_init(&want, PC_BUF_NOCAP);
    char cmd[8192];
    /* what barman-cloud-restore sees: tarfile.open + iteration + extractfile */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '"
             "import tarfile, hashlib, sys\n"
             "t = tarfile.open(sys.argv[1])\n"
             "for m in t:\n"
             "    d = t.extractfile(m).read() if m.isreg() else b\"\"\n"
             "    sys.stdout.buffer.write((\"%%s|%%s|%%d|%%o|%%d|%%d|%%d|%%s|%%s\\n\" %% (m.name, "
             "m.type.decode(), m.size, m.mode, m.uid, m.gid, int(m.mtime), m.linkname, "
             "hashlib.sha256(d).hexdigest()[:16])).encode(\"utf-8\", \"surrogateescape\"))\n"
             "' '%s'",
             path("p.tar"));
    assert_int_equal(run(cmd, &out), 0);
    for (size_t k = 0; k < NSPECS; k++) {
        const spec *s = &specs[k];
        unsigned char data[100000];
        for (size_t i = 0; i < s->size; i++)
            data[i] = content_byte(i, k);
        unsigned char digest[32];
        char hex[65];
        pc_sha256(data, s->kind == 'f' ? s->size : 0, digest);
        pc_hex(digest, 8, hex);
        /* Python strips the trailing slash of directory names */
        pc_buf_printf(&want, "%s|%c|%zu|%o|%d|%d|%lld|%s|%s\n", s->name,
                      s->kind == 'd'   ? '5'
                      : s->kind == 'l' ? '2'
                                       : '0',
                      s->size, s->mode, k >= 3 ? 26 : 0, k >= 3 ? 26 : 0, (long long)s->mtime,
                      s->target ? s->target : "", hex);
    }
    assert_string_equal(pc_buf_cstr(&out), pc_buf_cstr(&want));
    pc_buf_free(&out);
    pc_buf_free(&want);
}

/* ---- big member: a sparse file sink so 8 GiB cost no disk ---- */

typedef struct sparse_sink {
    pc_sink base;
    int fd;
    off_t off;
} sparse_sink;

static pc_status sparse_write(pc_sink *s, const void *data, size_t len)
{
    sparse_sink *f = (sparse_sink *)s;
    static const unsigned char z[4096];
    const unsigned char *p = data;
    bool zero = true;
    for (size_t i = 0; i < len && zero; i += sizeof z)
        zero = memcmp(p + i, z, len - i < sizeof z ? len - i : sizeof z) == 0;
    if (!zero && pwrite(f->fd, data, len, f->off) != (ssize_t)len)
        return pc_err(PC_E_IO, "pwrite: %m");
    f->off += (off_t)len;
    return PC_OK;
}

static pc_status sparse_finish(pc_sink *s)
{
    sparse_sink *f = (sparse_sink *)s;
    return ftruncate(f->fd, f->off) == 0 ? PC_OK : pc_err(PC_E_IO, "ftruncate: %m");
}

static void sparse_destroy(pc_sink *s)
{
    close(((sparse_sink *)s)->fd);
    free(s);
}

static const pc_sink_ops sparse_ops = {
    .name = "sparse", .write = sparse_write, .finish = sparse_finish, .destroy = sparse_destroy};

static void test_writer_8gib(void **state)
{
    const uint64_t big = ((uint64_t)8 << 30) + 1;
    sparse_sink *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->fd = open(path("big.tar"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(f->fd >= 0);
    pc_sink_init(&f->base, &sparse_ops, NULL);
    pc_tarw *w;
    assert_int_equal(pc_tarw_new(&f->base, &w), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "base/huge", big, 0600, 1700000000), PC_OK);
    assert_int_equal(pc_tarw_file_write(w, "head", 4), PC_OK);
    assert_int_equal(pc_tarw_file_remaining(w), big - 4);
    assert_int_equal(pc_tarw_file_pad(w), PC_OK);
    assert_int_equal(pc_tarw_file_remaining(w), 0);
    assert_int_equal(pc_tarw_file_end(w), PC_OK);
    assert_int_equal(pc_tarw_finish(w), PC_OK);
    /* pax header + records + ustar header + content rounded up + end marker */
    assert_int_equal(pc_tarw_bytes(w), 512 + 512 + 512 + (big + 511) / 512 * 512 + 1024);
    pc_tarw_free(w);

    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "tar -tvf '%s' | awk '{print $3, $6}'", path("big.tar"));
    assert_int_equal(run(cmd, &out), 0);
    assert_string_equal(pc_buf_cstr(&out), "8589934593 base/huge\n");
    if (have_python()) {
        pc_buf_reset(&out);
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import tarfile,sys; m = tarfile.open(sys.argv[1]).next(); "
                 "print(m.name, m.size, tarfile.open(sys.argv[1]).extractfile(m).read(5))' '%s'",
                 path("big.tar"));
        assert_int_equal(run(cmd, &out), 0);
        assert_string_equal(pc_buf_cstr(&out), "base/huge 8589934593 b'head\\x00'\n");
    }

    /* the reader sees the size from the pax record (headers only) */
    int fd = open(path("big.tar"), O_RDONLY);
    unsigned char hdr[1536 + 4];
    assert_int_equal(read(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    close(fd);
    collector c = {.want_content = true};
    pc_sink *r;
    assert_int_equal(pc_tar_reader_new(&handler, &c, &r), PC_OK);
    assert_int_equal(pc_sink_write(r, hdr, sizeof hdr), PC_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.e[0].size, big);
    assert_string_equal((const char *)c.e[0].content.data, "head");
    assert_int_equal(pc_sink_finish(r), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message,
                           "truncated tar: the stream ends inside member \"base/huge\""));
    pc_sink_free(r);
    collector_free(&c);
    pc_buf_free(&out);
    unlink(path("big.tar"));
}

/* ---- writer misuse ---- */

static void test_writer_errors(void **state)
{
    pc_buf tar;
    pc_sink *mem;
    pc_tarw *w;
    pc_buf_init(&tar, PC_BUF_NOCAP);

    /* more bytes than declared */
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "a", 3, 0600, 0), PC_OK);
    assert_int_equal(pc_tarw_bytes(w), 512);
    assert_int_equal(pc_tarw_file_write(w, "abcd", 4), PC_E_INTERNAL);
    assert_non_null(strstr(pc_err_get()->message, "more data for \"a\" than its declared size"));
    /* the writer stays failed */
    assert_int_equal(pc_tarw_file_write(w, "a", 1), PC_E_INTERNAL);
    assert_int_equal(pc_tarw_finish(w), PC_E_INTERNAL);
    pc_tarw_free(w);

    /* fewer bytes than declared */
    pc_buf_reset(&tar);
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "short", 10, 0600, 0), PC_OK);
    assert_int_equal(pc_tarw_file_write(w, "abc", 3), PC_OK);
    assert_int_equal(pc_tarw_file_end(w), PC_E_INTERNAL);
    assert_string_equal(pc_err_get()->message,
                        "tar writer: member \"short\" ended 7 bytes short of its declared size");
    pc_tarw_free(w);

    /* an entry while a file is open; a write without one; empty names */
    pc_buf_reset(&tar);
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_file_write(w, "x", 1), PC_E_INTERNAL);
    pc_tarw_free(w);
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "open", 1, 0600, 0), PC_OK);
    assert_int_equal(pc_tarw_add_dir(w, "d", 0700, 0), PC_E_INTERNAL);
    assert_non_null(strstr(pc_err_get()->message, "while member \"open\" is open"));
    pc_tarw_free(w);
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "", 0, 0600, 0), PC_E_INTERNAL);
    pc_tarw_free(w);
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_add_symlink(w, "l", "", 0), PC_E_INTERNAL);
    pc_tarw_free(w);

    /* raw bytes that do not end on a block boundary */
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_append_raw(w, "xyz", 3), PC_OK);
    assert_int_equal(pc_tarw_finish(w), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "raw tar data ends inside a 512-byte block"));
    pc_tarw_free(w);

    /* after abort */
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    pc_tarw_abort(w);
    assert_int_equal(pc_tarw_add_dir(w, "d", 0700, 0), PC_E_INTERNAL);
    pc_tarw_free(w);

    /* a failing next: the error comes back and sticks */
    pc_sink *lim;
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_sink_limit_new(1000, mem, &lim), PC_OK);
    assert_int_equal(pc_tarw_new(lim, &w), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "f", 2000, 0600, 0), PC_OK);
    assert_int_equal(pc_tarw_file_pad(w), PC_E_CORRUPT);
    assert_int_equal(pc_tarw_file_end(w), PC_E_CORRUPT);
    pc_tarw_free(w);

    /* free(NULL) */
    pc_tarw_free(NULL);
    pc_buf_free(&tar);
}

/* Raw member bytes (a BASE_BACKUP tar without its end marker) followed by more members. */
static void test_writer_append_raw(void **state)
{
    pc_buf first, tar;
    pc_sink *mem;
    pc_tarw *w;
    pc_buf_init(&first, PC_BUF_NOCAP);
    pc_buf_init(&tar, PC_BUF_NOCAP);
    assert_int_equal(pc_sink_mem_new(&first, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    assert_int_equal(pc_tarw_add_dir(w, "global", 0700, 1), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "global/pg_control", 5, 0600, 2), PC_OK);
    assert_int_equal(pc_tarw_file_write(w, "ctrl!", 5), PC_OK);
    assert_int_equal(pc_tarw_file_end(w), PC_OK);
    assert_int_equal(pc_tarw_finish(w), PC_OK);
    pc_tarw_free(w);

    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    /* the stream arrives in odd pieces; only its end must be aligned */
    size_t body = first.len - 1024;
    assert_int_equal(pc_tarw_append_raw(w, first.data, 100), PC_OK);
    assert_int_equal(pc_tarw_append_raw(w, first.data + 100, body - 100), PC_OK);
    assert_int_equal(pc_tarw_file_begin(w, "backup_label", 6, 0600, 3), PC_OK);
    assert_int_equal(pc_tarw_file_write(w, "label\n", 6), PC_OK);
    assert_int_equal(pc_tarw_file_end(w), PC_OK);
    assert_int_equal(pc_tarw_append_raw(w, "", 0), PC_OK);
    assert_int_equal(pc_tarw_finish(w), PC_OK);
    assert_int_equal(pc_tarw_append_raw(w, "x", 1), PC_E_INTERNAL);
    pc_tarw_free(w);

    collector c = {.want_content = true};
    assert_int_equal(parse(tar.data, tar.len, 700, false, &c), PC_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.e[0].name, "global/");
    assert_string_equal(c.e[1].name, "global/pg_control");
    assert_string_equal((const char *)c.e[1].content.data, "ctrl!");
    assert_string_equal(c.e[2].name, "backup_label");
    assert_string_equal((const char *)c.e[2].content.data, "label\n");
    collector_free(&c);

    write_file(path("raw.tar"), tar.data, tar.len);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "tar -tf '%s'", path("raw.tar"));
    assert_int_equal(run(cmd, &out), 0);
    assert_string_equal(pc_buf_cstr(&out), "global/\nglobal/pg_control\nbackup_label\n");
    pc_buf_free(&out);
    pc_buf_free(&first);
    pc_buf_free(&tar);
}

/* ---- reading what GNU tar and Python write ---- */

static void make_tree(void)
{
    assert_int_equal(pc_mkdirs(path("src/base/16384"), 0700), PC_OK);
    char deep[300];
    snprintf(deep, sizeof deep, "src/%060d/%060d", 1, 2);
    assert_int_equal(pc_mkdirs(path(deep), 0700), PC_OK);
    char rel[400];
    snprintf(rel, sizeof rel, "%s/file_with_a_long_name_%030d", deep, 3);
    write_file(path(rel), "deep content\n", 13);
    write_file(path("src/PG_VERSION"), "16\n", 3);
    unsigned char blob[70000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (unsigned char)(i * 13);
    write_file(path("src/base/16384/1259"), blob, sizeof blob);
    write_file(path("src/base/16384/empty"), "", 0);
    char target[200];
    snprintf(target, sizeof target, "/mnt/tablespaces/%0120d", 4);
    assert_int_equal(symlink(target, path("src/longlink")), 0);
    assert_int_equal(symlink("base/16384", path("src/shortlink")), 0);
    assert_int_equal(link(path("src/PG_VERSION"), path("src/hardlink")), 0);
    assert_int_equal(mkfifo(path("src/fifo"), 0600), 0);
}

/* Expected entries of the GNU tar archive of src (sorted by name): name, type, link, size. */
static void check_gnu_listing(const collector *c, bool long_names)
{
    char deep[300], deepfile[400], target[200];
    snprintf(deep, sizeof deep, "%060d/%060d/", 1, 2);
    snprintf(deepfile, sizeof deepfile, "%060d/%060d/file_with_a_long_name_%030d", 1, 2, 3);
    snprintf(target, sizeof target, "/mnt/tablespaces/%0120d", 4);
    const got_entry *e;
    e = find(c, "./");
    assert_int_equal(e->type, PC_TAR_DIR);
    e = find(c, "./PG_VERSION");
    assert_int_equal(e->type, PC_TAR_FILE);
    assert_int_equal(e->size, 3);
    assert_string_equal((const char *)e->content.data, "16\n");
    assert_int_equal(e->mode, 0644);
    assert_int_equal(e->uid, 1234);
    assert_int_equal(e->gid, 5678);
    assert_int_equal(e->mtime, 1700000000);
    e = find(c, "./hardlink");
    assert_int_equal(e->type, PC_TAR_HARDLINK);
    assert_string_equal(e->link, "./PG_VERSION");
    e = find(c, "./base/16384/1259");
    assert_int_equal(e->size, 70000);
    assert_int_equal(e->content.len, 70000);
    for (size_t i = 0; i < 70000; i++)
        assert_int_equal(e->content.data[i], (unsigned char)(i * 13));
    e = find(c, "./base/16384/empty");
    assert_int_equal(e->size, 0);
    e = find(c, "./shortlink");
    assert_int_equal(e->type, PC_TAR_SYMLINK);
    assert_string_equal(e->link, "base/16384");
    e = find(c, "./fifo");
    assert_int_equal(e->type, PC_TAR_OTHER);
    assert_int_equal(e->typeflag, '6');
    if (long_names) {
        char n[500];
        snprintf(n, sizeof n, "./%s", deepfile);
        e = find(c, n);
        assert_int_equal(e->type, PC_TAR_FILE);
        assert_string_equal((const char *)e->content.data, "deep content\n");
        snprintf(n, sizeof n, "./%s", deep);
        assert_int_equal(find(c, n)->type, PC_TAR_DIR);
        e = find(c, "./longlink");
        assert_string_equal(e->link, target);
    }
}

static void read_gnu_format(const char *format, bool long_names)
{
    static bool made;
    if (!made) {
        make_tree();
        made = true;
    }
    char cmd[8192], tarname[64];
    snprintf(tarname, sizeof tarname, "gnu-%s.tar", format);
    /* ustar and v7 cannot hold the long names: leave them out there */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && tar --format=%s --sort=name --numeric-owner --owner=1234 --group=5678 "
             "--mtime=@1700000000 %s -cf '%s' . 2>/dev/null",
             path("src"), format, long_names ? "" : "--exclude=./0* --exclude=./longlink",
             path(tarname));
    int rc = run(cmd, NULL);
    assert_true(rc == 0 || (rc == 2 && strcmp(format, "v7") == 0)); /* v7: fifo "ignored" */
    pc_buf tar;
    pc_buf_init(&tar, PC_BUF_NOCAP);
    assert_int_equal(pc_read_file(path(tarname), 1 << 24, &tar), PC_OK);
    static const size_t chunks[] = {1, 100, 512, 1 << 20};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        collector c = {.want_content = true};
        pc_status st = parse(tar.data, tar.len, chunks[i], false, &c);
        if (st)
            fail_msg("%s: %s", format, pc_err_get()->message);
        if (strcmp(format, "v7") == 0) {
            /* v7 knows no fifo, uid beyond 7 digits, or typeflag '5' (dirs end with '/') */
            const got_entry *e = find(&c, "./PG_VERSION");
            assert_string_equal((const char *)e->content.data, "16\n");
            assert_int_equal(find(&c, "./base/")->type, PC_TAR_DIR);
            assert_string_equal(find(&c, "./hardlink")->link, "./PG_VERSION");
            assert_int_equal(find(&c, "./base/16384/1259")->content.len, 70000);
        } else {
            check_gnu_listing(&c, long_names);
        }
        assert_int_equal(c.ends, 1);
        collector_free(&c);
    }
    pc_buf_free(&tar);
}

static void test_reader_gnu(void **state)
{
    read_gnu_format("gnu", true);
    read_gnu_format("oldgnu", true);
    read_gnu_format("posix", true);
    read_gnu_format("ustar", false);
    read_gnu_format("v7", false);
}

static void test_reader_python_pax(void **state)
{
    if (!have_python())
        skip();
    char cmd[8192];
    /* as barman-cloud writes: PAX format, non-ASCII and long names, a file of 1 MiB */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '"
             "import tarfile, io, sys\n"
             "t = tarfile.open(sys.argv[1], \"w\", format=tarfile.PAX_FORMAT)\n"
             "def add(name, data, **kw):\n"
             "    i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 1700000000\n"
             "    for k, v in kw.items(): setattr(i, k, v)\n"
             "    t.addfile(i, io.BytesIO(data))\n"
             "d = tarfile.TarInfo(\".\"); d.type = tarfile.DIRTYPE; d.mode = 0o700; t.addfile(d)\n"
             "add(\"./PG_VERSION\", b\"16\\n\", uid=26, gid=26, uname=\"postgres\")\n"
             "add(\"base/caf\\u00e9/\\u65e5\\u672c\", b\"x\" * 1048576)\n"
             "add(\"a\" * 150 + \"/\" + \"b\" * 150, b\"long\")\n"
             "l = tarfile.TarInfo(\"pg_tblspc/16385\"); l.type = tarfile.SYMTYPE; "
             "l.linkname = \"/t/\" + \"c\" * 200; t.addfile(l)\n"
             "add(\"big_uid\", b\"\", uid=3000000000)\n"
             "t.close()\n"
             "' '%s'",
             path("py.tar"));
    assert_int_equal(run(cmd, NULL), 0);
    pc_buf tar;
    pc_buf_init(&tar, PC_BUF_NOCAP);
    assert_int_equal(pc_read_file(path("py.tar"), 1 << 24, &tar), PC_OK);
    collector c = {.want_content = true};
    assert_int_equal(parse(tar.data, tar.len, 4000, false, &c), PC_OK);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.e[0].name, "./");
    assert_int_equal(c.e[0].type, PC_TAR_DIR);
    assert_int_equal(c.e[0].mode, 0700);
    assert_string_equal(c.e[1].name, "./PG_VERSION");
    assert_int_equal(c.e[1].uid, 26);
    assert_string_equal(c.e[2].name, "base/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac");
    assert_int_equal(c.e[2].content.len, 1048576);
    char n[400];
    memset(n, 'a', 150);
    n[150] = '/';
    memset(n + 151, 'b', 150);
    n[301] = '\0';
    assert_string_equal(c.e[3].name, n);
    assert_string_equal((const char *)c.e[3].content.data, "long");
    assert_int_equal(c.e[4].type, PC_TAR_SYMLINK);
    assert_int_equal(strlen(c.e[4].link), 203);
    assert_int_equal(c.e[5].uid, 3000000000LL);
    assert_int_equal(c.ends, 1);
    collector_free(&c);
    pc_buf_free(&tar);
}

/* ---- hostile and damaged streams ---- */

/* A ustar header with a valid checksum; size written in octal. */
static void mk_header(unsigned char *h, const char *name, char type, uint64_t size)
{
    memset(h, 0, 512);
    memcpy(h, name, strlen(name));
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
}

static void fix_checksum(unsigned char *h)
{
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

/* One pax record "<len> key=value\n" into out; returns its length. */
static size_t pax_rec(char *out, const char *kv)
{
    size_t base = strlen(kv) + 2, len = base + 1;
    if (len >= 10)
        len = base + 2;
    if (len >= 100)
        len = base + 3;
    return (size_t)sprintf(out, "%zu %s\n", len, kv);
}

/* A stream: header blocks and data built by the caller in buf; returns the parse status. */
static pc_status parse_bad(const unsigned char *buf, size_t len, const char *want_msg)
{
    collector c = {.want_content = true};
    pc_status st = parse(buf, len, 512, false, &c);
    if (want_msg && !strstr(pc_err_get()->message, want_msg))
        fail_msg("message \"%s\" lacks \"%s\"", pc_err_get()->message, want_msg);
    collector_free(&c);
    return st;
}

static void test_reader_damaged(void **state)
{
    unsigned char buf[8192];
    memset(buf, 0, sizeof buf);
    mk_header(buf, "data", '0', 5);
    fix_checksum(buf);
    memcpy(buf + 512, "hello", 5);
    /* valid: header, one data block, end marker */
    collector c = {.want_content = true};
    assert_int_equal(parse(buf, 2048, 1, false, &c), PC_OK);
    assert_string_equal((const char *)c.e[0].content.data, "hello");
    collector_free(&c);

    /* one zero block is accepted as the end, like Python */
    assert_int_equal(parse_bad(buf, 1536, NULL), PC_OK);
    /* ends inside the content / inside the padding / at the member boundary / mid-header */
    assert_int_equal(parse_bad(buf, 515, "truncated tar: the stream ends inside member \"data\""),
                     PC_E_CORRUPT);
    assert_int_equal(parse_bad(buf, 900, "truncated tar: the stream ends inside member \"data\""),
                     PC_E_CORRUPT);
    assert_int_equal(parse_bad(buf, 1024,
                               "truncated tar: the stream ends without the "
                               "end-of-archive marker"),
                     PC_E_CORRUPT);
    assert_int_equal(parse_bad(buf, 1300, "truncated tar"), PC_E_CORRUPT);
    assert_int_equal(parse_bad(buf, 0, "truncated tar"), PC_E_CORRUPT);
    /* lenient end: a clean member boundary is the end, nothing else is */
    c = (collector){.want_content = true};
    assert_int_equal(parse(buf, 1024, 100, true, &c), PC_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ends, 1);
    collector_free(&c);
    c = (collector){.want_content = true};
    assert_int_equal(parse(buf, 0, 100, true, &c), PC_OK);
    collector_free(&c);
    c = (collector){.want_content = true};
    assert_int_equal(parse(buf, 900, 100, true, &c), PC_E_CORRUPT);
    assert_int_equal(parse(buf, 1100, 100, true, &c), PC_E_CORRUPT);
    assert_int_equal(c.ends, 0);
    collector_free(&c);

    /* data after the end marker: zeros are fine, anything else is not */
    assert_int_equal(parse_bad(buf, 8192, NULL), PC_OK);
    buf[5000] = 'x';
    assert_int_equal(parse_bad(buf, 8192, "non-zero data after the end-of-archive marker"),
                     PC_E_CORRUPT);
    buf[5000] = 0;

    /* checksum */
    buf[0] = 'D';
    assert_int_equal(parse_bad(buf, 2048, "header checksum mismatch (not a tar archive?)"),
                     PC_E_CORRUPT);
    buf[0] = 'd';
    memcpy(buf + 148, "zzzzzz", 6);
    assert_int_equal(parse_bad(buf, 2048, "header checksum mismatch"), PC_E_CORRUPT);
    /* bad numbers */
    mk_header(buf, "data", '0', 5);
    memcpy(buf + 124, "0000000009x", 11);
    fix_checksum(buf);
    assert_int_equal(parse_bad(buf, 2048, "invalid size field (header at offset 0)"), PC_E_CORRUPT);
    mk_header(buf, "data", '0', 5);
    memcpy(buf + 100, "07 44", 5);
    fix_checksum(buf);
    assert_int_equal(parse_bad(buf, 2048, "invalid mode field"), PC_E_CORRUPT);
    /* absurd sizes in base-256: 2^50, and negative */
    mk_header(buf, "data", '0', 0);
    memset(buf + 124, 0, 12);
    buf[124] = 0x80;
    buf[129] = 0x04; /* bytes 125..135 big-endian: 0x04 << (6*8) = 2^50 */
    fix_checksum(buf);
    assert_int_equal(parse_bad(buf, 2048, "member size out of range"), PC_E_CORRUPT);
    memset(buf + 124, 0xff, 12);
    fix_checksum(buf);
    assert_int_equal(parse_bad(buf, 2048, "member size out of range"), PC_E_CORRUPT);
    /* base-256 beyond 64 bits */
    memset(buf + 124, 0, 12);
    buf[124] = 0x80;
    buf[126] = 1;
    fix_checksum(buf);
    assert_int_equal(parse_bad(buf, 2048, "invalid size field"), PC_E_CORRUPT);
    /* a small base-256 size is fine */
    memset(buf + 124, 0, 12);
    buf[124] = 0x80;
    buf[135] = 5;
    fix_checksum(buf);
    memcpy(buf + 512, "hello", 5);
    memset(buf + 1024, 0, 1024);
    assert_int_equal(parse_bad(buf, 2048, NULL), PC_OK);
}

static void test_reader_hostile_ext(void **state)
{
    static unsigned char buf[4 << 20];
    memset(buf, 0, sizeof buf);

    /* pax header larger than the cap: refused before reading it */
    mk_header(buf, "././@PaxHeader", 'x', 2 << 20);
    fix_checksum(buf);
    assert_int_equal(parse_bad(buf, sizeof buf,
                               "oversized tar header: 2097152-byte 'x' "
                               "extended header at offset 0 (limit 1048576)"),
                     PC_E_CORRUPT);
    mk_header(buf, "././@LongLink", 'L', (1 << 20) + 1);
    fix_checksum(buf);
    assert_int_equal(parse_bad(buf, sizeof buf, "oversized tar header"), PC_E_CORRUPT);

    char r1[64], r2[64], r3[64], r4[64], r5[64], r6[64];
    pax_rec(r1, "size=12a");
    pax_rec(r2, "size=-1");
    pax_rec(r3, "size=99999999999999999999");
    pax_rec(r4, "mtime=1x2");
    pax_rec(r5, "uid=-5");
    size_t nul_len = pax_rec(r6, "path=a_b");
    r6[nul_len - 3] = '\0';
    const struct {
        const char *records, *msg;
        size_t len;
    } bad[] = {
        {"99 path=x\n", "malformed pax record", 0},
        {"11 path=x\n", "malformed pax record", 0},  /* declared longer than the data */
        {"10 path=xy\n", "malformed pax record", 0}, /* no '\n' where the length ends */
        {"abc\n", "malformed pax record", 0},
        {"4 =\n", "malformed pax record", 0},
        {"7 path\n", "malformed pax record", 0},
        {"8 =path\n", "malformed pax record", 0},
        {"0000000000011 path=x\n", "malformed pax record", 0},
        {r1, "invalid pax size", 0},
        {r2, "invalid pax size", 0},
        {r3, "invalid pax size", 0},
        {r4, "invalid pax mtime", 0},
        {r5, "invalid pax uid or gid", 0},
        {r6, "NUL byte in a pax record", nul_len},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t rlen = bad[i].len ? bad[i].len : strlen(bad[i].records);
        memset(buf, 0, 8192);
        mk_header(buf, "././@PaxHeader", 'x', rlen);
        fix_checksum(buf);
        memcpy(buf + 512, bad[i].records, rlen);
        mk_header(buf + 1024, "data", '0', 0);
        fix_checksum(buf + 1024);
        if (parse_bad(buf, 8192, bad[i].msg) != PC_E_CORRUPT)
            fail_msg("pax records \"%s\" accepted", bad[i].records);
    }

    /* a pax header followed by the end marker */
    memset(buf, 0, 8192);
    char rec[600];
    size_t rlen = pax_rec(rec, "path=x");
    mk_header(buf, "././@PaxHeader", 'x', rlen);
    fix_checksum(buf);
    memcpy(buf + 512, rec, rlen);
    assert_int_equal(parse_bad(buf, 8192, "extended header not followed by a member"),
                     PC_E_CORRUPT);
    /* ... and in lenient mode a stream ending right after it is still truncated */
    collector c = {.want_content = true};
    assert_int_equal(parse(buf, 1024, 512, true, &c), PC_E_CORRUPT);
    collector_free(&c);

    /* the pax values win over the header; a global header is read and ignored */
    memset(buf, 0, 8192);
    rlen = pax_rec(rec, "comment=hello");
    mk_header(buf, "pax_global_header", 'g', rlen);
    fix_checksum(buf);
    memcpy(buf + 512, rec, rlen);
    rlen = pax_rec(rec, "path=abc");
    rlen += pax_rec(rec + rlen, "size=3");
    rlen += pax_rec(rec + rlen, "mtime=-12.500");
    rlen += pax_rec(rec + rlen, "uid=99");
    mk_header(buf + 1024, "././@PaxHeader", 'x', rlen);
    fix_checksum(buf + 1024);
    memcpy(buf + 1536, rec, rlen);
    mk_header(buf + 2048, "ignored", '0', 0);
    fix_checksum(buf + 2048);
    memcpy(buf + 2560, "xyz", 3);
    c = (collector){.want_content = true};
    assert_int_equal(parse(buf, 8192, 7, false, &c), PC_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.e[0].name, "abc");
    assert_int_equal(c.e[0].size, 3);
    assert_int_equal(c.e[0].mtime, -12);
    assert_int_equal(c.e[0].uid, 99);
    assert_string_equal((const char *)c.e[0].content.data, "xyz");
    collector_free(&c);

    /* GNU sparse members are reported as OTHER, whatever their header says */
    memset(buf, 0, 8192);
    rlen = pax_rec(rec, "GNU.sparse.major=1");
    mk_header(buf, "././@PaxHeader", 'x', rlen);
    fix_checksum(buf);
    memcpy(buf + 512, rec, rlen);
    mk_header(buf + 1024, "sparse", '0', 3);
    fix_checksum(buf + 1024);
    c = (collector){.want_content = true};
    assert_int_equal(parse(buf, 8192, 512, false, &c), PC_OK);
    assert_int_equal(c.e[0].type, PC_TAR_OTHER);
    assert_int_equal(c.e[0].typeflag, 'S');
    collector_free(&c);

    /* unknown types: OTHER, and their content is skipped */
    memset(buf, 0, 8192);
    mk_header(buf, "volume", 'V', 600);
    fix_checksum(buf);
    memset(buf + 512, 'v', 600);
    mk_header(buf + 1536, "after", '0', 0);
    fix_checksum(buf + 1536);
    c = (collector){.want_content = true};
    assert_int_equal(parse(buf, 8192, 512, false, &c), PC_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.e[0].type, PC_TAR_OTHER);
    assert_int_equal(c.e[0].typeflag, 'V');
    assert_string_equal(c.e[1].name, "after");
    collector_free(&c);
}

/* The handler's refusal and a failing content sink stop the stream. */
static pc_status limited_entry(void *ud, const pc_tar_entry *e, pc_sink **content)
{
    pc_status st = on_entry(ud, e, content);
    if (st || !content || !*content)
        return st;
    pc_sink *lim;
    st = pc_sink_limit_new(10, *content, &lim);
    *content = st ? NULL : lim;
    return st;
}

static void test_reader_handler_errors(void **state)
{
    fill_specs();
    pc_buf tar;
    pc_sink *mem;
    pc_buf_init(&tar, PC_BUF_NOCAP);
    assert_int_equal(pc_sink_mem_new(&tar, &mem), PC_OK);
    assert_int_equal(write_specs(mem, NULL), PC_OK);

    collector c = {.want_content = true, .fail_with = PC_E_NOT_EMPTY, .fail_on = "f512"};
    assert_int_equal(parse(tar.data, tar.len, 1000, false, &c), PC_E_NOT_EMPTY);
    assert_string_equal(pc_err_get()->message, "handler refuses \"f512\"");
    assert_int_equal(c.ends, 0);
    collector_free(&c);

    static const pc_tar_handler lh = {.entry = limited_entry, .end = on_end};
    c = (collector){.want_content = true};
    pc_sink *r;
    assert_int_equal(pc_tar_reader_new(&lh, &c, &r), PC_OK);
    assert_int_equal(pc_sink_write(r, tar.data, tar.len), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "exceeds the limit of 10 bytes"));
    pc_sink_free(r); /* frees the content sink of the member in progress */
    collector_free(&c);

    /* aborting in the middle of a member */
    c = (collector){.want_content = true};
    assert_int_equal(pc_tar_reader_new(&handler, &c, &r), PC_OK);
    assert_int_equal(pc_sink_write(r, tar.data, 4000), PC_OK);
    pc_sink_abort(r);
    pc_sink_free(r);
    collector_free(&c);
    pc_buf_free(&tar);
}

/* ---- paths ---- */

static void test_path_check(void **state)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"./PG_VERSION", "PG_VERSION"},
        {".", "."},
        {"./", "."},
        {".//.", "."},
        {"base/1/1259", "base/1/1259"},
        {"a//b/./c/", "a/b/c"},
        {"././a", "a"},
        {"...", "..."},
        {"..a/b..", "..a/b.."},
        {".hidden", ".hidden"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (pc_tar_path_check(ok[i].in, out, sizeof out) != PC_OK)
            fail_msg("\"%s\": %s", ok[i].in, pc_err_get()->message);
        assert_string_equal(out, ok[i].out);
    }
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"", "unsafe tar member name \"\": empty name"},
        {"/etc/passwd", "unsafe tar member name \"/etc/passwd\": absolute path"},
        {"../x", "\"..\" component"},
        {"a/../b", "unsafe tar member name \"a/../b\": \"..\" component"},
        {"a/..", "\"..\" component"},
        {"./..//x", "\"..\" component"},
        {"a/b\n", "unsafe tar member name \"a/b\\x0a\": control character in the name"},
        {"a\x7f", "control character"},
        {"\x1b[31mred", "unsafe tar member name \"\\x1b[31mred\": control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pc_tar_path_check(bad[i].in, out, sizeof out), PC_E_CORRUPT);
        if (!strstr(pc_err_get()->message, bad[i].msg))
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].in, pc_err_get()->message, bad[i].msg);
    }
    assert_int_equal(pc_tar_path_check("abcdef", out, 6), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "name too long"));
    assert_int_equal(pc_tar_path_check("abcde", out, 6), PC_OK);
    assert_int_equal(pc_tar_path_check(".", out, 1), PC_E_CORRUPT);
}

static void test_path_within(void **state)
{
    static const struct {
        const char *base, *path;
        bool within;
    } cases[] = {
        {"/data", "/data", true},
        {"/data", "/data/x", true},
        {"/data", "/data/.", true},
        {"/data/", "/data//x/./y", true},
        {"/data", "/data/a/../b", true},
        {"/data", "x/y", true},
        {"/data", "x/../y", true},
        {"/data", ".", true},
        {"/", "/anything", true},
        {"/data", "/database", false},
        {"/data", "/dat", false},
        {"/data", "/", false},
        {"/data", "/data/../etc", false},
        {"/data", "/data/a/../../data/b", false},
        {"/data", "/data/..", false},
        {"/data", "../x", false},
        {"/data", "a/../..", false},
        {"/data", "a/../../data", false},
        {"/", "/..", false},
        {"/data/pg", "/data/../data/pg/x", false},
        {"relative/base", "/abs", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (pc_path_is_within(cases[i].base, cases[i].path) != cases[i].within)
            fail_msg("within(\"%s\", \"%s\") should be %d", cases[i].base, cases[i].path,
                     cases[i].within);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_gnu_tar),
        cmocka_unit_test(test_writer_python),
        cmocka_unit_test(test_writer_8gib),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_writer_append_raw),
        cmocka_unit_test(test_reader_gnu),
        cmocka_unit_test(test_reader_python_pax),
        cmocka_unit_test(test_reader_damaged),
        cmocka_unit_test(test_reader_hostile_ext),
        cmocka_unit_test(test_reader_handler_errors),
        cmocka_unit_test(test_path_check),
        cmocka_unit_test(test_path_within),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
