#!/usr/bin/python3
"""Reference outputs from CPython and barman's own classes for test_backup_info.c.

  barman_check.py write DIR        backup.info files as barman's BackupInfo saves them
  barman_check.py load FILE        load FILE as barman-cloud does, print it re-saved,
                                   a "---" line, then every field as name=type:repr
  barman_check.py repr IN OUT      IN: one hex-encoded UTF-8 string per line; OUT: repr()
  barman_check.py literal IN OUT   IN: hex-encoded literals; OUT: repr(ast.literal_eval())
  barman_check.py float IN OUT     IN: float.hex() values; OUT: repr()
  barman_check.py unicode OUT      repr() of every code point, 256 per line

Exit status 77 means "cannot check here" (python3-barman missing, or another
Unicode version than the table in catalog/pyrepr.c): the C test skips.
No PostgreSQL server or object store is involved.
"""

import ast
import datetime
import io
import os
import sys
import unicodedata


def barman():
    try:
        from barman import infofile
    except ImportError:
        sys.exit(77)
    return infofile


LABEL = (
    "START WAL LOCATION: 0/9000028 (file 000000010000000000000009)\n"
    "CHECKPOINT LOCATION: 0/9000060\n"
    "BACKUP METHOD: streamed\n"
    "BACKUP FROM: primary\n"
    "START TIME: 2026-01-30 08:34:28 UTC\n"
    "LABEL: Barman backup cloud 20260130T083428\n"
    "START TIMELINE: 1\n"
)


def cmd_write(outdir):
    infofile = barman()
    utc = datetime.timezone.utc
    cases = {}

    # what barman-cloud-backup uploads after a successful backup with tablespaces
    b = infofile.BackupInfo(backup_id="20260130T083428", server_name="cloud")
    b.set_attribute("systemid", "7512345678901234567")
    b.set_attribute("pgdata", "/var/lib/postgresql/16/main")
    b.set_attribute("version", 160004)
    b.set_attribute("xlog_segment_size", 16777216)
    b.set_attribute("config_file", "/etc/postgresql/16/main/postgresql.conf")
    b.set_attribute("hba_file", "/etc/postgresql/16/main/pg_hba.conf")
    b.set_attribute("ident_file", "/etc/postgresql/16/main/pg_ident.conf")
    b.set_attribute(
        "included_files",
        ["/etc/postgresql/16/main/conf.d/a.conf", "/tmp/it's \"here\".conf"],
    )
    b.set_attribute(
        "tablespaces",
        [
            infofile.Tablespace("tbs1", 16385, "/srv/tbs1"),
            infofile.Tablespace("t'b\"q", 16386, "/srv/\u00e9t\u00e9\t\\x"),
        ],
    )
    b.set_attribute("status", infofile.BackupInfo.STARTED)
    b.set_attribute("begin_time", datetime.datetime(2026, 1, 30, 8, 34, 28, 903398, tzinfo=utc))
    b.set_attribute("begin_xlog", "0/9000028")
    b.set_attribute("timeline", 1)
    b.set_attribute("begin_wal", "000000010000000000000009")
    b.set_attribute("begin_offset", 40)
    b.set_attribute("end_time", datetime.datetime(2026, 1, 30, 8, 35, 0, tzinfo=utc))
    b.set_attribute("end_xlog", "0/9000138")
    b.set_attribute("end_wal", "000000010000000000000009")
    b.set_attribute("end_offset", 312)
    b.set_attribute("backup_label", LABEL)
    b.set_attribute(
        "copy_stats",
        {
            "total_time": 31.540251,
            "number_of_workers": 2,
            "analysis_time": 0,
            "analysis_time_per_item": {"data": 0},
            "copy_time_per_item": {"data": 30.9},
            "serialized_copy_time_per_item": {"data": 3.2e-05},
            "copy_time": 30.9,
            "serialized_copy_time": 3.2e-05,
        },
    )
    b.set_attribute("status", infofile.BackupInfo.DONE)
    b.set_attribute("backup_name", "nightly \u00e9t\u00e9")
    cases["full"] = b

    # a failed run, with the server's time zone kept
    b = infofile.BackupInfo(backup_id="20260131T010203", server_name="cloud")
    b.set_attribute("systemid", "7512345678901234567")
    b.set_attribute("status", infofile.BackupInfo.FAILED)
    b.set_attribute(
        "error", "failure uploading data (connection reset: don't retry \"now\")"
    )
    tz = datetime.timezone(datetime.timedelta(hours=2))
    b.set_attribute("begin_time", datetime.datetime(2026, 1, 31, 1, 2, 3, 400000, tzinfo=tz))
    tz = datetime.timezone(-datetime.timedelta(hours=5, minutes=30))
    b.set_attribute("end_time", datetime.datetime(2026, 1, 30, 19, 32, 3, tzinfo=tz))
    cases["failed"] = b

    # nothing set but the id
    cases["bare"] = infofile.BackupInfo(backup_id="20260101T000000")

    for name, info in cases.items():
        with open(os.path.join(outdir, name + ".info"), "wb") as f:
            info.save(file_object=f)


def typed(v):
    if isinstance(v, datetime.datetime):
        return "datetime:" + v.isoformat()
    return "%s:%r" % (type(v).__name__, v)


def cmd_load(path):
    infofile = barman()
    # barman.cloud.CloudBackupCatalog.get_backup_info
    info = infofile.BackupInfo("20260130T083428")
    info.load(file_object=open(path, "rb"))
    out = io.BytesIO()
    info.save(file_object=out)
    sys.stdout.write(out.getvalue().decode("utf-8"))
    print("---")
    for name, _ in sorted(vars(infofile.BackupInfo).items()):
        if isinstance(getattr(infofile.BackupInfo, name), infofile.Field):
            print("%s=%s" % (name, typed(getattr(info, name))))


def lines_hex(path):
    with open(path) as f:
        return [bytes.fromhex(l.strip()) for l in f if l.strip() or l == "\n"]


def cmd_repr(inp, outp):
    with open(outp, "w", encoding="utf-8") as out:
        for b in lines_hex(inp):
            out.write(repr(b.decode("utf-8")) + "\n")


def cmd_literal(inp, outp):
    with open(outp, "w", encoding="utf-8") as out:
        for b in lines_hex(inp):
            out.write(repr(ast.literal_eval(b.decode("utf-8"))) + "\n")


def cmd_float(inp, outp):
    with open(inp) as f, open(outp, "w") as out:
        for l in f:
            out.write(repr(float.fromhex(l.strip())) + "\n")


def cmd_unicode(outp):
    if unicodedata.unidata_version != "14.0.0":
        sys.exit(77)
    with open(outp, "w", encoding="utf-8", errors="surrogatepass") as out:
        for start in range(0, 0x110000, 256):
            if 0xD800 <= start < 0xE000:
                continue
            out.write(repr("".join(chr(c) for c in range(start, start + 256))) + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    {
        "write": cmd_write,
        "load": cmd_load,
        "repr": cmd_repr,
        "literal": cmd_literal,
        "float": cmd_float,
        "unicode": cmd_unicode,
    }[cmd](*sys.argv[2:])
