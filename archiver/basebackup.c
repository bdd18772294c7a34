/* The BASE_BACKUP protocol client (archiver/basebackup.h). */
#include "archiver/basebackup.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/pq.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/log.h"

/* Longest line of a backup_manifest file entry we accept (paths are at most 1 KiB). */
#define MANIFEST_MAX_LINE (64 * 1024)
/* How long to wait on the socket before calling tick again. */
#define POLL_MS 1000

struct bb_conn {
    const pq_api *pq;
    PGconn *conn;
};

/* ==== messages ==== */

/*
 * libpq's messages end with a newline and may hold several lines ("FATAL:
 * ...\nDETAIL: ..."): the first line becomes the message, the rest the
 * detail, so the error record stays one line.
 */
static pc_status pg_fail(pc_status st, const char *what, const char *pgmsg)
{
    char first[PC_ERR_MSG_MAX];
    const char *m = pgmsg && *pgmsg ? pgmsg : "(no message from libpq)";
    size_t n = strcspn(m, "\n");
    snprintf(first, sizeof first, "%.*s", (int)n, m);
    pc_err(st, "%s: %s", what, first);
    const char *rest = m + n;
    while (*rest == '\n')
        rest++;
    if (*rest) {
        char detail[PC_ERR_MSG_MAX];
        size_t o = 0;
        /* libpq indents continuation lines with a tab */
        for (; *rest && o + 1 < sizeof detail; rest++) {
            char ch = *rest == '\n' || *rest == '\t' ? ' ' : *rest;
            if (ch != ' ' || (o > 0 && detail[o - 1] != ' '))
                detail[o++] = ch;
        }
        while (o > 0 && detail[o - 1] == ' ')
            o--;
        detail[o] = '\0';
        pc_err_detail("%s", detail);
    }
    return st;
}

static pc_status protocol_error(const char *fmt, ...) PC_PRINTF(1, 2);
static pc_status protocol_error(const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return pc_err(PC_E_PG, "unexpected reply to BASE_BACKUP: %s", m);
}

/* ==== connections ==== */

/* NOTICEs at INFO; WARNINGs (a page checksum failure during BASE_BACKUP) stay warnings. */
static void notice_to_log(void *arg, const char *message)
{
    size_t n = strlen(message);
    while (n > 0 && message[n - 1] == '\n')
        n--;
    pc_log(strncmp(message, "WARNING", 7) == 0 ? PC_LOG_WARNING : PC_LOG_INFO, "PostgreSQL: %.*s",
           (int)n, message);
}

pc_status bb_connect(const bb_connopts *o, bool replication, bb_conn **out)
{
    const pq_api *pq;
    pc_status st = pq_load(&pq);
    if (st)
        return st;
    const char *kw[8], *val[8];
    int n = 0;
    /* first, so that a conninfo in dbname can override it; PGCONNECT_TIMEOUT is the fallback */
    if (!getenv("PGCONNECT_TIMEOUT")) {
        kw[n] = "connect_timeout";
        val[n++] = "30";
    }
    const char *db = o->dbname ? o->dbname : getenv("PGDATABASE") ? NULL : "postgres";
    if (db) {
        kw[n] = "dbname";
        val[n++] = db;
    }
    if (o->host) {
        kw[n] = "host";
        val[n++] = o->host;
    }
    if (o->port) {
        kw[n] = "port";
        val[n++] = o->port;
    }
    if (o->user) {
        kw[n] = "user";
        val[n++] = o->user;
    }
    kw[n] = "application_name";
    val[n++] = o->application_name ? o->application_name : "pgcask";
    if (replication) {
        kw[n] = "replication";
        val[n++] = "true";
    }
    kw[n] = NULL;
    val[n] = NULL;

    PGconn *conn = pq->connectdb_params(kw, val, 1);
    if (!conn)
        return pc_err(PC_E_INTERNAL, "out of memory connecting to PostgreSQL");
    if (pq->status(conn) != CONNECTION_OK) {
        pg_fail(PC_E_PG,
                replication ? "could not open a replication connection to PostgreSQL"
                            : "could not connect to PostgreSQL",
                pq->error_message(conn));
        if (replication)
            pc_err_hint("The role needs the REPLICATION attribute (or superuser), pg_hba.conf a "
                        "\"replication\" line for it, and max_wal_senders a free slot.");
        else
            pc_err_hint("Check -h/-p/-U/-d (or PGHOST, PGPORT, PGUSER, PGDATABASE) and that "
                        "the server accepts the connection.");
        pq->finish(conn);
        return PC_E_PG;
    }
    pq->set_notice_processor(conn, notice_to_log, NULL);
    bb_conn *c = pc_calloc(1, sizeof *c);
    if (!c) {
        pq->finish(conn);
        return PC_E_INTERNAL;
    }
    c->pq = pq;
    c->conn = conn;
    *out = c;
    return PC_OK;
}

