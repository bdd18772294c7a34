#include "common/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/error.h"

int64_t pc_now_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pc_now_mono_ms(void)
{
    return pc_now_mono_us() / 1000;
}

int64_t pc_now_us(void)
{
    const char *fake = getenv("PGCASK_FAKE_NOW");
    if (fake && *fake) {
        char *end;
        long long v = strtoll(fake, &end, 10);
        if (*end == '\0')
            return (int64_t)v * 1000000;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void pc_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void split(int64_t epoch_us, struct tm *tm, int *usec)
{
    int64_t sec = epoch_us / 1000000;
    int64_t us = epoch_us % 1000000;
    if (us < 0) {
        us += 1000000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    gmtime_r(&t, tm);
    *usec = (int)us;
}

void pc_time_iso8601(int64_t epoch_us, bool with_usec, char *out, size_t outlen)
{
    struct tm tm;
    int us;
    char base[32];
    split(epoch_us, &tm, &us);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (with_usec)
        snprintf(out, outlen, "%s.%06d+00:00", base, us);
    else
        snprintf(out, outlen, "%sZ", base);
}

void pc_time_barman(int64_t epoch_us, char *out, size_t outlen)
{
    struct tm tm;
    int us;
    char base[32];
    split(epoch_us, &tm, &us);
    strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm);
    if (us)
        snprintf(out, outlen, "%s.%06d+00:00", base, us);
    else
        snprintf(out, outlen, "%s+00:00", base);
}

void pc_time_ctime(int64_t epoch_us, char *out, size_t outlen)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    int us;
    split(epoch_us, &tm, &us);
    /* Python's ctime pads the day of month with a space: "Sat Nov  1 10:00:00 2026" */
    snprintf(out, outlen, "%s %s %2d %02d:%02d:%02d %d", days[tm.tm_wday], mons[tm.tm_mon],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

void pc_time_backup_id(int64_t epoch_us, char *out, size_t outlen)
{
    struct tm tm;
    int us;
    split(epoch_us, &tm, &us);
    strftime(out, outlen, "%Y%m%dT%H%M%S", &tm);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Howard Hinnant's civil-date algorithms (proleptic Gregorian, day 0 = 1970-01-01). */
int64_t pc_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void pc_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

pc_status pc_time_parse(const char *text, int64_t *epoch_us)
{
    const char *p = text;
    int Y, M, D, h = 0, mi = 0, s = 0;
    int64_t usec = 0;
    int64_t offset_s = 0;

    while (isspace((unsigned char)*p))
        p++;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        goto bad;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            goto bad;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &s))
                goto bad;
            if (*p == '.' || *p == ',') {
                p++;
                int64_t scale = 100000;
                if (!isdigit((unsigned char)*p))
                    goto bad;
                while (isdigit((unsigned char)*p)) {
                    usec += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    while (*p == ' ')
        p++;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om = 0;
        p++;
        if (digits(&p, 2, &oh))
            goto bad;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
            goto bad;
        if (oh > 15 || om > 59) /* PostgreSQL's own limit on UTC offsets */
            goto bad;
        offset_s = sign * (oh * 3600 + om * 60);
    } else if (strncmp(p, "UTC", 3) == 0) {
        p += 3;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        goto bad;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || s > 60)
        goto bad;
    {
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
        if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap))
            goto bad;
    }
    *epoch_us =
        (pc_days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + s - offset_s) * 1000000 + usec;
    return PC_OK;
bad:
    pc_err(PC_E_USAGE, "invalid timestamp \"%s\"", text);
    pc_err_hint("Use the form 2026-11-21 10:00:00[.ffffff][+HH[:MM]] (UTC when no zone is given).");
    return PC_E_USAGE;
}
