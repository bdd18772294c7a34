#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"

/*
 * THE settings table. Every setting pgcask reads is here, once; the CLI
 * accepts each as --NAME VALUE, the environment as PGCASK_NAME, the INI file
 * as NAME = VALUE. docs/configuration.md is generated from it
 * (`pgcask help config`).
 */
static const pc_cfg_desc settings[] = {
    /* repository */
    {"repo", PC_CFG_STRING, NULL, NULL, 0,
     "repository URL: file:///path or s3://bucket/prefix"},
    {"server", PC_CFG_STRING, NULL, NULL, 0,
     "server name: the folder of this PostgreSQL cluster inside the repository"},
    {"endpoint-url", PC_CFG_STRING, NULL, "AWS_ENDPOINT_URL", 0,
     "S3 endpoint, http(s)://host[:port] (default: AWS for the region)"},
    {"region", PC_CFG_STRING, "us-east-1", "AWS_REGION,AWS_DEFAULT_REGION", 0,
     "S3 region used for signing"},
    {"aws-profile", PC_CFG_STRING, NULL, "AWS_PROFILE", 0,
     "profile in ~/.aws/credentials and ~/.aws/config"},
    {"ca-bundle", PC_CFG_STRING, NULL, "AWS_CA_BUNDLE", 0,
     "CA certificate file for TLS to the store"},
    {"verify-tls", PC_CFG_BOOL, "on", NULL, 0, "verify the store's TLS certificate"},
    {"s3-addressing", PC_CFG_STRING, "auto", NULL, 0,
     "S3 addressing style: auto, path or virtual"},
    {"encryption", PC_CFG_STRING, NULL, NULL, 0,
     "server-side encryption: AES256 or aws:kms"},
    {"sse-kms-key-id", PC_CFG_STRING, NULL, NULL, 0, "KMS key id for aws:kms encryption"},
    {"tag", PC_CFG_LIST, NULL, NULL, 0, "object tag KEY,VALUE for every object (repeatable)"},
    {"history-tag", PC_CFG_LIST, NULL, NULL, 0,
     "object tag KEY,VALUE for .history files, replacing --tag (repeatable)"},
    {"connect-timeout", PC_CFG_DURATION, "10s", NULL, 0, "timeout to connect to the store"},
    {"read-timeout", PC_CFG_DURATION, "60s", NULL, 0,
     "a request that receives nothing for this long is retried"},
    {"max-retries", PC_CFG_INT, "5", NULL, 0,
     "retries of a failed request (5xx, 429, timeouts, resets), with backoff"},
    {"part-size", PC_CFG_SIZE, "16MiB", NULL, 0, "multipart upload part size (min 5MiB)"},
    {"parts-in-flight", PC_CFG_INT, "4", NULL, 0, "multipart parts uploaded at once per object"},
    {"max-bandwidth", PC_CFG_SIZE, "0", NULL, 0, "upload bandwidth limit in bytes/s (0: none)"},
    /* local state */
    {"state-dir", PC_CFG_STRING, NULL, NULL, 0,
     "directory for the catalog and spool (default: /var/lib/pgcask when writable, else "
     "~/.local/state/pgcask)"},
    {"spool-dir", PC_CFG_STRING, NULL, NULL, 0,
     "WAL spool directory (default: <state-dir>/spool/<server>)"},
    {"catalog", PC_CFG_STRING, NULL, NULL, 0,
     "catalog database file (default: <state-dir>/catalog/<repo+server>.db)"},
    /* WAL */
    {"compression", PC_CFG_STRING, "zstd", NULL, 0,
     "WAL compression: zstd, lz4, gzip, bzip2, xz, snappy or none"},
    {"compression-level", PC_CFG_STRING, NULL, NULL, 0,
     "compression level: a number, or low, medium, high"},
    {"max-parallel", PC_CFG_INT, "4", NULL, 0,
     "WAL files archived or prefetched in parallel by one call"},
    {"wal-segment-size", PC_CFG_SIZE, "16MiB", NULL, 0,
     "WAL segment size of the cluster (initdb --wal-segsize)"},
    /* backups */
    {"backup-compression", PC_CFG_STRING, "zstd", NULL, 0,
     "base backup compression: zstd, lz4, gzip, bzip2, xz, snappy or none (barman-cloud-restore "
     "reads none, gzip, bzip2 and snappy)"},
    {"backup-jobs", PC_CFG_INT, "2", NULL, 0, "base backup compression threads"},
    {"immediate-checkpoint", PC_CFG_BOOL, "off", NULL, 0,
     "start base backups with an immediate checkpoint instead of a spread one"},
    /* retention */
    {"retention-policy", PC_CFG_STRING, NULL, NULL, 0,
     "backup-delete without -b/-r: \"REDUNDANCY n\", \"RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS\", "
     "or 30d, 4w, 3m"},
    {"minimum-redundancy", PC_CFG_INT, "0", NULL, 0,
     "backup-delete never leaves fewer DONE backups than this"},
    {"retention-interval", PC_CFG_DURATION, "30m", NULL, 0,
     "sidecar: how often the primary's sidecar applies retention-policy"},
    /* scheduler */
    {"full-schedule", PC_CFG_STRING, NULL, NULL, 0,
     "scheduler: cron expression (UTC) of full backups, e.g. \"0 2 * * *\" or @daily"},
    {"diff-schedule", PC_CFG_STRING, NULL, NULL, 0,
     "scheduler: cron expression (UTC) of differential backups (needs pgdata)"},
    {"incr-schedule", PC_CFG_STRING, NULL, NULL, 0,
     "scheduler: cron expression (UTC) of incremental backups (needs pgdata), e.g. @hourly"},
    {"pgdata", PC_CFG_STRING, NULL, NULL, 0,
     "scheduler: the data directory, for local-mode backups (diff and incr need it)"},
    {"pg-host", PC_CFG_STRING, NULL, NULL, 0, "scheduler: PostgreSQL host or socket directory"},
    {"pg-port", PC_CFG_STRING, NULL, NULL, 0, "scheduler: PostgreSQL port"},
    {"pg-user", PC_CFG_STRING, NULL, NULL, 0, "scheduler: PostgreSQL user"},
    {"pg-dbname", PC_CFG_STRING, NULL, NULL, 0, "scheduler: database name or conninfo"},
    {"scheduler", PC_CFG_BOOL, "off", NULL, 0,
     "sidecar: also run the backup scheduler, with the sidecar's own repo, server and schedules"},
    /* sidecar */
    {"objectstore-dir", PC_CFG_STRING, "/etc/pgcask/objectstores", NULL, 0,
     "sidecar: directory of <barmanObjectName>.conf files, one per object store"},
    /* logging */
    {"log-format", PC_CFG_STRING, "text", NULL, 0, "log format: text or json"},
    {"log-level", PC_CFG_STRING, "warning", NULL, 0,
     "log level: error, warning, info, debug, trace (-v / -q adjust it)"},
    {NULL, 0, NULL, NULL, 0, NULL},
};