void bb_close(bb_conn *c)
{
    if (!c)
        return;
    c->pq->finish(c->conn);
    free(c);
}

int bb_server_version(const bb_conn *c)
{
    return c->pq->server_version(c->conn);
}

/* Run a query expecting `want`; *res is the caller's to clear. */
static pc_status query(bb_conn *c, const char *sql, const char *what, ExecStatusType want,
                       PGresult **res)
{
    const pq_api *pq = c->pq;
    PGresult *r = pq->exec(c->conn, sql);
    if (!r)
        return pg_fail(PC_E_PG, what, pq->error_message(c->conn));
    if (pq->result_status(r) != want) {
        char w[256];
        snprintf(w, sizeof w, "%s failed", what);
        pg_fail(PC_E_PG, w, pq->result_error_message(r));
        pq->clear(r);
        return PC_E_PG;
    }
    *res = r;
    return PC_OK;
}

/* A PGresult as plain rows: cells point into r (valid until it is cleared). */
static pc_status rows_of(const bb_conn *c, const PGresult *r, bb_rows *rows, const char ***cells)
{
    const pq_api *pq = c->pq;
    rows->nrows = pq->ntuples(r);
    rows->ncols = pq->nfields(r);
    size_t n = (size_t)rows->nrows * (size_t)rows->ncols;
    const char **v = pc_calloc(n ? n : 1, sizeof *v);
    if (!v)
        return PC_E_INTERNAL;
    for (int i = 0; i < rows->nrows; i++)
        for (int j = 0; j < rows->ncols; j++)
            v[(size_t)i * (size_t)rows->ncols + (size_t)j] =
                pq->getisnull(r, i, j) ? NULL : pq->getvalue(r, i, j);
    rows->cells = v;
    *cells = v;
    return PC_OK;
}

static const char *cell(const bb_rows *r, int row, int col)
{
    return r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

/* ==== result-set parsers ==== */

static bool parse_u32(const char *s, uint32_t min, uint32_t *out)
{
    if (!s || !*s || strlen(s) > 10)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

pc_status bb_parse_position(const bb_rows *r, const char *what, pc_lsn *lsn, uint32_t *tli)
{
    if (r->nrows != 1 || r->ncols < 2)
        return protocol_error("the %s has %d rows and %d columns, expected 1 row of (LSN, "
                              "timeline)",
                              what, r->nrows, r->ncols);
    const char *l = cell(r, 0, 0), *t = cell(r, 0, 1);
    if (!l || pc_lsn_parse(l, lsn) != PC_OK)
        return protocol_error("the %s LSN \"%.40s\" is not an LSN", what, l ? l : "NULL");
    if (!parse_u32(t, 1, tli))
        return protocol_error("the %s timeline \"%.40s\" is not a timeline", what, t ? t : "NULL");
    return PC_OK;
}

void bb_tablespaces_free(bb_tablespace *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i].location);
    free(t);
}

pc_status bb_parse_tablespaces(const bb_rows *r, bb_tablespace **out, size_t *n)
{
    if (r->nrows < 1 || r->ncols < 3)
        return protocol_error("the tablespace list has %d rows and %d columns, expected at "
                              "least 1 row of (oid, location, size)",
                              r->nrows, r->ncols);
    bb_tablespace *t = pc_calloc((size_t)r->nrows, sizeof *t);
    if (!t)
        return PC_E_INTERNAL;
    pc_status st = PC_OK;
    int nbase = 0;
    for (int i = 0; i < r->nrows && st == PC_OK; i++) {
        const char *oid = cell(r, i, 0), *loc = cell(r, i, 1), *size = cell(r, i, 2);
        if (!oid) {
            if (loc && *loc)
                st = protocol_error("the data directory row has a location");
            t[i].is_base = true;
            nbase++;
        } else if (!parse_u32(oid, 1, &t[i].oid)) {
            st = protocol_error("tablespace oid \"%.40s\" is not an OID", oid);
        } else if (!loc || loc[0] != '/' || strlen(loc) > 4096 || strchr(loc, '\n')) {
            st = protocol_error("tablespace %s has no absolute location", oid);
        } else if (!(t[i].location = pc_strdup(loc))) {
            st = PC_E_INTERNAL;
        }
        for (int j = 0; st == PC_OK && !t[i].is_base && j < i; j++)
            if (!t[j].is_base && t[j].oid == t[i].oid)
                st = protocol_error("tablespace %s is listed twice", oid);
        int64_t kb = -1;
        if (st == PC_OK && size && (!parse_i64(size, &kb) || kb > INT64_MAX / 1024))
            st = protocol_error("tablespace size \"%.40s\" is not a number", size);
        t[i].size = kb < 0 ? -1 : kb * 1024;
    }
    if (st == PC_OK && nbase != 1)
        st = protocol_error("the tablespace list has %d data directory rows", nbase);
    if (st) {
        bb_tablespaces_free(t, (size_t)r->nrows);
        return st;
    }
    *out = t;
    *n = (size_t)r->nrows;
    return PC_OK;
}

