/*
 * The recovery configuration written by `pgcask restore --recovery-config`:
 * restore_command and the recovery target go into postgresql.auto.conf
 * (read last, so it wins over postgresql.conf), plus recovery.signal or
 * standby.signal.
 *
 * Quoting has three layers for restore_command: each word is quoted for
 * /bin/sh (PostgreSQL runs the command with system()), every '%' that is not
 * ours is doubled (PostgreSQL expands %f %p %r %%), and the whole is a
 * postgresql.conf string ('' and \\ inside).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/timeutil.h"
#include "restore/rst_int.h"

/* PostgreSQL's limit for restore point names (MAXFNAMELEN - 1). */
#define RESTORE_POINT_MAX 63
#define AUTO_CONF_MAX     (16 * 1024 * 1024)

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

pc_status rst_guc_quote(pc_buf *out, const char *value)
{
    if (has_control(value))
        return pc_err(PC_E_USAGE,
                      "value for postgresql.auto.conf contains a line break or a control "
                      "character");
    pc_status st = pc_buf_append(out, "'", 1);
    for (const char *p = value; st == PC_OK && *p; p++) {
        if (*p == '\'' || *p == '\\')
            st = pc_buf_append(out, p, 1);
        st = st ? st : pc_buf_append(out, p, 1);
    }
    return st ? st : pc_buf_append(out, "'", 1);
}

pc_status rst_sh_quote(pc_buf *out, const char *word)
{
    pc_status st = pc_buf_append(out, "'", 1);
    for (const char *p = word; st == PC_OK && *p; p++)
        st = *p == '\'' ? pc_buf_append_str(out, "'\\''") : pc_buf_append(out, p, 1);
    return st ? st : pc_buf_append(out, "'", 1);
}