#define NSETTINGS (sizeof settings / sizeof settings[0] - 1)

typedef struct cfg_value {
    pc_cfg_source src;
    char *text;    /* scalar value (NULL when unset) */
    char **list;   /* PC_CFG_LIST values */
    size_t nlist;
    union {
        int64_t i;
        uint64_t u;
        bool b;
    } v;
} cfg_value;

struct pc_cfg {
    cfg_value vals[NSETTINGS];
};

const pc_cfg_desc *pc_cfg_table(void)
{
    return settings;
}

/* Accepts "endpoint-url" and "endpoint_url". */
static int find_index(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *a = settings[i].name, *b = name;
        while (*a && *b && (*a == *b || (*a == '-' && *b == '_')))
            a++, b++;
        if (*a == '\0' && *b == '\0')
            return (int)i;
    }
    return -1;
}

const pc_cfg_desc *pc_cfg_find(const char *name)
{
    int i = find_index(name);
    return i < 0 ? NULL : &settings[i];
}

pc_status pc_cfg_new(pc_cfg **out)
{
    pc_cfg *c = pc_calloc(1, sizeof *c);
    if (!c)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].def && settings[i].type != PC_CFG_LIST) {
            pc_status st = pc_cfg_set(c, settings[i].name, settings[i].def, PC_CFG_SRC_DEFAULT);
            if (st) {
                pc_cfg_free(c);
                return st;
            }
        }
    }
    *out = c;
    return PC_OK;
}