/* ==== server facts ==== */

void bb_server_info_free(bb_server_info *i)
{
    free(i->data_directory);
    free(i->config_file);
    free(i->hba_file);
    free(i->ident_file);
    for (size_t k = 0; k < i->n_included_files; k++)
        free(i->included_files[k]);
    free(i->included_files);
    free(i->data_checksums);
    free(i->archive_mode);
    for (size_t k = 0; k < i->n_tablespaces; k++) {
        free(i->tablespaces[k].name);
        free(i->tablespaces[k].location);
    }
    free(i->tablespaces);
    memset(i, 0, sizeof *i);
}

static pc_status dup_opt(const char *v, char **out)
{
    *out = NULL;
    if (!v)
        return PC_OK;
    *out = pc_strdup(v);
    return *out ? PC_OK : PC_E_INTERNAL;
}

/*
 * pg_settings rather than current_setting(): a role without
 * pg_read_all_settings does not see the file locations, which then are
 * None in backup.info instead of failing the backup.
 */
static const char SETTINGS_SQL[] =
    "SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ('server_version_num', "
    "'data_directory', 'config_file', 'hba_file', 'ident_file', 'data_checksums', "
    "'wal_segment_size', 'archive_mode')";
static const char RECOVERY_SQL[] = "SELECT pg_catalog.pg_is_in_recovery()";
static const char INCLUDED_SQL[] =
    "SELECT DISTINCT sourcefile FROM pg_catalog.pg_settings WHERE sourcefile IS NOT NULL AND "
    "sourcefile IS DISTINCT FROM (SELECT setting FROM pg_catalog.pg_settings WHERE name = "
    "'config_file') ORDER BY 1";
static const char TABLESPACES_SQL[] =
    "SELECT spcname, oid, pg_catalog.pg_tablespace_location(oid) FROM pg_catalog.pg_tablespace "
    "WHERE pg_catalog.pg_tablespace_location(oid) <> '' ORDER BY oid";

static pc_status read_settings(bb_conn *c, bb_server_info *i)
{
    const pq_api *pq = c->pq;
    PGresult *r;
    pc_status st = query(c, SETTINGS_SQL, "reading the server's settings", PGRES_TUPLES_OK, &r);
    if (st)
        return st;
    for (int k = 0; k < pq->ntuples(r) && st == PC_OK; k++) {
        const char *name = pq->getvalue(r, k, 0);
        const char *v = pq->getisnull(r, k, 1) ? NULL : pq->getvalue(r, k, 1);
        if (strcmp(name, "server_version_num") == 0) {
            uint32_t x = 0;
            if (!parse_u32(v, 1, &x) || x > INT32_MAX)
                st = pc_err(PC_E_PG, "PostgreSQL reports server_version_num \"%.40s\"",
                            v ? v : "NULL");
            i->version_num = (int)x;
        } else if (strcmp(name, "wal_segment_size") == 0) {
            int64_t x = 0;
            if (!parse_i64(v, &x) || !pc_wal_segsize_valid((uint64_t)x))
                st = pc_err(PC_E_PG, "PostgreSQL reports wal_segment_size \"%.40s\"",
                            v ? v : "NULL");
            i->wal_segment_size = (uint64_t)x;
        } else if (strcmp(name, "data_directory") == 0) {
            st = dup_opt(v, &i->data_directory);
        } else if (strcmp(name, "config_file") == 0) {
            st = dup_opt(v, &i->config_file);
        } else if (strcmp(name, "hba_file") == 0) {
            st = dup_opt(v, &i->hba_file);
        } else if (strcmp(name, "ident_file") == 0) {
            st = dup_opt(v, &i->ident_file);
        } else if (strcmp(name, "data_checksums") == 0) {
            st = dup_opt(v, &i->data_checksums);
        } else if (strcmp(name, "archive_mode") == 0) {
            st = dup_opt(v, &i->archive_mode);
        }
    }
    pq->clear(r);
    if (st == PC_OK && (!i->version_num || !i->wal_segment_size))
        st = pc_err(PC_E_PG, "PostgreSQL did not report server_version_num and wal_segment_size");
    return st;
}

