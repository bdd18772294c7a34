/*
 * catalog_fill CATALOG SERVER BACKUPS WALS: a catalog as `catalog sync`
 * leaves it for a server with BACKUPS DONE backups (one a day, backup.info
 * texts cached) and WALS archived segments, written with the bulk APIs
 * (cat_wal_put_many in one transaction, every backup in another). For
 * bench/bench_catalog.sh: `pgcask backup-list` and `metrics` then answer
 * from it without touching a store.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/ops_int.h"
#include "catalog/catalog.h"
#include "common/error.h"
#include "common/timeutil.h"
#include "common/wal.h"

#define SEGSIZE (16u * 1024 * 1024)
#define BATCH   4096

static int die(const char *what)
{
    const pc_error *e = pc_err_get();
    fprintf(stderr, "catalog_fill: %s: %s\n", what, e->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: catalog_fill CATALOG SERVER BACKUPS WALS\n");
        return 2;
    }
    const char *path = argv[1], *server = argv[2];
    long nb = strtol(argv[3], NULL, 10), nw = strtol(argv[4], NULL, 10);
    if (nb < 1 || nw < nb) {
        fprintf(stderr, "catalog_fill: need 1 <= BACKUPS <= WALS\n");
        return 2;
    }
    cat *c;
    if (cat_open(path, &c) != PC_OK)
        return die("open");
    int64_t t0 = pc_now_mono_us();
    /* WAL: segments 1..nw of timeline 1, one row each */
    static cat_wal rows[BATCH];
    static char names[BATCH][PC_WAL_NAME_MAX], keys[BATCH][128];
    if (cat_tx_begin(c) != PC_OK || cat_wal_delete_all(c) != PC_OK)
        return die("WAL transaction");
    int64_t base = 1700000000LL * 1000000;
    for (long s = 1; s <= nw;) {
        size_t n = 0;
        for (; n < BATCH && s <= nw; n++, s++) {
            pc_wal_segment_name(1, (uint64_t)s, SEGSIZE, names[n]);
            snprintf(keys[n], sizeof keys[n], "%s/wals/%.16s/%s.zst", server, names[n], names[n]);
            rows[n] = (cat_wal){.name = names[n],
                                .codec = 3,
                                .size = SEGSIZE,
                                .stored_size = 3 * 1024 * 1024,
                                .key = keys[n],
                                .stored_at = base + s * 60 * 1000000LL};
        }
        if (cat_wal_put_many(c, rows, n, SEGSIZE) != PC_OK)
            return die("cat_wal_put_many");
    }
    if (cat_tx_commit(c) != PC_OK)
        return die("WAL commit");
    int64_t t1 = pc_now_mono_us();
    /* backups: one a day, spread over the WAL */
    if (cat_tx_begin(c) != PC_OK)
        return die("backup transaction");
    for (long i = 0; i < nb; i++) {
        int64_t begin = base + i * 86400LL * 1000000;
        char id[16], bw[PC_WAL_NAME_MAX], ew[PC_WAL_NAME_MAX], tb[64], te[64], label[256],
            info[4096], key[64];
        uint64_t seg = 1 + (uint64_t)(i * (nw - 1) / nb);
        pc_time_backup_id(begin, id, sizeof id);
        pc_wal_segment_name(1, seg, SEGSIZE, bw);
        pc_wal_segment_name(1, seg + 1, SEGSIZE, ew);
        pc_time_barman(begin, tb, sizeof tb);
        pc_time_barman(begin + 300 * 1000000LL, te, sizeof te);
        snprintf(label, sizeof label,
                 "'START WAL LOCATION: %X/%X (file %s)\\nBACKUP METHOD: streamed\\n'",
                 (unsigned)(seg >> 8), (unsigned)((seg & 0xFF) << 24) | 0x28, bw);
        snprintf(
            info, sizeof info,
            "backup_label=%s\nbackup_name=daily-%ld\nbegin_offset=40\nbegin_time=%s\n"
            "begin_wal=%s\nbegin_xlog=%X/%X\ncompression=None\n"
            "config_file=/var/lib/postgresql/data/pgdata/postgresql.conf\n"
            "copy_stats={'total_time': 300.5, 'number_of_workers': 2, 'copy_time': 299.1}\n"
            "deduplicated_size=None\nend_offset=312\nend_time=%s\nend_wal=%s\n"
            "end_xlog=%X/%X\nerror=None\nhba_file=/var/lib/postgresql/data/pgdata/pg_hba.conf\n"
            "ident_file=/var/lib/postgresql/data/pgdata/pg_ident.conf\nincluded_files=None\n"
            "mode=None\npgdata=/var/lib/postgresql/data/pgdata\nserver_name=cloud\n"
            "size=None\nstatus=DONE\nsystemid=7512345678901234567\ntablespaces=None\n"
            "timeline=1\nversion=150018\nxlog_segment_size=16777216\n",
            label, i, tb, bw, (unsigned)(seg >> 8), (unsigned)((seg & 0xFF) << 24) | 0x28, te, ew,
            (unsigned)((seg + 1) >> 8), (unsigned)(((seg + 1) & 0xFF) << 24) | 0x138);
        cat_binfo b;
        if (cat_binfo_parse(info, strlen(info), &b) != PC_OK)
            return die("backup.info");
        ops_row r;
        ops_row_from_info(id, &b, OPS_KEEP_NONE, true, 1 << 30, "\"etag\"", &r);
        snprintf(key, sizeof key, "%s%s", OPS_META_INFO_PREFIX, id);
        if (cat_backup_put(c, &r.row) != PC_OK || cat_meta_set(c, key, info) != PC_OK)
            return die("backup");
        cat_binfo_free(&b);
    }
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)pc_now_us());
    if (cat_meta_set(c, OPS_META_BACKUP_SYNC, now) != PC_OK ||
        cat_meta_set(c, "last_sync_at", now) != PC_OK || cat_tx_commit(c) != PC_OK)
        return die("backup commit");
    int64_t t2 = pc_now_mono_us();
    cat_close(c);
    printf("%ld WAL rows in %.2f s, %ld backups in %.2f s\n", nw, (double)(t1 - t0) / 1e6, nb,
           (double)(t2 - t1) / 1e6);
    return 0;
}