static void value_clear(cfg_value *v)
{
    free(v->text);
    v->text = NULL;
    for (size_t i = 0; i < v->nlist; i++)
        free(v->list[i]);
    free(v->list);
    v->list = NULL;
    v->nlist = 0;
}

pc_status pc_cfg_clone(const pc_cfg *src, pc_cfg **out)
{
    pc_cfg *c = pc_calloc(1, sizeof *c);
    if (!c)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const cfg_value *from = &src->vals[i];
        cfg_value *to = &c->vals[i];
        to->src = from->src;
        to->v = from->v;
        if (from->text && !(to->text = pc_strdup(from->text)))
            goto oom;
        if (from->nlist) {
            if (!(to->list = pc_calloc(from->nlist, sizeof *to->list)))
                goto oom;
            for (size_t j = 0; j < from->nlist; j++) {
                if (!(to->list[j] = pc_strdup(from->list[j])))
                    goto oom;
                to->nlist++;
            }
        }
    }
    *out = c;
    return PC_OK;
oom:
    pc_cfg_free(c);
    return PC_E_INTERNAL;
}

void pc_cfg_free(pc_cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NSETTINGS; i++)
        value_clear(&c->vals[i]);
    free(c);
}

pc_status pc_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0')
        return pc_err(PC_E_USAGE, "\"%s\" is not an integer", text);
    if (v < min || v > max)
        return pc_err(PC_E_USAGE, "%s is out of range (%lld..%lld)", text, (long long)min,
                      (long long)max);
    *out = v;
    return PC_OK;
}

pc_status pc_parse_bool(const char *text, bool *out)
{
    static const char *yes[] = {"1", "on", "true", "yes", "y", "t"};
    static const char *no[] = {"0", "off", "false", "no", "n", "f"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return PC_OK;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return PC_OK;
        }
    }
    return pc_err(PC_E_USAGE, "\"%s\" is not a boolean (use on or off)", text);
}

pc_status pc_parse_size(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || !isfinite(v))
        return pc_err(PC_E_USAGE, "\"%s\" is not a size", text);
    while (*end == ' ')
        end++;
    double mult = 1;
    if (*end) {
        char u = (char)toupper((unsigned char)*end);
        const char *rest = end + 1;
        switch (u) {
        case 'B':
            mult = 1;
            rest = end + 1;
            break;
        case 'K':
            mult = 1024.0;
            break;
        case 'M':
            mult = 1024.0 * 1024;
            break;
        case 'G':
            mult = 1024.0 * 1024 * 1024;
            break;
        case 'T':
            mult = 1024.0 * 1024 * 1024 * 1024;
            break;
        default:
            return pc_err(PC_E_USAGE, "\"%s\" has an unknown size unit", text);
        }
        if (u != 'B') {
            /* k, kB, KiB, K all mean 1024 (barman's GB/GiB inversion is not repeated) */
            if (*rest == 'i' || *rest == 'I')
                rest++;
            if (*rest == 'b' || *rest == 'B')
                rest++;
        }
        if (*rest != '\0')
            return pc_err(PC_E_USAGE, "\"%s\" has an unknown size unit", text);
    }
    double r = v * mult;
    if (r > 9.2e18)
        return pc_err(PC_E_USAGE, "\"%s\" is too large", text);
    *out = (uint64_t)llround(r);
    return PC_OK;
}