static pc_status read_rest(bb_conn *c, bb_server_info *i)
{
    const pq_api *pq = c->pq;
    PGresult *r;
    pc_status st = query(c, RECOVERY_SQL, "pg_is_in_recovery()", PGRES_TUPLES_OK, &r);
    if (st)
        return st;
    i->in_recovery = pq->ntuples(r) == 1 && strcmp(pq->getvalue(r, 0, 0), "t") == 0;
    pq->clear(r);

    if ((st = query(c, INCLUDED_SQL, "listing the configuration files", PGRES_TUPLES_OK, &r)))
        return st;
    int n = pq->ntuples(r);
    if (n > 0 && !(i->included_files = pc_calloc((size_t)n, sizeof *i->included_files)))
        st = PC_E_INTERNAL;
    for (int k = 0; k < n && st == PC_OK; k++) {
        if (!(i->included_files[k] = pc_strdup(pq->getvalue(r, k, 0))))
            st = PC_E_INTERNAL;
        else
            i->n_included_files++;
    }
    pq->clear(r);
    if (st)
        return st;

    if ((st = query(c, TABLESPACES_SQL, "listing the tablespaces", PGRES_TUPLES_OK, &r)))
        return st;
    n = pq->ntuples(r);
    if (n > 0 && !(i->tablespaces = pc_calloc((size_t)n, sizeof *i->tablespaces)))
        st = PC_E_INTERNAL;
    for (int k = 0; k < n && st == PC_OK; k++) {
        bb_named_tablespace *t = &i->tablespaces[k];
        if (!parse_u32(pq->getvalue(r, k, 1), 1, &t->oid))
            st =
                pc_err(PC_E_PG, "PostgreSQL lists tablespace oid \"%.40s\"", pq->getvalue(r, k, 1));
        else if (!(t->name = pc_strdup(pq->getvalue(r, k, 0))) ||
                 !(t->location = pc_strdup(pq->getvalue(r, k, 2))))
            st = PC_E_INTERNAL;
        i->n_tablespaces++;
    }
    pq->clear(r);
    return st;
}

pc_status bb_server_info_get(bb_conn *c, bb_server_info *out)
{
    memset(out, 0, sizeof *out);
    pc_status st = read_settings(c, out);
    if (st == PC_OK)
        st = read_rest(c, out);
    if (st)
        bb_server_info_free(out);
    return st;
}

