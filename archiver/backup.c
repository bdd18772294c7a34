/*
 * `pgcask backup` (archiver/backup.h): connect, stream BASE_BACKUP into the
 * repository (archiver/backup_parts.c), write pgcask.manifest, wait until
 * the WAL the backup needs is archived, then write backup.info.
 *
 * Order of the objects, so that a backup is DONE only when complete:
 * archives (each committed when its multipart upload completes), then
 * pgcask.manifest, then backup.info. A failure uploads backup.info with
 * status FAILED (best effort: the store may be what failed); kill -9 leaves
 * no backup.info, and the next backup aborts the unfinished uploads under
 * <server>/base/ and marks the catalog entry FAILED.
 */
#include "archiver/backup.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/backup_int.h"
#include "archiver/basebackup.h"
#include "catalog/backup_info.h"
#include "catalog/catalog.h"
#include "catalog/manifest.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/progress.h"
#include "common/timeutil.h"
#include "compress/compress.h"
#include "s3/repo.h"
#include "s3/walstore.h"

#define WAL_POLL_MS 1000
#define MAX_PARTS   10000
#define MiB         ((uint64_t)1 << 20)
#define GiB         ((uint64_t)1 << 30)
#define BACKUP_INFO "backup.info"
/* local mode: a file this large gets an archive part of its own (backup_int.h) */
#define LOCAL_ISOLATE (32 * MiB)

/* ==== backup.info ==== */

void bk_wal_range(pc_lsn start, pc_lsn end, uint64_t segsize, uint64_t *first, uint64_t *last)
{
    *first = start / segsize;
    /* the byte before the end LSN: an end on a segment boundary needs no more of the next one */
    *last = end > start ? (end - 1) / segsize : *first;
}

static pc_status dup_into(char **dst, const char *src)
{
    if (!src)
        return PC_OK;
    *dst = pc_strdup(src);
    return *dst ? PC_OK : PC_E_INTERNAL;
}

static pc_status set_position(cat_binfo *b, uint32_t tli, pc_lsn lsn, uint64_t segno,
                              uint64_t segsize, char **wal, char **xlog, int64_t *offset)
{
    char name[PC_WAL_NAME_MAX], text[32];
    pc_wal_segment_name(tli, segno, segsize, name);
    pc_lsn_format(lsn, text, sizeof text);
    *offset = (int64_t)(lsn % segsize);
    pc_status st = dup_into(wal, name);
    return st ? st : dup_into(xlog, text);
}

pc_status bk_binfo_fill(const bk_info_in *in, cat_binfo *b)
{
    cat_binfo_init(b);
    const bb_server_info *srv = in->srv;
    uint64_t segsize = srv->wal_segment_size;
    pc_status st = PC_OK;
    b->xlog_segment_size = (int64_t)segsize;
    if (in->backup_label && *in->backup_label)
        st = dup_into(&b->backup_label, in->backup_label);
    if (!st)
        st = dup_into(&b->backup_name, in->backup_name);
    uint64_t first = 0, last = 0;
    if (in->have_start)
        bk_wal_range(in->pos.start_lsn, in->have_end ? in->pos.end_lsn : in->pos.start_lsn, segsize,
                     &first, &last);
    if (!st && in->have_start)
        st = set_position(b, in->pos.start_tli, in->pos.start_lsn, first, segsize, &b->begin_wal,
                          &b->begin_xlog, &b->begin_offset);
    if (!st && in->have_end)
        st = set_position(b, in->pos.end_tli, in->pos.end_lsn, last, segsize, &b->end_wal,
                          &b->end_xlog, &b->end_offset);
    b->begin_time = in->begin_time ? in->begin_time : CAT_BINFO_NONE;
    b->end_time = in->end_time ? in->end_time : CAT_BINFO_NONE;
    b->begin_time_tz = b->end_time_tz = 0;
    if (!st)
        st = dup_into(&b->config_file, srv->config_file);
    if (!st)
        st = dup_into(&b->hba_file, srv->hba_file);
    if (!st)
        st = dup_into(&b->ident_file, srv->ident_file);
    if (!st)
        st = dup_into(&b->pgdata, srv->data_directory);
    for (size_t i = 0; !st && i < srv->n_included_files; i++)
        st = cat_binfo_add_included_file(b, srv->included_files[i]);
    if (!st && in->total_seconds > 0) {
        b->copy_stats = pc_asprintf("{'total_time': %.6f, 'number_of_workers': %d, "
                                    "'copy_time': %.6f}",
                                    in->total_seconds, in->workers, in->copy_seconds);
        if (!b->copy_stats)
            st = PC_E_INTERNAL;
    }
    if (!st)
        st = dup_into(&b->error, in->error);
    if (!st)
        st = dup_into(&b->server_name, "cloud"); /* what barman-cloud-backup writes */
    b->size = in->size ? (int64_t)in->size : CAT_BINFO_NONE;
    b->status = in->status;
    b->systemid = strtoull(in->sys->systemid, NULL, 10);
    for (size_t i = 0; !st && i < in->nts; i++) {
        const bb_tablespace *t = &in->ts[i];
        if (t->is_base)
            continue;
        const char *name = NULL;
        char oid[12];
        for (size_t k = 0; k < srv->n_tablespaces && !name; k++)
            if (srv->tablespaces[k].oid == t->oid)
                name = srv->tablespaces[k].name;
        if (!name) {
            /* created after the backup listed them: the oid is all there is */
            snprintf(oid, sizeof oid, "%" PRIu32, t->oid);
            name = oid;
        }
        st = cat_binfo_add_tablespace(b, name, t->oid, t->location);
    }
    b->timeline = in->have_start ? (int64_t)in->pos.start_tli : (int64_t)in->sys->timeline;
    b->version = srv->version_num;
    if (st)
        cat_binfo_free(b);
    return st;
}