pc_status pc_parse_duration_ms(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || !isfinite(v))
        return pc_err(PC_E_USAGE, "\"%s\" is not a duration", text);
    while (*end == ' ')
        end++;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0 || strcmp(end, "sec") == 0)
        mult = 1000;
    else if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else if (strcmp(end, "d") == 0)
        mult = 86400000;
    else
        return pc_err(PC_E_USAGE, "\"%s\" has an unknown time unit (use ms, s, m, h or d)", text);
    double r = v * mult;
    if (r > 9.2e15)
        return pc_err(PC_E_USAGE, "\"%s\" is too long", text);
    *out = (int64_t)llround(r);
    return PC_OK;
}

static pc_status convert(const pc_cfg_desc *d, const char *text, cfg_value *v)
{
    switch (d->type) {
    case PC_CFG_STRING:
    case PC_CFG_LIST:
        return PC_OK;
    case PC_CFG_INT:
        return pc_parse_int(text, INT64_MIN, INT64_MAX, &v->v.i);
    case PC_CFG_SIZE:
        return pc_parse_size(text, &v->v.u);
    case PC_CFG_BOOL:
        return pc_parse_bool(text, &v->v.b);
    case PC_CFG_DURATION:
        return pc_parse_duration_ms(text, &v->v.i);
    }
    return PC_OK;
}

pc_status pc_cfg_set(pc_cfg *c, const char *name, const char *value, pc_cfg_source src)
{
    int i = find_index(name);
    if (i < 0)
        return pc_err(PC_E_USAGE, "unknown setting \"%s\"", name);
    const pc_cfg_desc *d = &settings[i];
    cfg_value *v = &c->vals[i];
    if (v->src > src)
        return PC_OK; /* a higher-precedence source already set it */

    if (d->type == PC_CFG_LIST) {
        if (v->src < src) {
            /* a higher source replaces the whole list */
            value_clear(v);
        }
        char **nl = pc_realloc(v->list, (v->nlist + 1) * sizeof *nl);
        if (!nl)
            return PC_E_INTERNAL;
        v->list = nl;
        if (!(v->list[v->nlist] = pc_strdup(value)))
            return PC_E_INTERNAL;
        v->nlist++;
        v->src = src;
        return PC_OK;
    }
    cfg_value tmp = *v;
    pc_status st = convert(d, value, &tmp);
    if (st) {
        pc_err_context("invalid value for %s", d->name);
        return st;
    }
    char *t = pc_strdup(value);
    if (!t)
        return PC_E_INTERNAL;
    free(v->text);
    *v = tmp;
    v->text = t;
    v->src = src;
    return PC_OK;
}

/* ---- environment ---- */

/* A bad value read from the environment or a file is a configuration error, not a usage error. */
static pc_status as_config_error(void)
{
    pc_error e;
    pc_err_save(&e);
    e.status = PC_E_CONFIG;
    pc_err_restore(&e);
    return PC_E_CONFIG;
}