pc_status bb_identify_system(bb_conn *c, bb_system *out)
{
    const pq_api *pq = c->pq;
    PGresult *r;
    pc_status st = query(c, "IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, &r);
    if (st)
        return st;
    if (pq->ntuples(r) != 1 || pq->nfields(r) < 3) {
        pq->clear(r);
        return pc_err(PC_E_PG, "unexpected reply to IDENTIFY_SYSTEM");
    }
    const char *sys = pq->getvalue(r, 0, 0);
    size_t n = strlen(sys);
    bool ok = n > 0 && n < sizeof out->systemid && strspn(sys, "0123456789") == n;
    if (ok)
        memcpy(out->systemid, sys, n + 1);
    if (ok)
        ok = parse_u32(pq->getvalue(r, 0, 1), 1, &out->timeline);
    pq->clear(r);
    if (!ok)
        return pc_err(PC_E_PG, "unexpected reply to IDENTIFY_SYSTEM (system id or timeline)");
    return PC_OK;
}

pc_status bb_switch_wal(bb_conn *c, pc_lsn *lsn)
{
    const pq_api *pq = c->pq;
    PGresult *r;
    pc_status st =
        query(c, "SELECT pg_catalog.pg_switch_wal()", "pg_switch_wal()", PGRES_TUPLES_OK, &r);
    if (st)
        return st;
    if (pq->ntuples(r) != 1 || pq->getisnull(r, 0, 0) ||
        pc_lsn_parse(pq->getvalue(r, 0, 0), lsn) != PC_OK)
        st = pc_err(PC_E_PG, "unexpected reply to pg_switch_wal()");
    pq->clear(r);
    return st;
}

/* ==== the COPY stream ==== */

struct bb_stream {
    const bb_callbacks *cb;
    void *ud;
    size_t archives;
    bool manifest;
};

pc_status bb_stream_new(const bb_callbacks *cb, void *ud, bb_stream **out)
{
    bb_stream *s = pc_calloc(1, sizeof *s);
    if (!s)
        return PC_E_INTERNAL;
    s->cb = cb;
    s->ud = ud;
    *out = s;
    return PC_OK;
}

void bb_stream_free(bb_stream *s)
{
    free(s);
}

static pc_status malformed(const unsigned char *m, size_t len)
{
    if (len == 0)
        return protocol_error("an empty COPY message");
    if (m[0] >= 0x20 && m[0] < 0x7f)
        return protocol_error("a malformed COPY message of type '%c', length %zu", m[0], len);
    return protocol_error("a malformed COPY message of type 0x%02x, length %zu", m[0], len);
}

/* A NUL-terminated string at *pos inside the message; NULL when it runs past the end. */
static const char *msg_string(const unsigned char *m, size_t len, size_t *pos)
{
    const unsigned char *z = *pos < len ? memchr(m + *pos, '\0', len - *pos) : NULL;
    if (!z)
        return NULL;
    const char *s = (const char *)m + *pos;
    *pos = (size_t)(z - m) + 1;
    return s;
}

static pc_status new_archive(bb_stream *s, const unsigned char *m, size_t len)
{
    if (s->manifest)
        return protocol_error("an archive after the backup manifest");
    size_t pos = 1;
    const char *name = msg_string(m, len, &pos);
    const char *loc = name ? msg_string(m, len, &pos) : NULL;
    if (!loc || pos != len)
        return malformed(m, len);
    size_t n = strlen(name);
    if (n < 5 || n > 64 || name[0] == '.' || strchr(name, '/') || strchr(name, '\\') ||
        strcmp(name + n - 4, ".tar") != 0)
        return protocol_error("an archive named \"%.64s\" (expected base.tar or <oid>.tar)", name);
    s->archives++;
    return s->cb->archive(s->ud, name, *loc ? loc : NULL);
}

pc_status bb_stream_message(bb_stream *s, const void *msg, size_t len)
{
    const unsigned char *m = msg;
    if (len == 0)
        return malformed(m, len);
    switch (m[0]) {
    case 'n':
        return new_archive(s, m, len);
    case 'd':
        if (s->manifest)
            return s->cb->manifest_data(s->ud, m + 1, len - 1);
        if (s->archives == 0)
            return protocol_error("archive data before the first archive");
        return s->cb->archive_data(s->ud, m + 1, len - 1);
    case 'p': {
        if (len != 9)
            return malformed(m, len);
        uint64_t v = 0;
        for (size_t i = 1; i < 9; i++)
            v = (v << 8) | m[i];
        return s->cb->progress ? s->cb->progress(s->ud, v) : PC_OK;
    }
    case 'm':
        if (len != 1)
            return malformed(m, len);
        if (s->manifest)
            return protocol_error("a second backup manifest");
        if (s->archives == 0)
            return protocol_error("the backup manifest before any archive");
        s->manifest = true;
        return PC_OK;
    default:
        return malformed(m, len);
    }
}

pc_status bb_stream_end(bb_stream *s)
{
    if (s->archives == 0)
        return protocol_error("the COPY stream ended without any archive");
    if (!s->manifest)
        return protocol_error("the COPY stream ended without the backup manifest");
    return PC_OK;
}

/* ==== running BASE_BACKUP ==== */

char *bb_command(const bb_options *o)
{
    for (const char *p = o->label; *p; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '\'' || *p == '\\') {
            pc_err(PC_E_USAGE, "invalid backup label \"%s\"", o->label);
            return NULL;
        }
    }
    return pc_asprintf("BASE_BACKUP (LABEL '%s', PROGRESS, CHECKPOINT '%s', WAIT false, "
                       "MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C')",
                       o->label, o->fast_checkpoint ? "fast" : "spread");
}

