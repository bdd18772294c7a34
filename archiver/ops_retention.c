/*
 * Retention: barman's policy grammar and its report
 * (barman/retention_policies.py), and which WAL files the deletion of
 * backups frees (barman/clients/cloud_backup_delete.py
 * _remove_wals_for_backup, as one rule over the remaining backups).
 * Pure functions: the unit tests drive them directly.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "archiver/ops.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wal.h"

#define US_PER_DAY ((int64_t)86400 * 1000000)
/* Larger values would overflow the window arithmetic; nobody keeps backups 2700 years. */
#define POLICY_VALUE_MAX 1000000

static const char *skip_blank(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* A word (case-insensitive) followed by blanks (need_blank) or the end. */
static bool word(const char **p, const char *w, bool need_blank)
{
    size_t n = strlen(w);
    if (strncasecmp(*p, w, n) != 0)
        return false;
    const char *q = *p + n;
    if (need_blank && !isspace((unsigned char)*q))
        return false;
    *p = skip_blank(q);
    return true;
}

static bool number(const char **p, int64_t *v)
{
    const char *q = *p;
    int64_t x = 0;
    if (!isdigit((unsigned char)*q))
        return false;
    while (isdigit((unsigned char)*q)) {
        if (x > POLICY_VALUE_MAX)
            return false;
        x = x * 10 + (*q - '0');
        q++;
    }
    if (x > POLICY_VALUE_MAX)
        return false;
    *v = x;
    *p = q;
    return true;
}

static pc_status bad_policy(const char *text)
{
    pc_err(PC_E_USAGE, "invalid retention policy \"%s\"", text);
    pc_err_hint("Use \"REDUNDANCY n\", \"RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS\", or the "
                "CloudNativePG form \"30d\", \"4w\", \"3m\".");
    return PC_E_USAGE;
}

pc_status ops_policy_parse(const char *text, ops_policy *out)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return bad_policy("");
    const char *p = skip_blank(text);
    int64_t v;
    if (word(&p, "redundancy", true)) {
        if (!number(&p, &v) || *skip_blank(p))
            return bad_policy(text);
        out->kind = OPS_POLICY_REDUNDANCY;
        out->value = v;
        return PC_OK;
    }
    if (word(&p, "recovery", true)) {
        if (!word(&p, "window", true) || !word(&p, "of", true) || !number(&p, &v) ||
            !isspace((unsigned char)*p))
            return bad_policy(text);
        p = skip_blank(p);
        static const struct {
            const char *w;
            char unit;
        } units[] = {{"day", 'd'}, {"week", 'w'}, {"month", 'm'}};
        for (size_t i = 0; i < 3; i++) {
            size_t n = strlen(units[i].w);
            if (strncasecmp(p, units[i].w, n) != 0)
                continue;
            const char *q = p + n;
            if (*q == 's' || *q == 'S')
                q++;
            if (*skip_blank(q))
                return bad_policy(text);
            out->kind = OPS_POLICY_WINDOW;
            out->value = v;
            out->unit = units[i].unit;
            return PC_OK;
        }
        return bad_policy(text);
    }
    /* CloudNativePG's retentionPolicy: ^[1-9][0-9]*[dwm]$ */
    const char *q = p;
    if (*q >= '1' && *q <= '9' && number(&q, &v)) {
        char u = (char)tolower((unsigned char)*q);
        if ((u == 'd' || u == 'w' || u == 'm') && !*skip_blank(q + 1)) {
            out->kind = OPS_POLICY_WINDOW;
            out->value = v;
            out->unit = u;
            return PC_OK;
        }
    }
    return bad_policy(text);
}

void ops_policy_format(const ops_policy *p, char *out, size_t outlen)
{
    switch (p->kind) {
    case OPS_POLICY_REDUNDANCY:
        snprintf(out, outlen, "REDUNDANCY %" PRId64, p->value);
        return;
    case OPS_POLICY_WINDOW:
        snprintf(out, outlen, "RECOVERY WINDOW OF %" PRId64 " %s", p->value,
                 p->unit == 'w'   ? "WEEKS"
                 : p->unit == 'm' ? "MONTHS"
                                  : "DAYS");
        return;
    }
    snprintf(out, outlen, "?");
}

int64_t ops_policy_window_start(const ops_policy *p, int64_t now_us)
{
    int64_t days = p->unit == 'w' ? 7 * p->value : p->unit == 'm' ? 31 * p->value : p->value;
    return now_us - days * US_PER_DAY;
}