static void env_name(const char *name, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "PGCASK_");
    for (const char *p = name; *p && n + 1 < outlen; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static pc_status load_env(pc_cfg *c)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const pc_cfg_desc *d = &settings[i];
        char ev[96];
        env_name(d->name, ev, sizeof ev);
        const char *val = getenv(ev);
        char used[96];
        snprintf(used, sizeof used, "%s", ev);
        if ((!val || !*val) && d->env_alias) {
            /* aliases are a comma-separated list, first set wins */
            char aliases[128];
            snprintf(aliases, sizeof aliases, "%s", d->env_alias);
            char *save = NULL;
            for (char *a = strtok_r(aliases, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
                val = getenv(a);
                if (val && *val) {
                    snprintf(used, sizeof used, "%s", a);
                    break;
                }
            }
        }
        if (!val || !*val)
            continue;
        if (d->type == PC_CFG_LIST) {
            char *copy = pc_strdup(val);
            if (!copy)
                return PC_E_INTERNAL;
            char *save = NULL;
            for (char *p = strtok_r(copy, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
                pc_status st = pc_cfg_set(c, d->name, p, PC_CFG_SRC_ENV);
                if (st) {
                    free(copy);
                    return st;
                }
            }
            free(copy);
            continue;
        }
        pc_status st = pc_cfg_set(c, d->name, val, PC_CFG_SRC_ENV);
        if (st) {
            pc_err_context("environment variable %s", used);
            return as_config_error();
        }
    }
    return PC_OK;
}

/* ---- INI file ---- */

typedef struct ini_item {
    char *section, *key, *value;
    int line;
} ini_item;

typedef struct ini_ctx {
    ini_item *items;
    size_t n;
    bool oom;
    FILE *f;
    int line; /* lines read so far: Debian's inih is built without INI_HANDLER_LINENO */
} ini_ctx;

static char *ini_read_line(char *str, int num, void *stream)
{
    ini_ctx *ctx = stream;
    char *r = fgets(str, num, ctx->f);
    if (r)
        ctx->line++;
    return r;
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *ctx = user;
    int lineno = ctx->line;
    ini_item *ni = realloc(ctx->items, (ctx->n + 1) * sizeof *ni);
    if (!ni) {
        ctx->oom = true;
        return 0;
    }
    ctx->items = ni;
    ni[ctx->n].section = strdup(section ? section : "");
    ni[ctx->n].key = strdup(name ? name : "");
    ni[ctx->n].value = strdup(value ? value : "");
    ni[ctx->n].line = lineno;
    ctx->n++;
    if (!ni[ctx->n - 1].section || !ni[ctx->n - 1].key || !ni[ctx->n - 1].value) {
        ctx->oom = true;
        return 0;
    }
    return 1;
}

static bool global_section(const char *s)
{
    return s[0] == '\0' || strcmp(s, "pgcask") == 0 || strcmp(s, "global") == 0;
}

static bool item_matches(const ini_item *it, const char *want_section)
{
    return want_section ? strcmp(it->section, want_section) == 0 : global_section(it->section);
}

static pc_status apply_items(pc_cfg *c, const char *path, ini_ctx *ctx, const char *want_section)
{
    if (want_section) {
        /* a list in the server's section replaces the global one instead of adding to it */
        for (size_t i = 0; i < ctx->n; i++) {
            if (!item_matches(&ctx->items[i], want_section))
                continue;
            int k = find_index(ctx->items[i].key); /* every key was checked by load_ini */
            cfg_value *v = &c->vals[k];
            if (settings[k].type == PC_CFG_LIST && v->src == PC_CFG_SRC_FILE) {
                value_clear(v);
                v->src = PC_CFG_SRC_DEFAULT;
            }
        }
    }
    for (size_t i = 0; i < ctx->n; i++) {
        ini_item *it = &ctx->items[i];
        if (!item_matches(it, want_section))
            continue;
        pc_status st = pc_cfg_set(c, it->key, it->value, PC_CFG_SRC_FILE);
        if (st) {
            pc_err_context("%s:%d", path, it->line);
            return as_config_error();
        }
    }
    return PC_OK;
}

static pc_status load_ini(pc_cfg *c, const char *path, bool must_exist)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!must_exist && errno == ENOENT)
            return PC_OK;
        pc_err(PC_E_CONFIG, "could not open configuration file \"%s\": %m", path);
        return PC_E_CONFIG;
    }
    ini_ctx ctx = {0};
    ctx.f = f;
    int r = ini_parse_stream(ini_read_line, &ctx, ini_cb, &ctx);
    fclose(f);
    pc_status st = PC_OK;
    if (ctx.oom) {
        st = pc_err(PC_E_INTERNAL, "out of memory reading \"%s\"", path);
    } else if (r != 0) {
        st = pc_err(PC_E_CONFIG, "%s:%d: syntax error", path, r);
        pc_err_hint("Lines are `name = value`; sections are [pgcask] or [server:NAME].");
    }
    /* every section is checked, not only the one in use: a typo must not wait for its server */
    for (size_t i = 0; st == PC_OK && i < ctx.n; i++) {
        const ini_item *it = &ctx.items[i];
        if (!global_section(it->section) && strncmp(it->section, "server:", 7) != 0) {
            st = pc_err(PC_E_CONFIG, "%s:%d: unknown section [%s]", path, it->line, it->section);
            pc_err_hint("Use [pgcask] for common settings and [server:NAME] for one server.");
        } else if (!pc_cfg_find(it->key)) {
            st = pc_err(PC_E_CONFIG, "%s:%d: unknown setting \"%s\"", path, it->line, it->key);
            pc_err_hint("The settings are listed by `pgcask help config`.");
        }
    }
    if (st == PC_OK)
        st = apply_items(c, path, &ctx, NULL);
    if (st == PC_OK) {
        const char *server = pc_cfg_str(c, "server");
        if (server) {
            char sec[256];
            snprintf(sec, sizeof sec, "server:%s", server);
            /* applied after the global part: same precedence, so later values win */
            st = apply_items(c, path, &ctx, sec);
        }
    }
    for (size_t i = 0; i < ctx.n; i++) {
        free(ctx.items[i].section);
        free(ctx.items[i].key);
        free(ctx.items[i].value);
    }
    free(ctx.items);
    return st;
}