/* Wait until the socket has data (or a second passed), then let libpq read it. */
static pc_status wait_input(bb_conn *c, const bb_callbacks *cb, void *ud)
{
    struct pollfd p = {.fd = c->pq->socket(c->conn), .events = POLLIN};
    if (p.fd < 0)
        return pg_fail(PC_E_PG, "lost the connection to PostgreSQL", c->pq->error_message(c->conn));
    int n = poll(&p, 1, POLL_MS);
    if (n < 0 && errno != EINTR)
        return pc_err(PC_E_IO, "waiting for PostgreSQL: %m");
    pc_status st = cb->tick ? cb->tick(ud) : PC_OK;
    if (st)
        return st;
    if (n > 0 && !c->pq->consume_input(c->conn))
        return pg_fail(PC_E_PG, "lost the connection to PostgreSQL", c->pq->error_message(c->conn));
    return PC_OK;
}

/* The next result, waiting interruptibly (a spread checkpoint can take minutes). */
static pc_status next_result(bb_conn *c, const bb_callbacks *cb, void *ud, PGresult **res)
{
    while (c->pq->is_busy(c->conn)) {
        pc_status st = wait_input(c, cb, ud);
        if (st)
            return st;
    }
    *res = c->pq->get_result(c->conn);
    return PC_OK;
}

/* A result that must be a row set, turned into a position. */
static pc_status position_result(bb_conn *c, PGresult *r, const char *what, const char *failed,
                                 pc_lsn *lsn, uint32_t *tli)
{
    const pq_api *pq = c->pq;
    if (!r)
        return protocol_error("no %s", what);
    if (pq->result_status(r) != PGRES_TUPLES_OK) {
        const char *state = pq->result_error_field(r, PG_DIAG_SQLSTATE);
        pc_status st = state && strcmp(state, "XX001") == 0 ? PC_E_CORRUPT : PC_E_PG;
        pg_fail(st, failed, pq->result_error_message(r));
        pq->clear(r);
        return st;
    }
    bb_rows rows;
    const char **cells;
    pc_status st = rows_of(c, r, &rows, &cells);
    if (st == PC_OK)
        st = bb_parse_position(&rows, what, lsn, tli);
    free(cells);
    pq->clear(r);
    return st;
}

static pc_status receive_copy(bb_conn *c, const bb_callbacks *cb, void *ud)
{
    const pq_api *pq = c->pq;
    bb_stream *s = NULL;
    pc_status st = bb_stream_new(cb, ud, &s);
    while (st == PC_OK) {
        char *buf;
        int n = pq->get_copy_data(c->conn, &buf, 1);
        if (n > 0) {
            st = bb_stream_message(s, buf, (size_t)n);
            pq->freemem(buf);
            if (st == PC_OK && cb->tick)
                st = cb->tick(ud);
        } else if (n == 0) {
            st = wait_input(c, cb, ud);
        } else if (n == -1) {
            st = bb_stream_end(s);
            break;
        } else {
            st = pg_fail(PC_E_PG, "the base backup stream broke", pq->error_message(c->conn));
        }
    }
    bb_stream_free(s);
    return st;
}

pc_status bb_run(bb_conn *c, const bb_options *o, const bb_callbacks *cb, void *ud, bb_result *out)
{
    const pq_api *pq = c->pq;
    char *cmd = bb_command(o);
    if (!cmd)
        return PC_E_USAGE;
    int sent = pq->send_query(c->conn, cmd);
    free(cmd);
    if (!sent)
        return pg_fail(PC_E_PG, "could not send BASE_BACKUP", pq->error_message(c->conn));

    PGresult *r;
    pc_status st = next_result(c, cb, ud, &r);
    if (st == PC_OK)
        st = position_result(c, r, "start position", "could not start the base backup",
                             &out->start_lsn, &out->start_tli);
    if (st)
        return st;

    if ((st = next_result(c, cb, ud, &r)) != PC_OK)
        return st;
    if (!r || pq->result_status(r) != PGRES_TUPLES_OK) {
        if (r) {
            pg_fail(PC_E_PG, "could not read the backup header", pq->result_error_message(r));
            pq->clear(r);
            return PC_E_PG;
        }
        return protocol_error("no tablespace list");
    }
    bb_rows rows;
    const char **cells;
    bb_tablespace *ts = NULL;
    size_t nts = 0;
    st = rows_of(c, r, &rows, &cells);
    if (st == PC_OK) {
        st = bb_parse_tablespaces(&rows, &ts, &nts);
        free(cells);
    }
    pq->clear(r);
    if (st == PC_OK)
        st = cb->begin(ud, out->start_lsn, out->start_tli, ts, nts);
    bb_tablespaces_free(ts, nts);
    if (st)
        return st;

    if ((st = next_result(c, cb, ud, &r)) != PC_OK)
        return st;
    if (!r || pq->result_status(r) != PGRES_COPY_OUT) {
        if (r) {
            pg_fail(PC_E_PG, "could not start the archive stream", pq->result_error_message(r));
            pq->clear(r);
            return PC_E_PG;
        }
        return protocol_error("no COPY stream");
    }
    pq->clear(r);
    if ((st = receive_copy(c, cb, ud)) != PC_OK)
        return st;

    if ((st = next_result(c, cb, ud, &r)) != PC_OK)
        return st;
    st = position_result(c, r, "end position", "the base backup failed", &out->end_lsn,
                         &out->end_tli);
    if (st)
        return st;
    if ((st = next_result(c, cb, ud, &r)) != PC_OK)
        return st;
    if (!r || pq->result_status(r) != PGRES_COMMAND_OK) {
        if (!r)
            return protocol_error("no command completion");
        const char *state = pq->result_error_field(r, PG_DIAG_SQLSTATE);
        st = state && strcmp(state, "XX001") == 0 ? PC_E_CORRUPT : PC_E_PG;
        pg_fail(st, "the base backup failed", pq->result_error_message(r));
        pq->clear(r);
        return st;
    }
    pq->clear(r);
    /* drain: a NULL result ends the command */
    while ((st = next_result(c, cb, ud, &r)) == PC_OK && r) {
        ExecStatusType rs = pq->result_status(r);
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
            pg_fail(PC_E_PG, "the base backup failed", pq->result_error_message(r));
            pq->clear(r);
            return PC_E_PG;
        }
        pq->clear(r);
    }
    return st;
}

