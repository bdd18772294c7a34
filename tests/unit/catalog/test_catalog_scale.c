/*
 * catalog/ at scale: bulk puts, gap detection over a million WAL rows, a
 * long backup list. Times are printed ("[timing] ..."), not asserted: a
 * sanitizer build is several times slower.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/timeutil.h"
#include "common/wal.h"

#define SEG16 PC_WAL_DEFAULT_SEGSIZE
#define BATCH 100000

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("PGCASK_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    g_dir = pc_asprintf("%s/catalog-scale-XXXXXX", base);
    if (!g_dir || !mkdtemp(g_dir))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_remove_tree(g_dir);
    free(g_dir);
    g_dir = NULL;
    return 0;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void expect_ok(pc_status st)
{
    if (st)
        fprintf(stderr, "unexpected error: %s\n", pc_err_get()->message);
    assert_int_equal(st, PC_OK);
}

static cat *open_new(const char *name)
{
    char *path = pc_path_join(g_dir, name);
    cat *c = NULL;
    expect_ok(cat_open(path, &c));
    free(path);
    return c;
}

/* Reusable batch of records whose names are filled by batch_fill. */
typedef struct batch {
    char (*names)[PC_WAL_NAME_MAX];
    cat_wal *w;
    size_t n;
} batch;

static void batch_init(batch *b)
{
    b->names = calloc(BATCH, sizeof *b->names);
    b->w = calloc(BATCH, sizeof *b->w);
    assert_non_null(b->names);
    assert_non_null(b->w);
    b->n = 0;
}

static void batch_flush(cat *c, batch *b)
{
    expect_ok(cat_wal_put_many(c, b->w, b->n, SEG16));
    b->n = 0;
}

/* Flushes into c when the batch is full. */
static void batch_add(cat *c, batch *b, uint32_t tli, uint64_t segno)
{
    if (b->n == BATCH)
        batch_flush(c, b);
    size_t i = b->n++;
    pc_wal_segment_name(tli, segno, SEG16, b->names[i]);
    cat_wal *w = &b->w[i];
    memset(w, 0, sizeof *w);
    w->name = b->names[i];
    w->key = "pg1/wals/k.zst";
    w->codec = 3;
    w->size = SEG16;
    w->stored_size = 1000;
    w->stored_at = INT64_C(1763719200000000);
}

static void batch_free(batch *b)
{
    free(b->names);
    free(b->w);
}

static void test_bulk_put_100k(void **state)
{
    (void)state;
    cat *c = open_new("bulk.db");
    batch b;
    batch_init(&b);
    for (uint64_t s = 0; s < BATCH; s++)
        batch_add(c, &b, 1, s);
    int64_t t0 = pc_now_mono_us();
    double cpu0 = cpu_s();
    batch_flush(c, &b);
    fprintf(stderr, "[timing] cat_wal_put_many of %d rows: %.3f s (cpu %.3f s)\n", BATCH,
            (double)(pc_now_mono_us() - t0) / 1e6, cpu_s() - cpu0);
    uint64_t n, bytes;
    expect_ok(cat_wal_stats(c, NULL, &n, &bytes));
    assert_int_equal(n, BATCH);
    assert_int_equal(bytes, (uint64_t)BATCH * 1000);
    batch_free(&b);
    cat_close(c);
}

typedef struct gaps {
    uint64_t v[16][2];
    size_t n;
} gaps;

static pc_status collect_gap(void *arg, uint64_t first, uint64_t last)
{
    gaps *g = arg;
    assert_true(g->n < 16);
    g->v[g->n][0] = first;
    g->v[g->n][1] = last;
    g->n++;
    return PC_OK;
}

static pc_status count_row(void *arg, const cat_wal *w)
{
    (void)w;
    (*(uint64_t *)arg)++;
    return PC_OK;
}

/*
 * Timeline 1: segments 0 .. 1,000,099 except 17 and 500,000 .. 500,099,
 * i.e. 999,999 rows; timeline 2 has a few rows that must not interfere.
 */
#define LAST_SEGNO 1000099