pc_status pc_cfg_load(pc_cfg *c, const char *path)
{
    pc_status st = load_env(c);
    if (st)
        return st;
    if (path)
        return load_ini(c, path, true);
    const char *envp = getenv("PGCASK_CONFIG");
    if (envp && *envp)
        return load_ini(c, envp, true);
    return load_ini(c, "/etc/pgcask/pgcask.conf", false);
}

/* ---- getters ---- */

static const cfg_value *get(const pc_cfg *c, const char *name, pc_cfg_type type)
{
    int i = find_index(name);
    if (i < 0 || settings[i].type != type) {
        fprintf(stderr, "pgcask: internal error: setting \"%s\" read with the wrong type\n", name);
        abort();
    }
    return &c->vals[i];
}

bool pc_cfg_isset(const pc_cfg *c, const char *name)
{
    int i = find_index(name);
    return i >= 0 && c->vals[i].src != PC_CFG_SRC_DEFAULT &&
           (c->vals[i].text != NULL || c->vals[i].nlist > 0);
}

pc_cfg_source pc_cfg_source_of(const pc_cfg *c, const char *name)
{
    int i = find_index(name);
    return i < 0 ? PC_CFG_SRC_DEFAULT : c->vals[i].src;
}

const char *pc_cfg_str(const pc_cfg *c, const char *name)
{
    const cfg_value *v = get(c, name, PC_CFG_STRING);
    return v->text && v->text[0] ? v->text : NULL;
}

int64_t pc_cfg_int(const pc_cfg *c, const char *name)
{
    return get(c, name, PC_CFG_INT)->v.i;
}

uint64_t pc_cfg_size(const pc_cfg *c, const char *name)
{
    return get(c, name, PC_CFG_SIZE)->v.u;
}

bool pc_cfg_bool(const pc_cfg *c, const char *name)
{
    return get(c, name, PC_CFG_BOOL)->v.b;
}

int64_t pc_cfg_duration_ms(const pc_cfg *c, const char *name)
{
    return get(c, name, PC_CFG_DURATION)->v.i;
}

size_t pc_cfg_list_len(const pc_cfg *c, const char *name)
{
    return get(c, name, PC_CFG_LIST)->nlist;
}

const char *pc_cfg_list_get(const pc_cfg *c, const char *name, size_t i)
{
    const cfg_value *v = get(c, name, PC_CFG_LIST);
    return i < v->nlist ? v->list[i] : NULL;
}

void pc_cfg_dump(const pc_cfg *c, FILE *out)
{
    static const char *srcname[] = {"default", "file", "environment", "command line"};
    for (size_t i = 0; i < NSETTINGS; i++) {
        const cfg_value *v = &c->vals[i];
        const pc_cfg_desc *d = &settings[i];
        if (d->type == PC_CFG_LIST) {
            for (size_t j = 0; j < v->nlist; j++)
                fprintf(out, "%s = %s  # %s\n", d->name,
                        (d->flags & PC_CFG_SECRET) ? "********" : v->list[j], srcname[v->src]);
        } else if (v->text) {
            fprintf(out, "%s = %s  # %s\n", d->name,
                    (d->flags & PC_CFG_SECRET) ? "********" : v->text, srcname[v->src]);
        }
    }
}