/* ==== plain statements (local backups) ==== */

pc_status bb_query(bb_conn *c, const char *sql, const char *what, pc_status (*tick)(void *ud),
                   bb_rows_cb cb, void *ud)
{
    const pq_api *pq = c->pq;
    if (!pq->send_query(c->conn, sql))
        return pg_fail(PC_E_PG, what, pq->error_message(c->conn));
    bb_callbacks waits = {.tick = tick};
    pc_status st = PC_OK;
    bool first = true;
    for (;;) {
        PGresult *r;
        pc_status w = next_result(c, &waits, ud, &r);
        if (w)
            return w; /* the caller closes the connection: the statement is cancelled */
        if (!r)
            break;
        ExecStatusType rs = pq->result_status(r);
        if (st == PC_OK && rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK) {
            char m[256];
            snprintf(m, sizeof m, "%s failed", what);
            const char *state = pq->result_error_field(r, PG_DIAG_SQLSTATE);
            st = pg_fail(state && strcmp(state, "XX001") == 0 ? PC_E_CORRUPT : PC_E_PG, m,
                         pq->result_error_message(r));
        } else if (st == PC_OK && rs == PGRES_TUPLES_OK && first && cb) {
            bb_rows rows;
            const char **cells;
            st = rows_of(c, r, &rows, &cells);
            if (st == PC_OK) {
                st = cb(ud, &rows);
                free(cells);
            }
        }
        first = false;
        pq->clear(r);
    }
    return st;
}

/* ==== the server's backup_manifest ==== */