pc_status arc_backup_check_name(const char *name)
{
    static const char *reserved[] = {"latest", "last", "oldest", "first", "last-failed"};
    if (!*name)
        return pc_err(PC_E_USAGE, "backup name cannot be empty");
    /* barman's is_backup_id: eight digits, T, six digits */
    bool id = strlen(name) == 15 && name[8] == 'T';
    for (size_t i = 0; id && i < 15; i++)
        id = i == 8 || (name[i] >= '0' && name[i] <= '9');
    if (id) {
        pc_err(PC_E_USAGE, "backup name \"%s\" is not allowed: backup ID", name);
        pc_err_hint("A name that looks like a backup id (YYYYMMDDTHHMMSS) would make backup "
                    "references ambiguous.");
        return PC_E_USAGE;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(name, reserved[i]) == 0)
            return pc_err(PC_E_USAGE, "backup name \"%s\" is not allowed: reserved word", name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return pc_err(PC_E_USAGE, "backup name holds a control character");
    if (name[0] == ' ' || name[strlen(name) - 1] == ' ' || strcmp(name, "None") == 0)
        return pc_err(PC_E_USAGE, "backup name \"%s\" cannot be stored in backup.info", name);
    return PC_OK;
}

/* ==== the run ==== */

static volatile sig_atomic_t got_signal;
/* arc_backup_opts.stop of the running backup (one backup per process at a time) */
static const atomic_bool *_Atomic stop_flag;

static bool stopping(void)
{
    const atomic_bool *f = atomic_load(&stop_flag);
    if (f && atomic_load(f) && !got_signal)
        got_signal = SIGTERM;
    return got_signal != 0;
}

static void on_signal(int sig)
{
    got_signal = sig;
}

typedef struct bk {
    pc_cfg *cfg;
    const arc_backup_opts *o;
    arc_backup_result *res;
    char *server;
    repo *r;
    char *catalog_path;
    char *lock_path;
    pc_flock lock;
    bool locked;
    bb_conn *pg, *repl;
    bb_server_info srv;
    bb_system sys;
    char id[16];
    char *prefix; /* "<server>/base/<id>/" */
    bk_recv *rv;
    bb_tablespace *ts;
    size_t nts;
    bb_result pos;
    bool have_start, have_end;
    int64_t t0_us, t0_mono, begin_time, end_time, copy_done_mono;
    pc_progress *progress;
    uint64_t progress_done;
    const char *phase; /* for backup.info's error: "failure <phase> (<message>)" */
    bool started;      /* objects may exist: a failure is recorded as FAILED */
    uint64_t manifest_size;
    /* what the receiver produced, kept when it is freed early (a failure aborts it first) */
    char *label;
    uint64_t logical, stored, nparts, nfiles;
    int threads;
    bool signals;
    struct sigaction old_int, old_term;
    /* local mode */
    cat_backup_type type; /* what is recorded: a diff/incr without a parent becomes full */
    bk_parent parent;     /* the backup built on (id "" for a full backup) */
    bk_local *lc;
    bk_local_ts *lts;
    size_t nlts;
    char version_dir[64];
    char *pgdata;
    uint64_t copied, kept_files, kept_bytes;
} bk;

static pc_status interrupted(void)
{
    int sig = got_signal;
    pc_err(PC_E_INTERRUPTED, "interrupted by %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return PC_E_INTERRUPTED;
}

static void signals_on(bk *b)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a poll() returns at once */
    sigemptyset(&sa.sa_mask);
    got_signal = 0;
    atomic_store(&stop_flag, b->o->stop);
    sigaction(SIGINT, &sa, &b->old_int);
    sigaction(SIGTERM, &sa, &b->old_term);
    b->signals = true;
}

static void signals_off(bk *b)
{
    atomic_store(&stop_flag, NULL);
    if (!b->signals)
        return;
    sigaction(SIGINT, &b->old_int, NULL);
    sigaction(SIGTERM, &b->old_term, NULL);
    b->signals = false;
}

/* ---- setup ---- */

static pc_status setup(bk *b)
{
    const char *server = pc_cfg_str(b->cfg, "server");
    pc_status st = server ? pc_layout_check_server(server) : PC_OK;
    if (!server) {
        pc_err(PC_E_USAGE, "no server name given");
        pc_err_hint("Give --server NAME (the folder of this cluster in the repository), set "
                    "PGCASK_SERVER, or put `server = NAME` in the configuration file.");
        return PC_E_USAGE;
    }
    if (st)
        return st;
    if (!(b->server = pc_strdup(server)))
        return PC_E_INTERNAL;
    const arc_backup_opts *o = b->o;
    if (o->max_archive_size == 0)
        return pc_err(PC_E_USAGE, "max-archive-size must be positive");
    if (o->wal_timeout_ms < 0)
        return pc_err(PC_E_USAGE, "wal-timeout must not be negative");
    b->threads = o->jobs > 1 ? o->jobs : 1;

    /* a part of up to 1 GiB past the limit must fit in MAX_PARTS parts, with room to spare */
    uint64_t need = (o->max_archive_size + GiB) / (MAX_PARTS * 9 / 10) + 1;
    need = (need + MiB - 1) / MiB * MiB;
    if (need > pc_cfg_size(b->cfg, "part-size")) {
        char v[32];
        snprintf(v, sizeof v, "%" PRIu64, need);
        if ((st = pc_cfg_set(b->cfg, "part-size", v, PC_CFG_SRC_FLAG)) != PC_OK)
            return st;
        pc_info("part-size raised to %" PRIu64 " MiB for --max-archive-size", need / MiB);
    }
    if (o->jobs > 0 && pc_cfg_source_of(b->cfg, "parts-in-flight") == PC_CFG_SRC_DEFAULT) {
        char v[16];
        snprintf(v, sizeof v, "%d", o->jobs);
        if ((st = pc_cfg_set(b->cfg, "parts-in-flight", v, PC_CFG_SRC_FLAG)) != PC_OK)
            return st;
    }
    if ((st = repo_open_cfg(b->cfg, &b->r)) != PC_OK)
        return st;

    char *state = NULL;
    const char *cat_path = pc_cfg_str(b->cfg, "catalog");
    if ((st = pc_state_dir(b->cfg, &state)) != PC_OK)
        return st;
    if (cat_path)
        b->catalog_path = pc_strdup(cat_path);
    else
        st = cat_default_path(state, pc_cfg_str(b->cfg, "repo"), b->server, &b->catalog_path);
    char tag[200];
    pc_repo_server_tag(pc_cfg_str(b->cfg, "repo"), b->server, tag, sizeof tag);
    char *locks = pc_path_join(state, "locks");
    if (!st && locks)
        st = pc_mkdirs(locks, 0700);
    if (!st && locks)
        b->lock_path = pc_asprintf("%s/%s.backup.lock", locks, tag);
    free(locks);
    free(state);
    if (!st && (!b->catalog_path || !b->lock_path))
        st = PC_E_INTERNAL;
    return st;
}

static pc_status check_store(bk *b)
{
    pc_status st = repo_check(b->r);
    if (st == PC_E_NO_BUCKET && b->o->create_bucket)
        st = repo_create_bucket(b->r);
    return st;
}

static pc_status connect_pg(bk *b)
{
    const arc_backup_opts *o = b->o;
    bb_connopts co = {o->host, o->port, o->user, o->dbname, "pgcask"};
    pc_status st = bb_connect(&co, false, &b->pg);
    if (st)
        return st;
    int v = bb_server_version(b->pg);
    if (v < BB_MIN_SERVER_VERSION) {
        if (v >= 100000)
            pc_err(PC_E_PG, "PostgreSQL %d is too old for pgcask backup", v / 10000);
        else
            pc_err(PC_E_PG, "PostgreSQL %d.%d is too old for pgcask backup", v / 10000,
                   (v / 100) % 100);
        pc_err_detail("pgcask streams the backup with the BASE_BACKUP protocol of PostgreSQL 15 "
                      "and later.");
        pc_err_hint("Take this server's backups with barman-cloud-backup or pg_basebackup "
                    "until it is upgraded.");
        return PC_E_PG;
    }
    if ((st = bb_server_info_get(b->pg, &b->srv)) != PC_OK)
        return st;
    if (b->srv.archive_mode && strcmp(b->srv.archive_mode, "off") == 0)
        pc_warn("archive_mode is off: the WAL this backup needs will never be archived, and the "
                "backup will end as WAITING_FOR_WALS");
    if ((st = bb_connect(&co, true, &b->repl)) != PC_OK)
        return st;
    return bb_identify_system(b->repl, &b->sys);
}

static pc_status take_lock(bk *b)
{
    pc_status st = pc_flock_acquire(b->lock_path, 0, &b->lock);
    if (st == PC_E_BUSY) {
        pc_err(PC_E_BUSY, "another backup of server \"%s\" to %s is running on this host",
               b->server, repo_url(b->r));
        pc_err_hint("Wait for it to finish; two backups of one server at once are not "
                    "supported.");
    }
    b->locked = st == PC_OK;
    return st;
}

/* ---- catalog ---- */

/* The parts and files of the backup, from the stream receiver or the local walk. */
static size_t nparts_of(const bk *b)
{
    return b->lc ? bk_local_nparts(b->lc) : b->rv ? bk_recv_nparts(b->rv) : 0;
}

static const bk_part *part_of(const bk *b, size_t i)
{
    return b->lc ? bk_local_part(b->lc, i) : bk_recv_part(b->rv, i);
}

static const cat_mf_index *files_of(const bk *b)
{
    return b->lc ? bk_local_files(b->lc) : bk_recv_files(b->rv);
}

/* Copy the receiver's results into b (they outlive it). */
static void snapshot(bk *b)
{
    if (b->lc) {
        const bk_local_stats *ls = bk_local_get_stats(b->lc);
        b->logical = ls->logical;
        b->copied = ls->copied_bytes;
        b->kept_files = ls->kept_files;
        b->kept_bytes = ls->kept_bytes;
    } else if (b->rv) {
        const char *label = bk_recv_backup_label(b->rv);
        free(b->label);
        b->label = label ? pc_strdup(label) : NULL;
        b->logical = bk_recv_logical_size(b->rv);
    } else {
        return;
    }
    b->nparts = nparts_of(b);
    b->nfiles = cat_mf_index_count(files_of(b));
    b->stored = 0;
    for (size_t i = 0; i < b->nparts; i++)
        b->stored += part_of(b, i)->size;
}

static pc_status catalog_put(bk *b, cat_backup_status status, const char *error)
{
    uint64_t segsize = b->srv.wal_segment_size;
    char begin_wal[PC_WAL_NAME_MAX] = "", end_wal[PC_WAL_NAME_MAX] = "";
    uint64_t first = 0, last = 0;
    if (b->have_start) {
        bk_wal_range(b->pos.start_lsn, b->have_end ? b->pos.end_lsn : b->pos.start_lsn, segsize,
                     &first, &last);
        pc_wal_segment_name(b->pos.start_tli, first, segsize, begin_wal);
        if (b->have_end)
            pc_wal_segment_name(b->pos.end_tli, last, segsize, end_wal);
    }
    cat_backup cb = {
        .id = b->id,
        .name = b->o->name,
        .type = b->type,
        .parent_id = b->parent.id[0] ? b->parent.id : NULL,
        .status = status,
        .begin_wal = b->have_start ? begin_wal : NULL,
        .end_wal = b->have_end ? end_wal : NULL,
        .begin_lsn = b->have_start ? b->pos.start_lsn : PC_LSN_INVALID,
        .end_lsn = b->have_end ? b->pos.end_lsn : PC_LSN_INVALID,
        .begin_offset = b->have_start ? b->pos.start_lsn % segsize : 0,
        .end_offset = b->have_end ? b->pos.end_lsn % segsize : 0,
        .timeline = b->have_start ? b->pos.start_tli : b->sys.timeline,
        .begin_time = b->begin_time ? b->begin_time : b->t0_us,
        .end_time = b->end_time,
        .systemid = b->sys.systemid,
        .pg_version = b->srv.version_num,
        .size = b->logical,
        .stored_size = b->stored,
        .codec = b->o->codec,
        .error = error,
        .has_manifest = b->manifest_size > 0,
    };
    cat *c;
    pc_status st = cat_open(b->catalog_path, &c);
    if (st == PC_OK) {
        st = cat_backup_put(c, &cb);
        cat_close(c);
    }
    return st;
}

typedef struct id_list {
    char (*ids)[16];
    size_t n;
} id_list;

static pc_status collect_started(void *arg, const cat_backup *cb)
{
    id_list *l = arg;
    if (cb->status != CAT_STATUS_STARTED)
        return PC_OK;
    void *p = pc_realloc(l->ids, (l->n + 1) * sizeof *l->ids);
    if (!p)
        return PC_E_INTERNAL;
    l->ids = p;
    snprintf(l->ids[l->n++], 16, "%s", cb->id);
    return PC_OK;
}

/*
 * A STARTED entry with no backup.info is a backup that died (kill -9, a
 * crash): with the lock held, no other backup of this server runs here.
 */
static pc_status catalog_mark_dead(bk *b)
{
    cat *c;
    id_list l = {0};
    pc_status st = cat_open(b->catalog_path, &c);
    if (st)
        return st;
    st = cat_backup_list(c, collect_started, &l);
    for (size_t i = 0; st == PC_OK && i < l.n; i++) {
        char *key = pc_layout_backup_key(b->server, l.ids[i], BACKUP_INFO);
        repo_obj info;
        pc_status hs = key ? repo_head(b->r, key, &info) : PC_E_INTERNAL;
        free(key);
        if (hs == PC_OK)
            continue;
        if (hs != PC_E_NOT_FOUND) {
            st = hs;
            break;
        }
        cat_backup old;
        if ((st = cat_backup_get(c, l.ids[i], &old)) != PC_OK)
            break;
        old.status = CAT_STATUS_FAILED;
        old.error = "failure uploading data (the backup process ended without writing "
                    "backup.info)";
        st = cat_backup_put(c, &old);
        cat_backup_clear(&old);
        if (st == PC_OK)
            pc_warn("backup %s had no backup.info: marked FAILED in the catalog", l.ids[i]);
    }
    free(l.ids);
    cat_close(c);
    return st;
}

/* ---- start ---- */

static pc_status no_objects(const repo_entry *e, void *ud)
{
    return PC_E_CONFLICT; /* stops the listing at the first object */
}

/* The id is the start time to the second, as barman names backups. When that
 * second's id is taken (the previous backup was short and started in the same
 * second), the next second is waited for: a backup never overwrites another. */
static pc_status claim_id(bk *b)
{
    for (int attempt = 0;; attempt++) {
        b->t0_us = pc_now_us();
        b->t0_mono = pc_now_mono_us();
        pc_time_backup_id(b->t0_us, b->id, sizeof b->id);
        snprintf(b->res->backup_id, sizeof b->res->backup_id, "%s", b->id);
        free(b->prefix);
        if (!(b->prefix = pc_layout_backup_prefix(b->server, b->id)))
            return PC_E_INTERNAL;
        pc_status st = repo_list(b->r, b->prefix, "/", no_objects, NULL);
        if (st != PC_E_CONFLICT)
            return st;
        if (attempt == 2) {
            pc_err(PC_E_CONFLICT, "backup %s already exists in %s (server %s)", b->id,
                   repo_url(b->r), b->server);
            pc_err_hint("Another backup is starting every second; nothing was overwritten. Run "
                        "the backup again.");
            return PC_E_CONFLICT;
        }
        pc_debug("backup id %s is taken; waiting for the next second", b->id);
        pc_sleep_ms(1001 - (b->t0_us / 1000) % 1000);
        if (got_signal)
            return interrupted();
    }
}

static pc_status clean_leftovers(bk *b)
{
    char *base = pc_layout_base_prefix(b->server);
    if (!base)
        return PC_E_INTERNAL;
    size_t n = 0;
    pc_status st = repo_abort_uploads(b->r, base, &n);
    free(base);
    if (st == PC_OK && n > 0)
        pc_warn("aborted %zu unfinished upload%s left under %s/base/ by an interrupted backup", n,
                n == 1 ? "" : "s", b->server);
    return st;
}

/* ---- streaming ---- */

static pc_status cb_begin(void *ud, pc_lsn start, uint32_t tli, const bb_tablespace *ts, size_t nts)
{
    bk *b = ud;
    b->pos.start_lsn = start;
    b->pos.start_tli = tli;
    b->have_start = true;
    b->begin_time = pc_now_us();
    b->ts = pc_calloc(nts, sizeof *b->ts);
    if (!b->ts)
        return PC_E_INTERNAL;
    uint64_t total = 0;
    for (size_t i = 0; i < nts; i++) {
        b->ts[i] = ts[i];
        b->ts[i].location = NULL;
        b->nts++;
        if (ts[i].location && !(b->ts[i].location = pc_strdup(ts[i].location)))
            return PC_E_INTERNAL;
        if (ts[i].size > 0)
            total += (uint64_t)ts[i].size;
    }
    char lsn[32];
    pc_lsn_format(start, lsn, sizeof lsn);
    pc_info(
        "backup %s started at %s on timeline %" PRIu32 ", about %" PRIu64 " MiB, data checksums %s",
        b->id, lsn, tli, total / MiB, b->srv.data_checksums ? b->srv.data_checksums : "unknown");
    b->progress = pc_progress_new("backup", total);
    return bk_recv_tablespaces(b->rv, ts, nts);
}

static pc_status cb_archive(void *ud, const char *name, const char *spclocation)
{
    return bk_recv_archive(((bk *)ud)->rv, name, spclocation);
}

static pc_status cb_data(void *ud, const void *data, size_t len)
{
    return bk_recv_data(((bk *)ud)->rv, data, len);
}

static pc_status cb_progress(void *ud, uint64_t done)
{
    bk *b = ud;
    if (done > b->progress_done) {
        pc_progress_add(b->progress, done - b->progress_done);
        b->progress_done = done;
    }
    return PC_OK;
}

static pc_status cb_manifest(void *ud, const void *data, size_t len)
{
    return bk_recv_manifest_data(((bk *)ud)->rv, data, len);
}

static pc_status cb_tick(void *ud)
{
    (void)ud;
    return stopping() ? interrupted() : PC_OK;
}

static pc_status stream(bk *b)
{
    const arc_backup_opts *o = b->o;
    bk_recv_opts ro = {
        .r = b->r,
        .prefix = b->prefix,
        .backup_id = b->id,
        .codec = (cmp_codec)o->codec,
        .level = o->level,
        .threads = b->threads,
        .max_part = o->max_archive_size,
        .now = b->t0_us / 1000000,
    };
    pc_status st = bk_recv_new(&ro, &b->rv);
    if (st)
        return st;
    char label[64];
    snprintf(label, sizeof label, "pgcask backup %s", b->id);
    bb_options bo = {.label = label, .fast_checkpoint = o->fast_checkpoint};
    bb_callbacks cb = {
        .begin = cb_begin,
        .archive = cb_archive,
        .archive_data = cb_data,
        .progress = cb_progress,
        .manifest_data = cb_manifest,
        .tick = cb_tick,
    };
    bb_result pos;
    st = bb_run(b->repl, &bo, &cb, b, &pos);
    if (st == PC_OK)
        pc_progress_done(b->progress);
    pc_progress_free(b->progress);
    b->progress = NULL;
    if (st)
        return st;
    b->pos.end_lsn = pos.end_lsn;
    b->pos.end_tli = pos.end_tli;
    b->have_end = true;
    b->end_time = pc_now_us();
    /* the replication connection is done; a cancelled backup ends when it closes */
    bb_close(b->repl);
    b->repl = NULL;
    if ((st = bk_recv_finish(b->rv)) != PC_OK)
        return st;
    b->copy_done_mono = pc_now_mono_us();
    return PC_OK;
}

/* ---- after the stream ---- */

static void switch_wal(bk *b)
{
    if (b->srv.in_recovery) {
        pc_info("the server is a standby: not calling pg_switch_wal()");
        return;
    }
    pc_lsn lsn;
    pc_status st = b->pg ? bb_switch_wal(b->pg, &lsn) : PC_E_PG;
    if (st) {
        /* the connection sat idle through the backup: the server may have closed it */
        bb_close(b->pg);
        b->pg = NULL;
        bb_connopts co = {b->o->host, b->o->port, b->o->user, b->o->dbname, "pgcask"};
        st = bb_connect(&co, false, &b->pg);
        if (st == PC_OK)
            st = bb_switch_wal(b->pg, &lsn);
    }
    if (st) {
        pc_warn("%s (continuing: PostgreSQL switched WAL files at the end of the backup)",
                pc_err_get()->message);
        pc_err_clear();
    }
}

static pc_status write_manifest(bk *b)
{
    char *key = pc_asprintf("%s%s", b->prefix, CAT_MF_NAME);
    if (!key)
        return PC_E_INTERNAL;
    pc_sink *put, *count, *z;
    pc_status st = repo_put_stream(b->r, key, NULL, &put);
    if (st == PC_OK && (st = pc_sink_count_new(put, &count)) == PC_OK)
        st = cmp_compress_new(CMP_ZSTD, CMP_LEVEL_DEFAULT, 1, count, &z);
    if (st) {
        free(key);
        return st;
    }
    cat_mf_header h = {
        .backup_id = b->id,
        .type = cat_backup_type_name(b->type),
        .parent_id = b->parent.id[0] ? b->parent.id : NULL,
        .server = b->server,
        .system_id = b->sys.systemid,
        .pg_version = b->srv.version_num,
        .timeline = b->pos.start_tli,
        .compression = cmp_codec_name((cmp_codec)b->o->codec),
        .created_at = b->t0_us,
    };
    cat_mfw *w;
    if ((st = cat_mfw_new(z, &h, &w)) != PC_OK) {
        free(key);
        return st;
    }
    for (size_t i = 0; st == PC_OK && i < nparts_of(b); i++) {
        const bk_part *p = part_of(b, i);
        cat_mf_archive a = {p->name, p->tablespace, p->size, p->raw_size, p->sha256};
        st = cat_mfw_archive(w, &a);
    }
    const cat_mf_index *files = files_of(b);
    for (size_t i = 0; st == PC_OK && i < cat_mf_index_count(files); i++)
        st = cat_mfw_file(w, cat_mf_index_at(files, i));
    if (st == PC_OK)
        st = cat_mfw_finish(w);
    if (st == PC_OK)
        b->manifest_size = pc_sink_count_bytes(count);
    else
        pc_err_context("storing \"%s\"", key);
    cat_mfw_free(w);
    free(key);
    return st;
}

typedef struct listed {
    bk *b;
    bool *seen; /* per part */
    bool manifest;
    pc_status st;
} listed;

static pc_status check_listed(const repo_entry *e, void *ud)
{
    listed *l = ud;
    bk *b = l->b;
    const char *name = e->key + strlen(b->prefix);
    if (!e->is_prefix && strcmp(name, CAT_MF_NAME) == 0 && e->size == b->manifest_size) {
        l->manifest = true;
        return PC_OK;
    }
    for (size_t i = 0; !e->is_prefix && i < nparts_of(b); i++) {
        const bk_part *p = part_of(b, i);
        if (strcmp(p->name, name) == 0 && p->size == e->size) {
            l->seen[i] = true;
            return PC_OK;
        }
    }
    pc_err(PC_E_CONFLICT, "\"%s\" in backup %s was not written by this backup", e->key, b->id);
    pc_err_hint("Another process wrote into this backup's folder; the backup is not trusted.");
    return PC_E_CONFLICT;
}

/* One listing: exactly the objects this backup wrote, with their sizes. */
static pc_status check_objects(bk *b)
{
    size_t n = nparts_of(b);
    listed l = {.b = b, .seen = pc_calloc(n ? n : 1, sizeof(bool))};
    if (!l.seen)
        return PC_E_INTERNAL;
    pc_status st = repo_list(b->r, b->prefix, "/", check_listed, &l);
    for (size_t i = 0; st == PC_OK && i < n; i++)
        if (!l.seen[i])
            st = pc_err(PC_E_REMOTE, "\"%s%s\" is missing from the repository after its upload",
                        b->prefix, part_of(b, i)->name);
    if (st == PC_OK && !l.manifest)
        st = pc_err(PC_E_REMOTE, "\"%s%s\" is missing from the repository after its upload",
                    b->prefix, CAT_MF_NAME);
    free(l.seen);
    return st;
}

static pc_status found_wal(const repo_wal_obj *o, void *ud)
{
    *(bool *)ud = true;
    return PC_OK;
}

typedef struct wal_scan {
    const char *server;
    uint32_t tli;
    uint64_t first, last, segsize;
    bool *have;
} wal_scan;

static pc_status scan_dir_entry(const repo_entry *e, void *ud)
{
    wal_scan *s = ud;
    pc_wal_name w;
    char ext[16];
    if (e->is_prefix || !pc_layout_parse_wal_key(s->server, e->key, &w, ext, sizeof ext))
        return PC_OK;
    if (w.kind != PC_WAL_SEGMENT || w.tli != s->tli)
        return PC_OK;
    uint64_t segno = pc_wal_name_segno(&w, s->segsize);
    if (segno >= s->first && segno <= s->last)
        s->have[segno - s->first] = true;
    return PC_OK;
}

/* Sleep about ms, returning early on a signal. */
static pc_status nap(int64_t ms)
{
    for (int64_t t = 0; t < ms; t += 50) {
        if (stopping())
            return interrupted();
        pc_sleep_ms(ms - t < 50 ? ms - t : 50);
    }
    return stopping() ? interrupted() : PC_OK;
}

/*
 * Every segment from begin_wal to end_wal must be in the repository: one
 * listing per WAL folder first, then repo_wal_find on the first missing
 * segment (after 0.1, 0.2, 0.4, 0.8 s, then every second) until the timeout.
 */
static pc_status wait_for_wal(bk *b, char *missing, size_t missing_len)
{
    uint64_t segsize = b->srv.wal_segment_size, first, last;
    bk_wal_range(b->pos.start_lsn, b->pos.end_lsn, segsize, &first, &last);
    size_t n = (size_t)(last - first + 1);
    wal_scan s = {b->server, b->pos.start_tli, first, last, segsize, pc_calloc(n, sizeof(bool))};
    if (!s.have)
        return PC_E_INTERNAL;
    uint64_t per_dir = ((uint64_t)1 << 32) / segsize;
    pc_status st = PC_OK;
    for (uint64_t segno = first; st == PC_OK && segno <= last;
         segno = segno - segno % per_dir + per_dir) {
        char name[PC_WAL_NAME_MAX];
        pc_wal_name w;
        pc_wal_segment_name(b->pos.start_tli, segno, segsize, name);
        char *dir = pc_wal_parse(name, &w) == PC_OK ? pc_layout_wal_dir(b->server, &w) : NULL;
        st = dir ? repo_list(b->r, dir, NULL, scan_dir_entry, &s) : PC_E_INTERNAL;
        free(dir);
    }
    int64_t deadline = pc_now_mono_ms() + b->o->wal_timeout_ms;
    bool logged = false;
    /* the archiver usually needs well under a second: look again soon, then every second */
    int64_t pause = WAL_POLL_MS / 10;
    for (size_t i = 0; st == PC_OK && i < n;) {
        if (s.have[i]) {
            i++;
            continue;
        }
        uint64_t segno = first + i;
        uint32_t tli = segno == last ? b->pos.end_tli : b->pos.start_tli;
        char name[PC_WAL_NAME_MAX];
        pc_wal_name w;
        pc_wal_segment_name(tli, segno, segsize, name);
        if ((st = pc_wal_parse(name, &w)) != PC_OK)
            break;
        bool found = false;
        if ((st = repo_wal_find(b->r, b->server, &w, found_wal, &found)) != PC_OK)
            break;
        if (found) {
            s.have[i] = true;
            continue;
        }
        if (pc_now_mono_ms() >= deadline) {
            snprintf(missing, missing_len, "%s", name);
            st = PC_E_TIMEOUT;
            break;
        }
        if (!logged) {
            pc_info("waiting for WAL segment %s to be archived", name);
            logged = true;
        }
        st = nap(pause);
        pause = pause * 2 < WAL_POLL_MS ? pause * 2 : WAL_POLL_MS;
    }
    free(s.have);
    return st;
}

static pc_status put_backup_info(bk *b, cat_binfo_status status, const char *error)
{
    double total = (double)(pc_now_mono_us() - b->t0_mono) / 1e6;
    double copy = b->copy_done_mono ? (double)(b->copy_done_mono - b->t0_mono) / 1e6 : total;
    bk_info_in in = {
        .backup_id = b->id,
        .backup_name = b->o->name,
        .backup_label = b->label,
        .srv = &b->srv,
        .sys = &b->sys,
        .ts = b->ts,
        .nts = b->nts,
        .have_start = b->have_start,
        .have_end = b->have_end,
        .pos = b->pos,
        .begin_time = b->begin_time ? b->begin_time : b->t0_us,
        /* a FAILED backup has no end time: CloudNativePG reads "both times set" as finished */
        .end_time = status == CAT_BINFO_FAILED ? 0 : b->end_time,
        .size = b->logical,
        .total_seconds = total,
        .copy_seconds = copy,
        .workers = b->threads,
        .status = status,
        .error = error,
    };
    cat_binfo info;
    pc_status st = bk_binfo_fill(&in, &info);
    if (st)
        return st;
    if (b->type != CAT_BACKUP_FULL && b->lc)
        info.deduplicated_size =
            (int64_t)b->copied; /* barman's meaning: the bytes this backup added */
    pc_buf text;
    pc_buf_init(&text, CAT_BINFO_MAX_SIZE);
    st = cat_binfo_format(&info, &text);
    cat_binfo_free(&info);
    char *key = st == PC_OK ? pc_layout_backup_key(b->server, b->id, BACKUP_INFO) : NULL;
    if (st == PC_OK && !key)
        st = PC_E_INTERNAL;
    if (st == PC_OK)
        st = repo_put(b->r, key, text.data, text.len, NULL);
    free(key);
    pc_buf_free(&text);
    return st;
}

/* barman's "failure <phase> (<first line of the message>)". */
static void failure_text(const bk *b, const pc_error *e, char *out, size_t len)
{
    char msg[PC_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", e->message[0] ? e->message : pc_status_name(e->status));
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    snprintf(out, len, "failure %s (%s)", b->phase, msg);
}

/* Record the failure in backup.info and the catalog, keeping the original error. */
static void record_failure(bk *b)
{
    pc_error saved;
    pc_err_save(&saved);
    char text[PC_ERR_MSG_MAX + 64];
    failure_text(b, &saved, text, sizeof text);
    if (put_backup_info(b, CAT_BINFO_FAILED, text) != PC_OK)
        pc_warn("could not store backup.info with status FAILED: %s", pc_err_get()->message);
    if (catalog_put(b, CAT_STATUS_FAILED, text) != PC_OK)
        pc_warn("could not record the failed backup in the catalog: %s", pc_err_get()->message);
    pc_err_restore(&saved);
}

/* ==== local mode: pg_backup_start(), the walk, pg_backup_stop() ==== */

typedef struct control_row {
    char sysid[24];
    uint32_t catversion;
    uint32_t tli;
    pc_lsn checkpoint;
} control_row;

static bool cell_u32(const char *v, uint32_t *out)
{
    if (!v || !*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 10)
        return false;
    uint64_t x = strtoull(v, NULL, 10);
    if (x > UINT32_MAX)
        return false;
    *out = (uint32_t)x;
    return true;
}

static pc_status on_control(void *ud, const bb_rows *r)
{
    control_row *c = ud;
    const char *const *v = r->cells;
    if (r->nrows != 1 || r->ncols < 4 || !v[0] || strlen(v[0]) >= sizeof c->sysid ||
        strspn(v[0], "0123456789") != strlen(v[0]) || !cell_u32(v[1], &c->catversion) ||
        !cell_u32(v[2], &c->tli) || !v[3] || pc_lsn_parse(v[3], &c->checkpoint) != PC_OK)
        return pc_err(PC_E_PG, "unexpected reply reading pg_control_system() and "
                               "pg_control_checkpoint()");
    snprintf(c->sysid, sizeof c->sysid, "%s", v[0]);
    return PC_OK;
}

static const char CONTROL_SQL[] =
    "SELECT s.system_identifier::text, s.catalog_version_no, c.timeline_id, c.checkpoint_lsn "
    "FROM pg_catalog.pg_control_system() s, pg_catalog.pg_control_checkpoint() c";

static pc_status read_control(bk *b, control_row *c)
{
    memset(c, 0, sizeof *c);
    return bb_query(b->pg, CONTROL_SQL, "reading the server's control data", cb_tick, on_control,
                    c);
}

static pc_status on_checkpoint(void *ud, const bb_rows *r)
{
    pc_lsn *lsn = ud;
    if (r->nrows != 1 || r->ncols < 1 || !r->cells[0] || pc_lsn_parse(r->cells[0], lsn) != PC_OK)
        return pc_err(PC_E_PG, "unexpected reply reading pg_control_checkpoint()");
    return PC_OK;
}

/*
 * The files read must be the server's: a standby of it has the same system
 * identifier. The checkpoint in the directory's pg_control must be the one
 * the server reports (PostgreSQL reads it from its own pg_control); a
 * checkpoint between the two reads makes them differ once, so look twice.
 */
static pc_status check_same_cluster(bk *b)
{
    char *path = pc_path_join(b->pgdata, "global/pg_control");
    if (!path)
        return PC_E_INTERNAL;
    pc_status st = PC_OK;
    pc_lsn server = PC_LSN_INVALID, file = PC_LSN_INVALID;
    for (int attempt = 0; st == PC_OK && attempt < 3; attempt++) {
        pc_buf buf;
        pc_buf_init(&buf, 8192);
        st = bb_query(b->pg, "SELECT checkpoint_lsn FROM pg_catalog.pg_control_checkpoint()",
                      "reading pg_control_checkpoint()", cb_tick, on_checkpoint, &server);
        if (st == PC_OK)
            st = pc_read_file(path, 8192, &buf);
        if (st == PC_OK && buf.len >= 40)
            memcpy(&file, buf.data + 32, sizeof file); /* ControlFileData.checkPoint */
        pc_buf_free(&buf);
        if (st == PC_OK && file == server)
            break;
        if (st == PC_OK)
            pc_sleep_ms(100);
    }
    free(path);
    if (st || file == server)
        return st;
    char a[32], c[32];
    pc_lsn_format(file, a, sizeof a);
    pc_lsn_format(server, c, sizeof c);
    pc_err(PC_E_USAGE,
           "--local \"%s\" is not the data directory of the server the connection reaches: its "
           "pg_control holds checkpoint %s, the server's %s",
           b->pgdata, a, c);
    pc_err_hint("A standby of the server has the same system identifier: give the data directory "
                "of the server you connect to.");
    return PC_E_USAGE;
}

static pc_status connect_local(bk *b)
{
    const arc_backup_opts *o = b->o;
    bb_connopts co = {o->host, o->port, o->user, o->dbname, "pgcask"};
    pc_status st = bb_connect(&co, false, &b->pg);
    if (st)
        return st;
    int v = bb_server_version(b->pg);
    if (v < 130000) {
        pc_err(PC_E_PG, "PostgreSQL %d.%d is too old for pgcask backup --local", v / 10000,
               (v / 100) % 100);
        pc_err_hint("Local backups use the non-exclusive pg_start_backup()/pg_backup_start() of "
                    "PostgreSQL 13 and later.");
        return PC_E_PG;
    }
    if ((st = bb_server_info_get(b->pg, &b->srv)) != PC_OK)
        return st;
    if (b->srv.archive_mode && strcmp(b->srv.archive_mode, "off") == 0)
        pc_warn("archive_mode is off: the WAL this backup needs will never be archived, and the "
                "backup will end as WAITING_FOR_WALS");
    /* the backup lives as long as this session: nothing may end it early */
    st = bb_query(b->pg,
                  v >= 140000 ? "SET statement_timeout = 0; SET idle_session_timeout = 0"
                              : "SET statement_timeout = 0",
                  "setting the session's timeouts", cb_tick, NULL, b);
    control_row c;
    if (st == PC_OK)
        st = read_control(b, &c);
    if (st)
        return st;
    snprintf(b->sys.systemid, sizeof b->sys.systemid, "%s", c.sysid);
    b->sys.timeline = c.tli;
    snprintf(b->version_dir, sizeof b->version_dir, "PG_%d_%" PRIu32, v / 10000, c.catversion);

    char real[PATH_MAX];
    if (!realpath(o->local, real)) {
        if (errno == ENOENT || errno == ENOTDIR) {
            pc_err(PC_E_USAGE, "--local \"%s\" does not exist", o->local);
            pc_err_hint("Give the data directory of the PostgreSQL server the connection reaches "
                        "(SHOW data_directory).");
            return PC_E_USAGE;
        }
        return pc_err(PC_E_IO, "could not resolve --local \"%s\": %m", o->local);
    }
    if (!(b->pgdata = pc_strdup(real)))
        return PC_E_INTERNAL;
    uint64_t file_sysid = 0;
    int major = 0;
    if ((st = bk_local_check_pgdata(b->pgdata, &file_sysid, &major)) != PC_OK)
        return st;
    if (file_sysid != strtoull(c.sysid, NULL, 10) || major != v / 10000) {
        pc_err(PC_E_USAGE,
               "--local \"%s\" is the data directory of another cluster: system identifier %" PRIu64
               ", PostgreSQL %d; the server reached has %s, PostgreSQL %d",
               b->pgdata, file_sysid, major, c.sysid, v / 10000);
        pc_err_hint("Give the data directory of the server the connection reaches (SHOW "
                    "data_directory), or connect to the server of that directory.");
        return PC_E_USAGE;
    }
    if ((st = bk_local_tablespaces(b->pgdata, &b->lts, &b->nlts)) != PC_OK)
        return st;
    /* BASE_BACKUP's tablespace list, for backup.info: the tablespaces, then the data directory */
    if (!(b->ts = pc_calloc(b->nlts + 1, sizeof *b->ts)))
        return PC_E_INTERNAL;
    for (size_t i = 0; i < b->nlts; i++) {
        b->ts[i].oid = b->lts[i].oid;
        b->ts[i].size = -1;
        b->nts++;
        if (!(b->ts[i].location = pc_strdup(b->lts[i].location)))
            return PC_E_INTERNAL;
    }
    b->ts[b->nts++] = (bb_tablespace){.is_base = true, .size = -1};
    return check_same_cluster(b);
}

static pc_status choose_parent(bk *b)
{
    if (b->type == CAT_BACKUP_FULL)
        return PC_OK;
    if (!b->o->local) {
        pc_err(PC_E_USAGE, "a %s backup needs --local", cat_backup_type_name(b->type));
        pc_err_hint("Differential and incremental backups read the data directory: run pgcask "
                    "backup --local PGDATA on the database host.");
        return PC_E_USAGE;
    }
    pc_status st = bk_parent_find(b->r, b->server, b->type, strtoull(b->sys.systemid, NULL, 10),
                                  b->sys.timeline, b->srv.version_num, 4, &b->parent);
    if (st == PC_OK) {
        pc_info("%s backup %s builds on %s backup %s", cat_backup_type_name(b->type), b->id,
                cat_backup_type_name(b->parent.type), b->parent.id);
        return PC_OK;
    }
    if (st != PC_E_NOT_FOUND && st != PC_E_CORRUPT)
        return st;
    pc_warn("%s: taking a full backup instead of the %s backup asked for", pc_err_get()->message,
            cat_backup_type_name(b->type));
    pc_err_clear();
    b->type = CAT_BACKUP_FULL;
    return PC_OK;
}

static pc_status on_start(void *ud, const bb_rows *r)
{
    bk *b = ud;
    return bb_parse_position(r, "pg_backup_start() position", &b->pos.start_lsn, &b->pos.start_tli);
}

typedef struct stop_row {
    bk *b;
    pc_lsn lsn;
    uint32_t tli;
    char *label;
} stop_row;

static pc_status on_stop(void *ud, const bb_rows *r)
{
    stop_row *s = ud;
    const char *const *v = r->cells;
    if (r->nrows != 1 || r->ncols < 3 || !v[0] || pc_lsn_parse(v[0], &s->lsn) != PC_OK || !v[1] ||
        !*v[1])
        return pc_err(PC_E_PG, "unexpected reply to pg_backup_stop()");
    if (!v[2] || !cell_u32(v[2], &s->tli) || s->tli == 0)
        s->tli = s->b->pos.start_tli;
    s->label = pc_strdup(v[1]);
    return s->label ? PC_OK : PC_E_INTERNAL;
}

static pc_status copy_local(bk *b)
{
    const arc_backup_opts *o = b->o;
    int v = b->srv.version_num;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT lsn, (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()) FROM "
             "pg_catalog.%s('pgcask backup %s', %s%s) AS lsn",
             v >= 150000 ? "pg_backup_start" : "pg_start_backup", b->id,
             o->fast_checkpoint ? "true" : "false", v >= 150000 ? "" : ", false");
    if (!o->fast_checkpoint)
        pc_info("waiting for a spread checkpoint (--immediate-checkpoint makes it fast)");
    b->begin_time = pc_now_us();
    pc_status st = bb_query(b->pg, sql, "pg_backup_start()", cb_tick, on_start, b);
    if (st)
        return st;
    b->have_start = true;
    if (b->type != CAT_BACKUP_FULL &&
        (b->pos.start_tli != b->sys.timeline ||
         (b->parent.end_lsn != PC_LSN_INVALID && b->pos.start_lsn < b->parent.end_lsn))) {
        pc_warn("the server changed timeline or position since backup %s: taking a full backup "
                "instead of the %s backup asked for",
                b->parent.id, cat_backup_type_name(b->type));
        bk_parent_free(&b->parent);
        b->type = CAT_BACKUP_FULL;
    }
    char lsn[32];
    pc_lsn_format(b->pos.start_lsn, lsn, sizeof lsn);
    pc_info("%s backup %s started at %s on timeline %" PRIu32 ", reading %s",
            cat_backup_type_name(b->type), b->id, lsn, b->pos.start_tli, b->pgdata);
    b->progress = pc_progress_new("backup", 0);
    bk_local_opts lo = {
        .r = b->r,
        .prefix = b->prefix,
        .backup_id = b->id,
        .suffix = b->type == CAT_BACKUP_FULL   ? ""
                  : b->type == CAT_BACKUP_DIFF ? "-diff"
                                               : "-incr",
        .codec = (cmp_codec)o->codec,
        .level = o->level,
        .threads = b->threads,
        .max_part = o->max_archive_size,
        .pgdata = b->pgdata,
        .ts = b->lts,
        .nts = b->nlts,
        .version_dir = b->version_dir,
        .pg_version = v,
        .parent = b->type == CAT_BACKUP_FULL ? NULL : b->parent.files,
        .parent_start = b->parent.start,
        .checksum_all = o->checksum_all,
        .isolate = LOCAL_ISOLATE,
        .tick = cb_tick,
        .ud = b,
        .now = b->t0_us / 1000000,
        .progress = b->progress,
    };
    if ((st = bk_local_new(&lo, &b->lc)) != PC_OK || (st = bk_local_copy(b->lc)) != PC_OK)
        return st;
    snprintf(sql, sizeof sql,
             "SELECT lsn, labelfile, CASE WHEN pg_catalog.pg_is_in_recovery() THEN (SELECT "
             "min_recovery_end_timeline FROM pg_catalog.pg_control_recovery()) ELSE (SELECT "
             "timeline_id FROM pg_catalog.pg_control_checkpoint()) END FROM pg_catalog.%s",
             v >= 150000 ? "pg_backup_stop(false)" : "pg_stop_backup(false, false)");
    stop_row sr = {.b = b};
    st = bb_query(b->pg, sql, "pg_backup_stop()", cb_tick, on_stop, &sr);
    if (st) {
        free(sr.label);
        return st;
    }
    free(b->label);
    b->label = sr.label;
    b->pos.end_lsn = sr.lsn;
    b->pos.end_tli = sr.tli;
    b->have_end = true;
    b->end_time = pc_now_us();
    if ((st = bk_local_finish(b->lc, b->label)) != PC_OK)
        return st;
    pc_progress_done(b->progress);
    pc_progress_free(b->progress);
    b->progress = NULL;
    b->copy_done_mono = pc_now_mono_us();
    const bk_local_stats *ls = bk_local_get_stats(b->lc);
    if (ls->vanished || ls->shrunk || ls->grew)
        pc_info("%" PRIu64 " files vanished, %" PRIu64 " shrank and %" PRIu64
                " grew while they were read (WAL replay repairs them)",
                ls->vanished, ls->shrunk, ls->grew);
    if (b->type != CAT_BACKUP_FULL)
        pc_info("%" PRIu64 " files (%.1f MiB) read and stored, %" PRIu64
                " unchanged files (%.1f MiB) taken over from backup %s (%.1f MiB read to "
                "compare)",
                ls->copied_files, (double)ls->copied_bytes / MiB, ls->kept_files,
                (double)ls->kept_bytes / MiB, b->parent.id, (double)ls->hashed_bytes / MiB);
    return PC_OK;
}

static pc_status run(bk *b)
{
    pc_status st = setup(b);
    if (st == PC_OK)
        st = check_store(b);
    if (st)
        return st;
    b->res->pg_attempted = true;
    if ((st = b->o->local ? connect_local(b) : connect_pg(b)) != PC_OK ||
        (st = take_lock(b)) != PC_OK)
        return st;
    signals_on(b);
    if ((st = claim_id(b)) != PC_OK || (st = clean_leftovers(b)) != PC_OK)
        return st;
    if (catalog_mark_dead(b) != PC_OK) {
        pc_warn("could not check the catalog for interrupted backups: %s", pc_err_get()->message);
        pc_err_clear();
    }
    if ((st = choose_parent(b)) != PC_OK)
        return st;
    if ((st = catalog_put(b, CAT_STATUS_STARTED, NULL)) != PC_OK)
        return st;
    b->started = true;
    b->phase = "uploading data";
    st = b->o->local ? copy_local(b) : stream(b);
    snapshot(b);
    if (st)
        return st;
    switch_wal(b);
    if ((st = write_manifest(b)) != PC_OK)
        return st;
    b->phase = "waiting for WAL";
    char missing[PC_WAL_NAME_MAX] = "";
    pc_status wst = wait_for_wal(b, missing, sizeof missing);
    if (wst && wst != PC_E_TIMEOUT)
        return wst;
    b->phase = "uploading backup.info file";
    if ((st = check_objects(b)) != PC_OK)
        return st;
    cat_binfo_status bst = wst ? CAT_BINFO_WAITING_FOR_WALS : CAT_BINFO_DONE;
    if ((st = put_backup_info(b, bst, NULL)) != PC_OK)
        return st;
    b->started = false; /* backup.info is final: nothing to mark FAILED any more */
    if (catalog_put(b, wst ? CAT_STATUS_WAITING_FOR_WALS : CAT_STATUS_DONE, NULL) != PC_OK) {
        pc_warn("backup %s is stored, but the catalog could not record it: %s (`pgcask catalog "
                "sync` repairs it)",
                b->id, pc_err_get()->message);
        pc_err_clear();
    }
    if (wst) {
        char secs[32];
        snprintf(secs, sizeof secs, "%.0f s", (double)b->o->wal_timeout_ms / 1000);
        pc_err(PC_E_TIMEOUT, "WAL segment %s, needed by backup %s, was not archived within %s",
               missing, b->id, secs);
        pc_err_detail("backup.info of %s says WAITING_FOR_WALS.", b->id);
        pc_err_hint("Check archive_command and pg_stat_archiver (last_failed_wal) on the server; "
                    "the backup can be restored once that segment is archived.");
        return PC_E_TIMEOUT;
    }
    return PC_OK;
}

pc_status arc_backup(pc_cfg *cfg, const arc_backup_opts *o, arc_backup_result *res)
{
    memset(res, 0, sizeof *res);
    bk b = {.cfg = cfg, .o = o, .res = res, .phase = "starting"};
    b.lock.fd = -1;
    b.parent.end_lsn = PC_LSN_INVALID;
    b.type = o->type ? (cat_backup_type)o->type : CAT_BACKUP_FULL;
    pc_status st = PC_OK;
    if (o->type && o->type != CAT_BACKUP_FULL && o->type != CAT_BACKUP_DIFF &&
        o->type != CAT_BACKUP_INCR)
        st = pc_err(PC_E_USAGE, "unknown backup type %d", o->type);
    if (st == PC_OK && !o->local && b.type != CAT_BACKUP_FULL)
        st = choose_parent(&b); /* the usage error, before anything is touched */
    if (st == PC_OK && o->checksum_all && !o->local)
        st = pc_err(PC_E_USAGE, "--checksum-all needs --local");
    if (st == PC_OK)
        st = run(&b);
    if (st && b.started) {
        /* stop the server's side and abort the unfinished uploads before saying FAILED */
        bb_close(b.repl);
        b.repl = NULL;
        if (b.lc) {
            bb_close(b.pg); /* ends the session: PostgreSQL abandons the backup */
            b.pg = NULL;
        }
        snapshot(&b);
        bk_recv_free(b.rv);
        b.rv = NULL;
        bk_local_free(b.lc);
        b.lc = NULL;
        record_failure(&b);
    }
    signals_off(&b);
    res->size = b.logical;
    res->stored_size = b.stored;
    res->archives = b.nparts;
    res->files = b.nfiles;
    res->seconds = b.t0_mono ? (double)(pc_now_mono_us() - b.t0_mono) / 1e6 : 0;
    res->type = (int)b.type;
    snprintf(res->parent_id, sizeof res->parent_id, "%s", b.parent.id);
    res->kept_files = b.kept_files;
    res->kept_bytes = b.kept_bytes;
    res->copied_bytes = b.copied;
    bk_local_free(b.lc);
    bk_local_tablespaces_free(b.lts, b.nlts);
    bk_parent_free(&b.parent);
    free(b.pgdata);
    pc_progress_free(b.progress);
    bk_recv_free(b.rv); /* aborts unfinished parts */
    bb_close(b.repl);
    bb_close(b.pg);
    bb_server_info_free(&b.srv);
    bb_tablespaces_free(b.ts, b.nts);
    if (b.locked)
        pc_flock_release(&b.lock);
    repo_free(b.r);
    free(b.server);
    free(b.catalog_path);
    free(b.lock_path);
    free(b.prefix);
    free(b.label);
    return st;
}
