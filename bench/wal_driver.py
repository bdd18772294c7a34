#!/usr/bin/python3
"""Call an archive_command or restore_command the way PostgreSQL 15 does.

  wal_driver.py archive PGDATA 'COMMAND %p'
      PostgreSQL's archiver: scan pg_wal/archive_status for .ready files
      (history files first, then by name, up to 64 per scan), and for each one
      whose .ready file still exists run the command through `sh -c` in PGDATA
      with %p = pg_wal/NAME and %f = NAME; exit 0 renames .ready to .done, a
      failure is retried after 1 s (3 tries, then the driver gives up: a
      benchmark must not fail).
  wal_driver.py restore PGDATA 'COMMAND %f %p' NAMES_FILE
      The startup process in archive recovery: for each name in order run the
      command with %f = NAME, %p = pg_wal/RECOVERYXLOG, check that a file of
      the segment size appeared, then remove it (PostgreSQL replays it and
      moves on).

Prints one line: calls=N failures=N seconds=S maxrss_kib=K, where maxrss_kib
is the largest peak RSS among the commands (and their children) run.
"""
import os
import resource
import subprocess
import sys
import time

SEGMENT_SIZE = 16 * 1024 * 1024


def run(cmd, cwd):
    return subprocess.run(cmd, shell=True, cwd=cwd).returncode


def ready_files(status_dir):
    names = [f[:-6] for f in os.listdir(status_dir) if f.endswith(".ready")]
    # PostgreSQL 15 archives timeline history files first, then in name order
    names.sort(key=lambda n: (not n.endswith(".history"), n))
    return names[:64]


def archive(pgdata, template):
    status = os.path.join(pgdata, "pg_wal", "archive_status")
    calls = failures = 0
    while True:
        batch = ready_files(status)
        if not batch:
            break
        for name in batch:
            ready = os.path.join(status, name + ".ready")
            if not os.path.exists(ready):
                continue
            cmd = template.replace("%p", "pg_wal/" + name).replace("%f", name)
            for attempt in range(3):
                calls += 1
                if run(cmd, pgdata) == 0:
                    os.rename(ready, os.path.join(status, name + ".done"))
                    break
                failures += 1
                time.sleep(1)
            else:
                sys.exit("wal_driver: archiving %s failed 3 times: %s" % (name, cmd))
    return calls, failures


def restore(pgdata, template, names_file):
    with open(names_file) as f:
        names = [l.strip() for l in f if l.strip()]
    dest = os.path.join(pgdata, "pg_wal", "RECOVERYXLOG")
    calls = failures = 0
    for name in names:
        if os.path.exists(dest):
            os.unlink(dest)
        cmd = template.replace("%f", name).replace("%p", "pg_wal/RECOVERYXLOG")
        calls += 1
        rc = run(cmd, pgdata)
        if rc != 0:
            sys.exit("wal_driver: restoring %s failed with exit code %d: %s" % (name, rc, cmd))
        size = os.stat(dest).st_size
        if size != SEGMENT_SIZE:
            sys.exit("wal_driver: %s restored with %d bytes" % (name, size))
        os.unlink(dest)
    return calls, failures


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("archive", "restore"):
        sys.exit(__doc__)
    mode, pgdata, template = sys.argv[1:4]
    t0 = time.monotonic()
    if mode == "archive":
        calls, failures = archive(pgdata, template)
    else:
        calls, failures = restore(pgdata, template, sys.argv[4])
    secs = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("calls=%d failures=%d seconds=%.4f maxrss_kib=%d" % (calls, failures, secs, rss))


if __name__ == "__main__":
    main()