static void test_gaps_million(void **state)
{
    (void)state;
    cat *c = open_new("million.db");
    batch b;
    batch_init(&b);
    int64_t t0 = pc_now_mono_us();
    double cpu0 = cpu_s();
    for (uint64_t s = 0; s <= LAST_SEGNO; s++) {
        if (s == 17 || (s >= 500000 && s < 500100))
            continue;
        batch_add(c, &b, 1, s);
    }
    for (uint64_t s = 10; s < 30; s++)
        batch_add(c, &b, 2, s);
    batch_flush(c, &b);
    fprintf(stderr, "[timing] bulk load of 1,000,019 WAL rows: %.3f s (cpu %.3f s)\n",
            (double)(pc_now_mono_us() - t0) / 1e6, cpu_s() - cpu0);
    batch_free(&b);

    uint64_t n, bytes;
    cat_wal_filter f = {.tli = 1, .segno_max = UINT64_MAX};
    expect_ok(cat_wal_stats(c, &f, &n, &bytes));
    assert_int_equal(n, 999999);

    gaps g = {0};
    t0 = pc_now_mono_us();
    cpu0 = cpu_s();
    expect_ok(cat_wal_gaps(c, 1, 0, LAST_SEGNO + 11, collect_gap, &g));
    fprintf(stderr, "[timing] gap query over 999,999 segments: %.3f s (cpu %.3f s)\n",
            (double)(pc_now_mono_us() - t0) / 1e6, cpu_s() - cpu0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.v[0][0], 17);
    assert_int_equal(g.v[0][1], 17);
    assert_int_equal(g.v[1][0], 500000);
    assert_int_equal(g.v[1][1], 500099);
    assert_int_equal(g.v[2][0], LAST_SEGNO + 1);
    assert_int_equal(g.v[2][1], LAST_SEGNO + 11);

    /* A narrow range reads only its part of the index. */
    memset(&g, 0, sizeof g);
    t0 = pc_now_mono_us();
    expect_ok(cat_wal_gaps(c, 1, 499990, 500200, collect_gap, &g));
    fprintf(stderr, "[timing] gap query over 211 segments: %.6f s\n",
            (double)(pc_now_mono_us() - t0) / 1e6);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.v[0][0], 500000);
    assert_int_equal(g.v[0][1], 500099);

    memset(&g, 0, sizeof g);
    expect_ok(cat_wal_gaps(c, 2, 0, 40, collect_gap, &g));
    assert_int_equal(g.n, 2);
    assert_int_equal(g.v[0][0], 0);
    assert_int_equal(g.v[0][1], 9);
    assert_int_equal(g.v[1][0], 30);
    assert_int_equal(g.v[1][1], 40);

    cat_wal w;
    expect_ok(cat_wal_last(c, 1, &w));
    assert_int_equal(w.segno, LAST_SEGNO);
    cat_wal_clear(&w);
    expect_ok(cat_wal_first(c, 1, &w));
    assert_int_equal(w.segno, 0);
    cat_wal_clear(&w);
    uint32_t *tlis = NULL;
    size_t nt = 0;
    t0 = pc_now_mono_us();
    expect_ok(cat_wal_timelines(c, &tlis, &nt));
    fprintf(stderr, "[timing] timelines: %.6f s\n", (double)(pc_now_mono_us() - t0) / 1e6);
    assert_int_equal(nt, 2);
    assert_int_equal(tlis[0], 1);
    assert_int_equal(tlis[1], 2);
    free(tlis);

    uint64_t rows = 0;
    t0 = pc_now_mono_us();
    expect_ok(cat_wal_iter(c, NULL, count_row, &rows));
    fprintf(stderr, "[timing] iterating 1,000,019 rows: %.3f s\n",
            (double)(pc_now_mono_us() - t0) / 1e6);
    assert_int_equal(rows, 1000019);

    char name[PC_WAL_NAME_MAX];
    pc_wal_segment_name(1, 0xF000, SEG16, name);
    assert_string_equal(name, "00000001000000F000000000");
    t0 = pc_now_mono_us();
    expect_ok(cat_wal_get(c, name, &w));
    fprintf(stderr, "[timing] get by name: %.6f s\n", (double)(pc_now_mono_us() - t0) / 1e6);
    assert_int_equal(w.segno, 0xF000);
    cat_wal_clear(&w);
    cat_close(c);
}

typedef struct listing {
    size_t n;
    char prev[CAT_BACKUP_ID_LEN + 1];
    bool ordered;
} listing;

static pc_status check_order(void *arg, const cat_backup *b)
{
    listing *l = arg;
    if (l->n && strcmp(l->prev, b->id) >= 0)
        l->ordered = false;
    snprintf(l->prev, sizeof l->prev, "%s", b->id);
    l->n++;
    return PC_OK;
}

static void test_list_500_backups(void **state)
{
    (void)state;
    cat *c = open_new("backups.db");
    expect_ok(cat_tx_begin(c));
    for (int i = 499; i >= 0; i--) {
        char id[CAT_BACKUP_ID_LEN + 1], wal[PC_WAL_NAME_MAX];
        pc_time_backup_id(INT64_C(1767225600000000) + (int64_t)i * 86400 * 1000000, id, sizeof id);
        pc_wal_segment_name(1, (uint64_t)i * 100, SEG16, wal);
        cat_backup b;
        memset(&b, 0, sizeof b);
        b.id = id;
        b.type = CAT_BACKUP_FULL;
        b.status = CAT_STATUS_DONE;
        b.begin_wal = wal;
        b.end_wal = wal;
        b.systemid = "7304412367892387654";
        b.size = UINT64_C(1) << 40;
        expect_ok(cat_backup_put(c, &b));
    }
    expect_ok(cat_tx_commit(c));
    listing l = {.ordered = true};
    int64_t t0 = pc_now_mono_us();
    expect_ok(cat_backup_list(c, check_order, &l));
    fprintf(stderr, "[timing] listing 500 backups: %.6f s\n",
            (double)(pc_now_mono_us() - t0) / 1e6);
    assert_int_equal(l.n, 500);
    assert_true(l.ordered);
    cat_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bulk_put_100k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gaps_million, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_500_backups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
