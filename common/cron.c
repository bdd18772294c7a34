#include "common/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "common/timeutil.h"

#define CRON_MAX_TEXT 256

/* 9999-12-31 23:59:59 UTC: far enough, and no date arithmetic overflows below it. */
#define CRON_MAX_EPOCH INT64_C(253402300799)

/* Days of one Gregorian cycle: dates and weekdays repeat after it. */
#define CYCLE_DAYS 146097

typedef struct field_spec {
    const char *what;
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i, or NULL */
} field_spec;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const field_spec fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    /* 7 is Sunday too; folded onto 0 after parsing */
    {"day-of-week", 0, 7, day_names},
};

static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static pc_status bad(const char *text, const field_spec *f, const char *ftext, size_t flen,
                     const char *why)
{
    if (f)
        pc_err(PC_E_USAGE, "invalid cron expression \"%s\": %s field \"%.*s\": %s", text, f->what,
               (int)flen, ftext, why);
    else
        pc_err(PC_E_USAGE, "invalid cron expression \"%s\": %s", text, why);
    pc_err_hint("A schedule has five fields, minute hour day-of-month month day-of-week "
                "(for example \"0 3 * * *\"), or is one of @yearly @monthly @weekly @daily "
                "@hourly; times are UTC.");
    return PC_E_USAGE;
}

/* A number or (where the field has names) a three-letter name at *p. */
static bool parse_value(const field_spec *f, const char **p, const char *end, int *out)
{
    const char *s = *p;
    if (s < end && isdigit((unsigned char)*s)) {
        int v = 0;
        while (s < end && isdigit((unsigned char)*s)) {
            if (v > 9999)
                return false;
            v = v * 10 + (*s++ - '0');
        }
        *out = v;
        *p = s;
        return true;
    }
    if (!f->names || end - s < 3)
        return false;
    int count = f->hi - f->lo + 1 - (f->names == day_names); /* no name for the 7 alias */
    for (int i = 0; i < count; i++) {
        if (strncasecmp(s, f->names[i], 3) == 0 &&
            (end - s == 3 || !isalpha((unsigned char)s[3]))) {
            *out = f->lo + i;
            *p = s + 3;
            return true;
        }
    }
    return false;
}

static pc_status parse_field(const char *text, const field_spec *f, const char *ftext, size_t flen,
                             uint64_t *bits)
{
    const char *p = ftext, *end = ftext + flen;
    *bits = 0;
    for (;;) {
        int lo, hi, step = 1;
        bool ranged = false;
        if (p < end && *p == '*') {
            ranged = true;
            lo = f->lo;
            hi = f->hi;
            p++;
        } else {
            if (!parse_value(f, &p, end, &lo))
                return bad(text, f, ftext, flen,
                           p < end && *p == ',' ? "empty list item" : "expected a number");
            hi = lo;
            if (p < end && *p == '-') {
                ranged = true;
                p++;
                if (!parse_value(f, &p, end, &hi))
                    return bad(text, f, ftext, flen, "expected a number after '-'");
            }
            char why[96];
            if (lo < f->lo || lo > f->hi || hi < f->lo || hi > f->hi) {
                snprintf(why, sizeof why, "value %d out of range %d-%d",
                         (lo < f->lo || lo > f->hi) ? lo : hi, f->lo, f->hi);
                return bad(text, f, ftext, flen, why);
            }
            if (lo > hi) {
                snprintf(why, sizeof why, "range %d-%d goes backwards", lo, hi);
                return bad(text, f, ftext, flen, why);
            }
        }
        if (p < end && *p == '/') {
            if (!ranged)
                return bad(text, f, ftext, flen, "a step needs a range or '*' before it");
            p++;
            const char *s = p;
            step = 0;
            while (p < end && isdigit((unsigned char)*p)) {
                if (step > 9999)
                    break;
                step = step * 10 + (*p++ - '0');
            }
            if (p == s || step < 1 || step > f->hi - f->lo + 1)
                return bad(text, f, ftext, flen, "invalid step");
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= (uint64_t)1 << v;
        if (p == end)
            return PC_OK;
        if (*p != ',')
            return bad(text, f, ftext, flen, "unexpected character");
        p++;
        if (p == end)
            return bad(text, f, ftext, flen, "empty list item");
    }
}

pc_status pc_cron_parse(const char *text, pc_cron *out)
{
    const char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0)
        return bad(text, NULL, NULL, 0, "empty schedule");
    if (n > CRON_MAX_TEXT)
        return bad(text, NULL, NULL, 0, "too long");
    const char *expr = s;
    size_t elen = n;
    if (*s == '@') {
        expr = NULL;
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
            if (strlen(macros[i].name) == n && strncasecmp(s, macros[i].name, n) == 0) {
                expr = macros[i].expansion;
                elen = strlen(expr);
            }
        }
        if (!expr)
            return bad(text, NULL, NULL, 0, "unknown macro");
    }

    const char *ftext[5];
    size_t flen[5];
    int nf = 0;
    const char *p = expr, *end = expr + elen;
    while (p < end) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p == end)
            break;
        if (nf == 5)
            return bad(text, NULL, NULL, 0, "more than five fields");
        ftext[nf] = p;
        while (p < end && !isspace((unsigned char)*p))
            p++;
        flen[nf] = (size_t)(p - ftext[nf]);
        nf++;
    }
    if (nf < 5)
        return bad(text, NULL, NULL, 0, "fewer than five fields");

    uint64_t bits[5];
    for (int i = 0; i < 5; i++) {
        pc_status st = parse_field(text, &fields[i], ftext[i], flen[i], &bits[i]);
        if (st)
            return st;
    }
    memset(out, 0, sizeof *out);
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->wdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
    out->mday_star = ftext[2][0] == '*';
    out->wday_star = ftext[4][0] == '*';
    return PC_OK;
}

static bool day_matches(const pc_cron *c, int64_t days, int mday)
{
    int wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
    bool dm = c->mdays >> mday & 1;
    bool wm = c->wdays >> wday & 1;
    return (c->mday_star || c->wday_star) ? (dm && wm) : (dm || wm);
}

pc_status pc_cron_next(const pc_cron *c, int64_t after, int64_t *next)
{
    if (after < 0 || after >= CRON_MAX_EPOCH)
        return pc_err(PC_E_USAGE, "cron: start time %lld is outside the years 1970-9999",
                      (long long)after);
    int64_t t = after - after % 60 + 60;
    int64_t days = t / 86400;
    int64_t limit = days + CYCLE_DAYS;
    int hour = (int)(t % 86400 / 3600), minute = (int)(t % 3600 / 60);

    while (days <= limit) {
        int64_t y;
        int m, d;
        pc_civil_from_days(days, &y, &m, &d);
        if (!(c->months >> m & 1)) {
            days = m == 12 ? pc_days_from_civil(y + 1, 1, 1) : pc_days_from_civil(y, m + 1, 1);
            hour = minute = 0;
            continue;
        }
        if (day_matches(c, days, d)) {
            for (; hour < 24; hour++, minute = 0) {
                if (!(c->hours >> hour & 1))
                    continue;
                for (; minute < 60; minute++) {
                    if (c->minutes >> minute & 1) {
                        *next = days * 86400 + hour * 3600 + minute * 60;
                        return PC_OK;
                    }
                }
            }
        }
        days++;
        hour = minute = 0;
    }
    return pc_err(PC_E_USAGE, "cron expression never fires: no date matches its day and month "
                              "fields");
}