static pc_status manifest_bad(const char *fmt, ...) PC_PRINTF(1, 2);
static pc_status manifest_bad(const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return pc_err(PC_E_CORRUPT, "the server's backup_manifest is damaged: %s", m);
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* The checksum line closes the manifest; it covers every byte before it. */
static pc_status manifest_checksum(const char *text, size_t len, size_t *body_len)
{
    if (len < 2 || text[len - 1] != '\n')
        return manifest_bad("it does not end with a newline");
    size_t i = len - 1;
    while (i > 0 && text[i - 1] != '\n')
        i--;
    if (i == 0)
        return manifest_bad("it is a single line");
    static const char key[] = "\"Manifest-Checksum\": \"";
    const char *line = text + i;
    size_t n = len - 1 - i;
    if (n != sizeof key - 1 + 2 * PC_SHA256_LEN + 2 || !starts_with(line, n, key) ||
        memcmp(line + n - 2, "\"}", 2) != 0)
        return manifest_bad("its last line is not the Manifest-Checksum");
    unsigned char want[PC_SHA256_LEN], got[PC_SHA256_LEN];
    char hex[2 * PC_SHA256_LEN + 1];
    memcpy(hex, line + sizeof key - 1, 2 * PC_SHA256_LEN);
    hex[2 * PC_SHA256_LEN] = '\0';
    if (pc_unhex(hex, want, sizeof want) != PC_OK)
        return manifest_bad("its Manifest-Checksum is not hex");
    pc_sha256(text, i, got);
    if (memcmp(want, got, sizeof want) != 0)
        return manifest_bad("its Manifest-Checksum does not match its contents");
    *body_len = i;
    return PC_OK;
}

static pc_status manifest_file_line(const char *line, size_t n, char **path_buf,
                                    bb_manifest_file_cb cb, void *ud)
{
    if (n > 0 && line[n - 1] == ',')
        n--;
    pc_json *o;
    pc_status st = pc_json_parse(line, n, MANIFEST_MAX_LINE, "the server's backup_manifest", &o);
    if (st)
        return st;
    bb_manifest_file f = {0};
    const char *path = pc_json_get_str(o, "Path");
    const char *enc = pc_json_get_str(o, "Encoded-Path");
    int64_t size;
    if (!pc_json_is_object(o) || (!path == !enc) || !pc_json_int(pc_json_get(o, "Size"), &size) ||
        size < 0) {
        pc_json_free(o);
        return manifest_bad("a file entry lacks Path or Size");
    }
    if (enc) {
        size_t el = strlen(enc);
        char *p = el % 2 == 0 && el > 0 ? pc_realloc(*path_buf, el / 2 + 1) : NULL;
        if (p) {
            *path_buf = p;
            if (pc_unhex(enc, (unsigned char *)p, el / 2) != PC_OK || memchr(p, 0, el / 2))
                p = NULL;
            else
                p[el / 2] = '\0';
        }
        if (!p) {
            pc_json_free(o);
            return manifest_bad("a file entry has an invalid Encoded-Path");
        }
        path = p;
    }
    f.path = path;
    f.size = (uint64_t)size;
    const char *alg = pc_json_get_str(o, "Checksum-Algorithm");
    if (alg) {
        const char *sum = pc_json_get_str(o, "Checksum");
        unsigned char d[PC_SHA256_LEN];
        size_t dl = strcmp(alg, "SHA256") == 0 ? PC_SHA256_LEN : strcmp(alg, "CRC32C") == 0 ? 4 : 0;
        if (!dl || !sum || strlen(sum) != 2 * dl || pc_unhex(sum, d, dl) != PC_OK) {
            pc_json_free(o);
            return manifest_bad("file \"%.200s\" has no SHA256 or CRC32C checksum", path);
        }
        if (dl == 4) {
            f.has_crc32c = true;
            f.crc32c_le =
                (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
            f.crc32c_be =
                (uint32_t)d[3] | (uint32_t)d[2] << 8 | (uint32_t)d[1] << 16 | (uint32_t)d[0] << 24;
        } else {
            f.sha256 = sum;
        }
    }
    st = cb(ud, &f);
    pc_json_free(o);
    return st;
}

pc_status bb_manifest_parse(const char *text, size_t len, bb_manifest_file_cb cb, void *ud)
{
    size_t body = 0;
    pc_status st = manifest_checksum(text, len, &body);
    if (st)
        return st;
    enum { HEAD, FILES, TAIL } where = HEAD;
    size_t nfiles = 0, lineno = 0;
    char *path_buf = NULL;
    for (size_t pos = 0; pos < body && st == PC_OK;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', body - pos);
        size_t n = (size_t)(nl - line); /* body ends with a newline */
        pos += n + 1;
        lineno++;
        if (n > MANIFEST_MAX_LINE) {
            st = manifest_bad("line %zu is too long", lineno);
        } else if (lineno == 1) {
            if (!starts_with(line, n, "{ \"PostgreSQL-Backup-Manifest-Version\": 1,") &&
                !starts_with(line, n, "{ \"PostgreSQL-Backup-Manifest-Version\": 2,"))
                st = manifest_bad("unknown version line \"%.60s\"", line);
        } else if (where == HEAD) {
            if (n == 10 && memcmp(line, "\"Files\": [", 10) == 0)
                where = FILES;
        } else if (where == FILES) {
            if (starts_with(line, n, "],")) {
                where = TAIL;
            } else if (starts_with(line, n, "{ ")) {
                st = manifest_file_line(line, n, &path_buf, cb, ud);
                nfiles++;
            } else if (n > 0) {
                st = manifest_bad("line %zu is not a file entry", lineno);
            }
        }
    }
    free(path_buf);
    if (st == PC_OK && where != TAIL)
        st = manifest_bad("it has no complete \"Files\" list");
    if (st == PC_OK && nfiles == 0)
        st = manifest_bad("it lists no files");
    return st;
}