const char *ops_rp_status_name(ops_rp_status s)
{
    switch (s) {
    case OPS_RP_NONE:
        return "-";
    case OPS_RP_VALID:
        return "VALID";
    case OPS_RP_OBSOLETE:
        return "OBSOLETE";
    case OPS_RP_POTENTIALLY_OBSOLETE:
        return "OBSOLETE*";
    case OPS_RP_KEEP_FULL:
        return "KEEP:FULL";
    case OPS_RP_KEEP_STANDALONE:
        return "KEEP:STANDALONE";
    }
    return "?";
}

static ops_rp_status keep_status(ops_keep k)
{
    switch (k) {
    case OPS_KEEP_NONE:
        return OPS_RP_NONE;
    case OPS_KEEP_FULL:
        return OPS_RP_KEEP_FULL;
    case OPS_KEEP_STANDALONE:
        return OPS_RP_KEEP_STANDALONE;
    }
    return OPS_RP_KEEP_FULL;
}

static ssize_t find_id(const ops_rp_backup *v, size_t n, const char *id)
{
    for (size_t i = 0; id && i < n; i++)
        if (strcmp(v[i].id, id) == 0)
            return (ssize_t)i;
    return -1;
}

pc_status ops_policy_report(const ops_policy *p, const ops_rp_backup *v, size_t n, int64_t now_us,
                            int64_t minimum_redundancy, ops_rp_status *status)
{
    if (minimum_redundancy < 0)
        return pc_err(PC_E_USAGE, "the minimum redundancy must not be negative (got %" PRId64 ")",
                      minimum_redundancy);
    /* for an incremental's root: whether the root fell outside the policy (keep:standalone case) */
    bool *outside = n ? calloc(n, sizeof *outside) : NULL;
    if (n && !outside)
        return pc_err(PC_E_INTERNAL, "out of memory");
    int64_t redundancy = p->value;
    if (p->kind == OPS_POLICY_REDUNDANCY && redundancy < minimum_redundancy) {
        pc_warn("retention policy redundancy (%" PRId64 ") is lower than the required minimum "
                "redundancy (%" PRId64 "): enforcing %" PRId64,
                redundancy, minimum_redundancy, minimum_redundancy);
        redundancy = minimum_redundancy;
    }
    int64_t start = p->kind == OPS_POLICY_WINDOW ? ops_policy_window_start(p, now_us) : 0;
    int64_t i = 0, valid = 0;
    bool found = false;
    for (size_t k = n; k-- > 0;) {
        status[k] = OPS_RP_NONE;
        if (v[k].parent)
            continue; /* judged with its root below */
        if (!v[k].done)
            continue;
        ops_rp_status kt = keep_status(v[k].keep);
        if (p->kind == OPS_POLICY_REDUNDANCY) {
            if (kt != OPS_RP_NONE)
                status[k] = kt;
            else
                status[k] = i < redundancy ? OPS_RP_VALID : OPS_RP_OBSOLETE;
            i++;
            outside[k] = i > redundancy;
        } else {
            if (found) {
                if (valid < minimum_redundancy) {
                    status[k] = kt != OPS_RP_NONE ? kt : OPS_RP_POTENTIALLY_OBSOLETE;
                    valid++;
                } else {
                    status[k] = kt != OPS_RP_NONE ? kt : OPS_RP_OBSOLETE;
                }
            } else {
                status[k] = kt != OPS_RP_NONE ? kt : OPS_RP_VALID;
                valid++;
                if (v[k].end_time != CAT_BINFO_NONE && v[k].end_time < start)
                    found = true;
            }
            outside[k] = found;
        }
    }
    /* incremental backups take their root's status (barman _propagate_retention_status_to_children)
     */
    for (size_t k = 0; k < n; k++) {
        if (!v[k].parent)
            continue;
        ssize_t r = find_id(v, n, v[k].parent);
        for (size_t hops = 0; r >= 0 && v[r].parent && hops < n; hops++)
            r = find_id(v, n, v[r].parent);
        if (r < 0 || v[r].parent) {
            status[k] = OPS_RP_NONE; /* no root: not judged, so never deleted by a policy */
            continue;
        }
        switch (status[r]) {
        case OPS_RP_KEEP_STANDALONE:
            status[k] = outside[r] ? OPS_RP_OBSOLETE : OPS_RP_VALID;
            break;
        case OPS_RP_KEEP_FULL:
            status[k] = OPS_RP_VALID;
            break;
        case OPS_RP_NONE:
        case OPS_RP_VALID:
        case OPS_RP_OBSOLETE:
        case OPS_RP_POTENTIALLY_OBSOLETE:
            status[k] = v[k].done ? status[r] : OPS_RP_NONE;
            break;
        }
    }
    free(outside);
    return PC_OK;
}

/* ---- WAL ---- */

void ops_wal_rule_free(ops_wal_rule *r)
{
    free(r->protect_tli);
    free(r->ranges);
    memset(r, 0, sizeof *r);
}