/* Words made of these need no shell quoting (and read better in SHOW restore_command). */
static bool sh_plain(const char *w)
{
    if (!*w)
        return false;
    for (; *w; w++)
        if (!((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z') || (*w >= '0' && *w <= '9') ||
              strchr("_-./:=@,+", *w)))
            return false;
    return true;
}

/* One word of restore_command: shell-quoted when needed, with '%' doubled for PostgreSQL. */
static pc_status cmd_word(pc_buf *out, const char *word)
{
    pc_buf q;
    pc_buf_init(&q, PC_BUF_NOCAP);
    pc_status st = sh_plain(word) ? pc_buf_append_str(&q, word) : rst_sh_quote(&q, word);
    if (out->len > 0)
        st = st ? st : pc_buf_append(out, " ", 1);
    for (size_t i = 0; st == PC_OK && i < q.len; i++) {
        if (q.data[i] == '%')
            st = pc_buf_append(out, "%", 1);
        st = st ? st : pc_buf_append(out, &q.data[i], 1);
    }
    pc_buf_free(&q);
    return st;
}

/* The settings that locate and reach the repository; none is secret. */
static const char *const carried[] = {
    "repo",        "server",           "endpoint-url",  "region",          "aws-profile",
    "ca-bundle",   "verify-tls",       "s3-addressing", "connect-timeout", "read-timeout",
    "max-retries", "wal-segment-size", "max-parallel",
};

static pc_status setting_text(const pc_cfg *cfg, const pc_cfg_desc *d, char *out, size_t len)
{
    switch (d->type) {
    case PC_CFG_STRING: {
        const char *v = pc_cfg_str(cfg, d->name);
        if (!v)
            return PC_E_NOT_FOUND;
        if (strlen(v) >= len)
            return pc_err(PC_E_USAGE, "setting %s is too long for restore_command", d->name);
        strcpy(out, v);
        return PC_OK;
    }
    case PC_CFG_INT:
        snprintf(out, len, "%" PRId64, pc_cfg_int(cfg, d->name));
        return PC_OK;
    case PC_CFG_SIZE:
        snprintf(out, len, "%" PRIu64, pc_cfg_size(cfg, d->name));
        return PC_OK;
    case PC_CFG_BOOL:
        snprintf(out, len, "%s", pc_cfg_bool(cfg, d->name) ? "on" : "off");
        return PC_OK;
    case PC_CFG_DURATION:
        snprintf(out, len, "%" PRId64 "ms", pc_cfg_duration_ms(cfg, d->name));
        return PC_OK;
    case PC_CFG_LIST:
        break;
    }
    return PC_E_NOT_FOUND;
}

pc_status rst_restore_command(const char *exe, const pc_cfg *cfg, pc_buf *out)
{
    pc_status st = cmd_word(out, exe);
    st = st ? st : cmd_word(out, "wal-restore");
    for (size_t i = 0; st == PC_OK && i < sizeof carried / sizeof carried[0]; i++) {
        const pc_cfg_desc *d = pc_cfg_find(carried[i]);
        if (!d || !pc_cfg_isset(cfg, d->name))
            continue;
        char v[4096], flag[80];
        pc_status vs = setting_text(cfg, d, v, sizeof v);
        if (vs == PC_E_NOT_FOUND)
            continue;
        if ((st = vs) != PC_OK)
            break;
        snprintf(flag, sizeof flag, "--%s", d->name);
        st = cmd_word(out, flag);
        st = st ? st : cmd_word(out, v);
    }
    return st ? st : pc_buf_append_str(out, " %f %p");
}

static pc_status line(pc_buf *out, const char *key, const char *value)
{
    pc_status st = pc_buf_printf(out, "%s = ", key);
    st = st ? st : rst_guc_quote(out, value);
    return st ? st : pc_buf_append(out, "\n", 1);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

pc_status rst_recovery_render(const rst_target *t, const char *restore_command, pc_buf *out)
{
    int ntargets = (t->time != NULL) + (t->lsn != NULL) + (t->xid != NULL) + (t->name != NULL) +
                   (t->immediate ? 1 : 0);
    if (ntargets > 1) {
        pc_err(PC_E_USAGE, "more than one recovery target given");
        pc_err_hint("Give one of --target-time, --target-lsn, --target-xid, --target-name and "
                    "--target-immediate: PostgreSQL accepts a single target.");
        return PC_E_USAGE;
    }
    if (t->exclusive && !t->time && !t->lsn && !t->xid) {
        pc_err(PC_E_USAGE, "--target-exclusive needs --target-time, --target-lsn or --target-xid");
        return PC_E_USAGE;
    }
    if (t->action && ntargets == 0) {
        pc_err(PC_E_USAGE, "--target-action needs a recovery target");
        pc_err_hint("PostgreSQL only applies recovery_target_action when a target is reached.");
        return PC_E_USAGE;
    }
    if (t->action && strcmp(t->action, "pause") != 0 && strcmp(t->action, "promote") != 0 &&
        strcmp(t->action, "shutdown") != 0) {
        pc_err(PC_E_USAGE, "invalid --target-action \"%s\"", t->action);
        pc_err_hint("Use pause, promote or shutdown.");
        return PC_E_USAGE;
    }
    if (t->tli && !all_digits(t->tli) && strcmp(t->tli, "latest") != 0 &&
        strcmp(t->tli, "current") != 0) {
        pc_err(PC_E_USAGE, "invalid --target-tli \"%s\"", t->tli);
        pc_err_hint("Use a timeline number, latest or current.");
        return PC_E_USAGE;
    }
    if (t->xid && !all_digits(t->xid)) {
        pc_err(PC_E_USAGE, "invalid --target-xid \"%s\": not a transaction id", t->xid);
        return PC_E_USAGE;
    }
    if (t->name && (!*t->name || strlen(t->name) > RESTORE_POINT_MAX)) {
        pc_err(PC_E_USAGE, "invalid --target-name: a restore point name has 1 to %d characters",
               RESTORE_POINT_MAX);
        return PC_E_USAGE;
    }
    char norm[64];
    if (t->time) {
        int64_t us;
        pc_status st = pc_time_parse(t->time, &us);
        if (st) {
            pc_err_context("--target-time");
            return st;
        }
        pc_time_barman(us, norm, sizeof norm);
    } else if (t->lsn) {
        pc_lsn lsn;
        pc_status st = pc_lsn_parse(t->lsn, &lsn);
        if (st) {
            pc_err_context("--target-lsn");
            return st;
        }
        pc_lsn_format(lsn, norm, sizeof norm);
    }

    pc_status st = pc_buf_append_str(out, "# recovery settings written by pgcask restore\n");
    if (restore_command)
        st = st ? st : line(out, "restore_command", restore_command);
    if (t->time)
        st = st ? st : line(out, "recovery_target_time", norm);
    if (t->lsn)
        st = st ? st : line(out, "recovery_target_lsn", norm);
    if (t->xid)
        st = st ? st : line(out, "recovery_target_xid", t->xid);
    if (t->name)
        st = st ? st : line(out, "recovery_target_name", t->name);
    if (t->immediate)
        st = st ? st : line(out, "recovery_target", "immediate");
    if (t->exclusive)
        st = st ? st : line(out, "recovery_target_inclusive", "false");
    if (t->tli)
        st = st ? st : line(out, "recovery_target_timeline", t->tli);
    if (t->action)
        st = st ? st : line(out, "recovery_target_action", t->action);
    return st;
}

/* A postgresql.conf line setting restore_command or a recovery_target* parameter. */
static bool is_recovery_line(const char *l, size_t len)
{
    size_t i = 0;
    while (i < len && (l[i] == ' ' || l[i] == '\t'))
        i++;
    size_t k = i;
    while (k < len && l[k] != '=' && l[k] != ' ' && l[k] != '\t')
        k++;
    size_t klen = k - i;
    return (klen == 15 && strncasecmp(l + i, "restore_command", 15) == 0) ||
           (klen >= 15 && strncasecmp(l + i, "recovery_target", 15) == 0);
}

pc_status rst_recovery_write(const char *dest, const char *lines, bool standby)
{
    char *conf = pc_path_join(dest, "postgresql.auto.conf");
    char *signal = pc_path_join(dest, standby ? "standby.signal" : "recovery.signal");
    pc_buf old, now;
    pc_buf_init(&old, AUTO_CONF_MAX);
    pc_buf_init(&now, PC_BUF_NOCAP);
    pc_status st = conf && signal ? PC_OK : PC_E_INTERNAL;
    if (st == PC_OK) {
        st = pc_read_file(conf, AUTO_CONF_MAX, &old);
        if (st == PC_E_NOT_FOUND) {
            pc_err_clear();
            st = PC_OK;
        }
    }
    if (st == PC_OK) {
        const char *p = (const char *)old.data, *end = p + old.len;
        while (st == PC_OK && p && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (is_recovery_line(p, len))
                st = pc_buf_append_str(&now, "# replaced by pgcask restore: ");
            st = st ? st : pc_buf_append(&now, p, len);
            st = st ? st : pc_buf_append(&now, "\n", 1);
            p = nl ? nl + 1 : end;
        }
    }
    pc_buf_free(&old);
    st = st ? st : pc_buf_append_str(&now, lines);
    st = st ? st : pc_write_file_atomic(conf, now.data, now.len, 0600);
    st = st ? st : pc_write_file_atomic(signal, "", 0, 0600);
    pc_buf_free(&now);
    free(conf);
    free(signal);
    return st;
}