static bool seg_name(const char *name)
{
    return name && pc_wal_is_segment_name(name);
}

pc_status ops_wal_rule_build(const ops_wal_rule_backup *remaining, size_t nremaining,
                             const ops_wal_rule_backup *deleted, size_t ndeleted,
                             const char *first_required, ops_wal_rule *out)
{
    memset(out, 0, sizeof *out);
    const ops_wal_rule_backup *oldest = NULL;
    for (size_t i = 0; i < nremaining; i++) {
        const ops_wal_rule_backup *b = &remaining[i];
        if (b->anchor && seg_name(b->begin_wal) && (!oldest || strcmp(b->id, oldest->id) < 0))
            oldest = b;
    }
    if (oldest) {
        snprintf(out->bound, sizeof out->bound, "%s", oldest->begin_wal);
        out->bound_tli = oldest->timeline;
        /* a remaining anchor of the same timeline never loses WAL it needs, whatever its id */
        for (size_t i = 0; i < nremaining; i++) {
            const ops_wal_rule_backup *b = &remaining[i];
            if (b->anchor && seg_name(b->begin_wal) && b->timeline == out->bound_tli &&
                strcmp(b->begin_wal, out->bound) < 0)
                snprintf(out->bound, sizeof out->bound, "%s", b->begin_wal);
        }
    } else {
        /* nothing left that needs WAL: what the deleted backups needed goes, no more */
        const ops_wal_rule_backup *newest = NULL;
        for (size_t i = 0; i < ndeleted; i++)
            if (seg_name(deleted[i].begin_wal) &&
                (!newest || strcmp(deleted[i].id, newest->id) > 0))
                newest = &deleted[i];
        if (newest) {
            snprintf(out->bound, sizeof out->bound, "%s", newest->begin_wal);
            out->bound_tli = newest->timeline;
        }
    }
    if (nremaining) {
        out->protect_tli = calloc(nremaining, sizeof *out->protect_tli);
        out->ranges = calloc(nremaining, sizeof *out->ranges);
        if (!out->protect_tli || !out->ranges) {
            ops_wal_rule_free(out);
            return pc_err(PC_E_INTERNAL, "out of memory");
        }
    }
    for (size_t i = 0; i < nremaining; i++) {
        const ops_wal_rule_backup *b = &remaining[i];
        /* every remaining backup's timeline but the bound's keeps all its WAL (barman) */
        if (oldest && b->timeline && b->timeline != out->bound_tli) {
            bool seen = false;
            for (size_t k = 0; k < out->nprotect_tli; k++)
                seen |= out->protect_tli[k] == b->timeline;
            if (!seen)
                out->protect_tli[out->nprotect_tli++] = b->timeline;
        }
        if (b->keep == OPS_KEEP_STANDALONE && seg_name(b->begin_wal)) {
            snprintf(out->ranges[out->nranges][0], PC_WAL_NAME_MAX, "%s", b->begin_wal);
            snprintf(out->ranges[out->nranges][1], PC_WAL_NAME_MAX, "%s",
                     seg_name(b->end_wal) ? b->end_wal : "FFFFFFFFFFFFFFFFFFFFFFFF");
            out->nranges++;
        }
        /* keep:full needs everything from its begin: the bound is at or before it already */
        if (b->keep == OPS_KEEP_FULL && seg_name(b->begin_wal) && out->bound[0] &&
            strcmp(b->begin_wal, out->bound) < 0 && b->timeline == out->bound_tli)
            snprintf(out->bound, sizeof out->bound, "%s", b->begin_wal);
    }
    if (first_required && seg_name(first_required))
        snprintf(out->first_required, sizeof out->first_required, "%s", first_required);
    return PC_OK;
}

bool ops_wal_rule_deletable(const ops_wal_rule *r, const char *name)
{
    pc_wal_name w;
    if (!r->bound[0] || pc_wal_parse(name, &w) != PC_OK) {
        pc_err_clear();
        return false;
    }
    if (w.kind == PC_WAL_HISTORY)
        return false;
    char seg[PC_WAL_NAME_LEN + 1];
    memcpy(seg, w.name, PC_WAL_NAME_LEN);
    seg[PC_WAL_NAME_LEN] = '\0';
    for (size_t k = 0; k < r->nprotect_tli; k++)
        if (w.tli == r->protect_tli[k])
            return false;
    if (strcmp(seg, r->bound) >= 0)
        return false;
    for (size_t k = 0; k < r->nranges; k++)
        if (strcmp(seg, r->ranges[k][0]) >= 0 && strcmp(seg, r->ranges[k][1]) <= 0)
            return false;
    if (r->first_required[0] && strcmp(seg, r->first_required) >= 0)
        return false;
    return true;
}
