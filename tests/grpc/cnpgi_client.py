#!/usr/bin/python3
"""A CNPG-I client for testing the pgcask sidecar: it plays CloudNativePG's
instance manager over the plugin's unix socket.

Run it with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf).
The message classes are generated at start-up from pgcask's own .proto files
with the system protoc, and methods are called generically by path, so no
generated stubs are kept in the tree.

Every operation uses a fresh connection and the sequence the instance
manager uses (LoadPlugin): GetPluginMetadata, GetPluginCapabilities, the
service's GetCapabilities, then the call itself.

Two kinds of subcommands:

- describe, call, storm, latency, health: print one JSON document on
  stdout; with --expect-* they exit 1 when the outcome differs.
- archive, restore, status, set-first-required, backup, restore-job: what
  the instance manager (and the restore Job) do, with CNPG's command lines,
  usable as PostgreSQL's archive_command and restore_command:

    archive_command = '/usr/bin/python3 cnpgi_client.py archive --socket S --cluster C.json $PGDATA/%p'
    restore_command = '/usr/bin/python3 cnpgi_client.py restore --socket S --cluster C.json %f $PGDATA/%p'

  Exit codes: 0 OK; for restore 1 NOT_FOUND and 2 OUT_OF_RANGE (end of the
  archive: switch to streaming); any other gRPC code is 10 + its number
  (INVALID_ARGUMENT 13, FAILED_PRECONDITION 19, UNAVAILABLE 24, ...); 3 a
  client-side failure. Errors go to stderr as "cnpgi_client OP: CODE: text"
  (a restore's NOT_FOUND silently, as PostgreSQL asks for missing files
  routinely); backup, restore-job and status print the JSON result.

The generated protobuf modules are cached per user in the temp directory,
keyed by a hash of the .proto files, so that one call costs one Python
start-up rather than a protoc run.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from google.protobuf import json_format, symbol_database

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "plugin-grpc", "proto")
PROTOS = ["identity", "wal", "backup", "restore_job", "metrics", "health"]

# PluginCapability.Service.Type -> the GetCapabilities the instance manager then calls.
SERVICE_CAPS = {
    2: "/cnpgi.wal.v1.WAL/GetCapabilities",
    3: "/cnpgi.backup.v1.Backup/GetCapabilities",
    6: "/cnpgi.wal.v1.RestoreJobHooks/GetCapabilities",
    10: "/cnpgi.metrics.v1.Metrics/GetCapabilities",
}
SERVICE_NAMES = {2: "WAL", 3: "BACKUP", 6: "RESTORE_JOB", 10: "METRICS"}


def load_protos():
    """Import the _pb2 modules, generated once per version of the .proto files.

    PostgreSQL runs this client once per WAL file (archive_command,
    restore_command), so the generated modules are cached in a directory
    named after a hash of the .proto files (per user, in the temp directory)
    instead of running protoc every time.
    """
    h = hashlib.sha256()
    for p in PROTOS:
        with open(os.path.join(PROTO_DIR, p + ".proto"), "rb") as f:
            h.update(f.read())
    cache = os.path.join(
        tempfile.gettempdir(), "cnpgi-py-%d-%s" % (os.getuid(), h.hexdigest()[:16])
    )
    if not os.path.isfile(os.path.join(cache, "complete")):
        tmp = tempfile.mkdtemp(prefix="cnpgi-py-new-")
        subprocess.run(
            ["/usr/bin/protoc", "-I", PROTO_DIR, "--python_out", tmp]
            + [p + ".proto" for p in PROTOS],
            check=True,
            cwd=PROTO_DIR,
        )
        open(os.path.join(tmp, "complete"), "w").close()
        try:
            os.rename(tmp, cache)
        except OSError:  # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    sys.path.insert(0, cache)
    for p in PROTOS:
        importlib.import_module(p + "_pb2")
    sys.path.remove(cache)


def message_types(path):
    """(request class, response class) of "/pkg.Service/Method", or None when unknown."""
    service, method = path.strip("/").split("/", 1)
    pool = symbol_database.Default().pool
    try:
        m = pool.FindServiceByName(service).FindMethodByName(method)
    except KeyError:
        return None
    if m is None:
        return None
    sym = symbol_database.Default()
    return sym.GetSymbol(m.input_type.full_name), sym.GetSymbol(m.output_type.full_name)


# Service -> the PluginCapability type that announces it.
SERVICE_OF_CAPABILITY = {
    "cnpgi.wal.v1.WAL": "TYPE_WAL_SERVICE",
    "cnpgi.backup.v1.Backup": "TYPE_BACKUP_SERVICE",
    "cnpgi.wal.v1.RestoreJobHooks": "TYPE_RESTORE_JOB",
    "cnpgi.metrics.v1.Metrics": "TYPE_METRICS",
}


class Result:
    def __init__(self, code, details, response):
        self.code = code
        self.details = details
        self.response = response

    def as_dict(self):
        return {"code": self.code, "details": self.details, "response": self.response}


def call(channel, path, request=None, raw=None, timeout=30):
    """One unary call; request is a dict (or raw bytes for unknown methods)."""
    types = message_types(path)
    if raw is not None or types is None:
        fn = channel.unary_unary(path)
        body = raw if raw is not None else b""
        try:
            out = fn(body, timeout=timeout)
            return Result("OK", "", {"raw_len": len(out)})
        except grpc.RpcError as e:
            return Result(e.code().name, e.details() or "", None)
    req_cls, resp_cls = types
    fn = channel.unary_unary(
        path, request_serializer=req_cls.SerializeToString, response_deserializer=resp_cls.FromString
    )
    req = request if isinstance(request, req_cls) else json_format.ParseDict(request or {}, req_cls())
    try:
        out = fn(req, timeout=timeout)
        return Result(
            "OK",
            "",
            json_format.MessageToDict(
                out, preserving_proto_field_name=True, including_default_value_fields=True
            ),
        )
    except grpc.RpcError as e:
        return Result(e.code().name, e.details() or "", None)


def open_channel(socket_path):
    return grpc.insecure_channel("unix:" + socket_path)


class PluginError(RuntimeError):
    """A LoadPlugin call failed (no sidecar, wrong socket, ...): the gRPC code and text."""

    def __init__(self, what, result):
        RuntimeError.__init__(self, "%s: %s %s" % (what, result.code, result.details))
        self.code = result.code
        self.details = result.details


def load_plugin(channel, all_services):
    """What LoadPlugin does on a new connection. Returns (metadata, capability types, service caps)."""
    md = call(channel, "/cnpgi.identity.v1.Identity/GetPluginMetadata")
    if md.code != "OK":
        raise PluginError("GetPluginMetadata", md)
    caps = call(channel, "/cnpgi.identity.v1.Identity/GetPluginCapabilities")
    if caps.code != "OK":
        raise PluginError("GetPluginCapabilities", caps)
    types = []
    for c in caps.response.get("capabilities", []):
        t = c["service"]["type"]
        types.append(t)
    services = {}
    if all_services:
        for t in types:
            num = SERVICE_NUMBERS[t]
            if num in SERVICE_CAPS:
                r = call(channel, SERVICE_CAPS[num])
                if r.code != "OK":
                    raise PluginError(SERVICE_CAPS[num], r)
                services[SERVICE_NAMES[num]] = r.response.get("capabilities", [])
    return md.response, types, services


def operation(socket_path, path, request=None, raw=None, timeout=30):
    """Fresh connection, the LoadPlugin calls for this method's service, then the call.

    Like the instance manager, the service's GetCapabilities is only asked
    when the plugin announced that service; the call is made regardless, so
    tests can see how the sidecar answers an unannounced one.
    """
    with open_channel(socket_path) as ch:
        _, types, _ = load_plugin(ch, all_services=False)
        service = path.strip("/").split("/", 1)[0]
        cap = SERVICE_OF_CAPABILITY.get(service)
        if cap in types:
            cp = "/%s/GetCapabilities" % service
            r = call(ch, cp)
            if r.code != "OK":
                raise PluginError(cp, r)
        return call(ch, path, request, raw, timeout)


SERVICE_NUMBERS = {}


def init_service_numbers():
    sym = symbol_database.Default()
    enum = sym.pool.FindEnumTypeByName("cnpgi.identity.v1.PluginCapability.Service.Type")
    for v in enum.values:
        SERVICE_NUMBERS[v.name] = v.number


def cluster_bytes(args):
    """cluster_definition for the request: a file, literal text, or a generated huge document."""
    if args.cluster_file:
        with open(args.cluster_file, "rb") as f:
            return f.read()
    if args.cluster_text is not None:
        return args.cluster_text.encode()
    if args.cluster_huge_name:
        name = "x" * args.cluster_huge_name
        return json.dumps({"metadata": {"name": name, "namespace": "default"}, "spec": {}}).encode()
    if args.cluster_total:
        # exactly this many bytes, all of it read before the missing name is noticed
        doc = {"metadata": {"namespace": "default", "annotations": {"pad": ""}}, "spec": {}}
        pad = args.cluster_total - len(json.dumps(doc))
        doc["metadata"]["annotations"]["pad"] = "p" * pad
        return json.dumps(doc).encode()
    return None


def expect(result, args):
    ok = True
    if args.expect_code and result.code != args.expect_code:
        ok = False
    if args.expect_message and args.expect_message not in result.details:
        ok = False
    return ok


def cmd_describe(args):
    with open_channel(args.socket) as ch:
        md, types, services = load_plugin(ch, all_services=True)
    print(json.dumps({"metadata": md, "capabilities": types, "services": services}, indent=2))
    return 0


def cmd_call(args):
    request = json.loads(args.request) if args.request else {}
    cluster = cluster_bytes(args)
    types = message_types(args.method)
    req = None
    if types is not None:
        req = json_format.ParseDict(request, types[0]())
        if cluster is not None:
            req.cluster_definition = cluster
    raw = bytes.fromhex(args.raw_hex) if args.raw_hex is not None else None
    t0 = time.monotonic()
    r = operation(args.socket, args.method, req, raw)
    out = r.as_dict()
    out["ms"] = round((time.monotonic() - t0) * 1000, 3)
    print(json.dumps(out))
    if not expect(r, args):
        print(
            "expected %s %r, got %s %r" % (args.expect_code, args.expect_message, r.code, r.details),
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_storm(args):
    """n concurrent operations, each a fresh connection + LoadPlugin + Probe."""

    def one(_):
        r = operation(args.socket, "/cnpgi.identity.v1.Identity/Probe")
        return r.code == "OK" and r.response.get("ready") is True

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.n) as ex:
        oks = list(ex.map(one, range(args.n)))
    print(json.dumps({"calls": args.n, "ok": sum(oks)}))
    return 0 if all(oks) else 1


def cmd_latency(args):
    """The per-WAL pattern: fresh connection + Metadata + Capabilities + WAL.GetCapabilities + Archive."""
    cluster = cluster_bytes(args) or b'{"metadata":{"name":"c","namespace":"n"},"spec":{}}'
    req_cls = message_types("/cnpgi.wal.v1.WAL/Archive")[0]
    req = req_cls(
        cluster_definition=cluster,
        source_file_name=args.wal,
        check_empty_wal_archive=False,
    )
    times = []
    codes = set()
    for _ in range(args.n):
        t0 = time.monotonic()
        r = operation(args.socket, "/cnpgi.wal.v1.WAL/Archive", req)
        times.append((time.monotonic() - t0) * 1000)
        codes.add(r.code)
    times.sort()
    print(
        json.dumps(
            {
                "sequences": args.n,
                "rpcs_per_sequence": 4,
                "archive_codes": sorted(codes),
                "cluster_bytes": len(cluster),
                "ms_min": round(times[0], 3),
                "ms_median": round(statistics.median(times), 3),
                "ms_p95": round(times[int(len(times) * 0.95) - 1], 3),
                "ms_max": round(times[-1], 3),
            }
        )
    )
    return 0


def cmd_health(args):
    with open_channel(args.socket) as ch:
        r = call(ch, "/grpc.health.v1.Health/Check", {"service": args.service})
    print(json.dumps(r.as_dict()))
    return 0 if expect(r, args) else 1


# ---- The instance manager's commands -------------------------------------------------
#
# archive / restore are what CNPG's `manager wal-archive %p` and
# `manager wal-restore %f %p` do: PostgreSQL runs them as archive_command and
# restore_command, one process per file, each on a fresh connection. Exit
# codes: 0 OK; restore: 1 NOT_FOUND (the archive does not have the file), 2
# OUT_OF_RANGE (end of the archive: switch to streaming); any other gRPC code
# is 10 + its number (INVALID_ARGUMENT 13, FAILED_PRECONDITION 19,
# UNAVAILABLE 24, ...), a client-side failure 3.

EXIT_CLIENT = 3


def exit_code_of(code, op=""):
    if code == "OK":
        return 0
    if op == "restore" and code == "NOT_FOUND":
        return 1
    if op == "restore" and code == "OUT_OF_RANGE":
        return 2
    try:
        return 10 + grpc.StatusCode[code].value[0]
    except KeyError:
        return EXIT_CLIENT


def read_cluster(args):
    if not args.cluster:
        sys.exit("cnpgi_client: --cluster FILE is required")
    with open(args.cluster, "rb") as f:
        return f.read()


def guarded(socket_path, path, request, timeout):
    """operation(), with a failed LoadPlugin reported as the call's result."""
    try:
        return operation(socket_path, path, request, timeout=timeout)
    except PluginError as e:
        return Result(e.code, str(e), None)


def report(args, op, r, t0, extra=None):
    out = r.as_dict()
    out["ms"] = round((time.monotonic() - t0) * 1000, 3)
    if extra:
        out.update(extra)
    if r.code != "OK" and not args.quiet:
        print("cnpgi_client %s: %s: %s" % (op, r.code, r.details), file=sys.stderr)
    if args.json or op not in ("archive", "restore", "set-first-required"):
        print(json.dumps(out))
    return exit_code_of(r.code, op)


def check_empty_value(args, wal_path):
    """check_empty_wal_archive as a newer operator sets it: the PGDATA marker decides."""
    v = args.check_empty
    if v == "unset":
        return None
    if v == "auto":
        pgdata = os.path.dirname(os.path.dirname(wal_path))
        return os.path.exists(os.path.join(pgdata, ".check-empty-wal-archive"))
    return v == "true"


def archive_request(cluster, wal_path, check):
    req_cls = message_types("/cnpgi.wal.v1.WAL/Archive")[0]
    req = req_cls(cluster_definition=cluster, source_file_name=wal_path)
    if check is not None:
        req.check_empty_wal_archive = check
    return req


def cmd_archive(args):
    """archive_command: one file. Several paths: a burst, --parallel at a time."""
    cluster = read_cluster(args)
    path = "/cnpgi.wal.v1.WAL/Archive"
    if len(args.paths) == 1 and args.concurrent <= 1:
        t0 = time.monotonic()
        wal = args.paths[0]
        r = guarded(args.sock, path, archive_request(cluster, wal, check_empty_value(args, wal)),
                    args.timeout)
        return report(args, "archive", r, t0)

    # A burst: every path (or the one path --concurrent times), each on a fresh connection.
    # --ack-log gets one line per answer, written and flushed the moment it arrives,
    # so a test killing the sidecar knows exactly what was acknowledged.
    jobs = list(args.paths) * max(1, args.concurrent) if len(args.paths) == 1 else list(args.paths)
    parallel = args.concurrent if args.concurrent > 1 else args.parallel
    ack = open(args.ack_log, "a", buffering=1) if args.ack_log else None
    counts = {}
    lock = threading.Lock()
    t0 = time.monotonic()

    def one(wal):
        r = guarded(args.sock, path, archive_request(cluster, wal, check_empty_value(args, wal)),
                    args.timeout)
        if r.code == "OK" and args.pg_done:
            # what PostgreSQL does after archive_command succeeded
            st = os.path.join(os.path.dirname(wal), "archive_status", os.path.basename(wal))
            try:
                os.rename(st + ".ready", st + ".done")
            except FileNotFoundError:
                pass
        with lock:
            counts[r.code] = counts.get(r.code, 0) + 1
            if ack:
                ack.write("%s %s %s\n" % (r.code, wal, r.details.replace("\n", " ")))
                ack.flush()
                os.fsync(ack.fileno())
        return r.code

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as ex:
        codes = list(ex.map(one, jobs))
    if ack:
        ack.close()
    secs = time.monotonic() - t0
    print(json.dumps({"calls": len(jobs), "parallel": parallel, "codes": counts,
                      "seconds": round(secs, 3)}))
    return 0 if all(c == "OK" for c in codes) else 1


RESTORE_MODES = {"unspecified": 0, "recovery": 1, "rewind": 2}


def cmd_restore(args):
    """restore_command: NAME (%f) into DEST (%p)."""
    cluster = read_cluster(args)
    req_cls = message_types("/cnpgi.wal.v1.WAL/Restore")[0]
    req = req_cls(cluster_definition=cluster, source_wal_name=args.name,
                  destination_file_name=os.path.abspath(args.dest),
                  mode=RESTORE_MODES[args.mode])
    t0 = time.monotonic()
    r = guarded(args.sock, "/cnpgi.wal.v1.WAL/Restore", req, args.timeout)
    if r.code == "NOT_FOUND" and not args.json:
        args.quiet = True  # PostgreSQL asks for files that do not exist as a matter of course
    return report(args, "restore", r, t0)


def cmd_status(args):
    req = message_types("/cnpgi.wal.v1.WAL/Status")[0](cluster_definition=read_cluster(args))
    t0 = time.monotonic()
    return report(args, "status", guarded(args.sock, "/cnpgi.wal.v1.WAL/Status", req,
                                          args.timeout), t0)


def cmd_set_first_required(args):
    path = "/cnpgi.wal.v1.WAL/SetFirstRequired"
    req = message_types(path)[0](cluster_definition=read_cluster(args),
                                 first_required_wal=args.name)
    t0 = time.monotonic()
    return report(args, "set-first-required", guarded(args.sock, path, req, args.timeout), t0)


def cmd_metrics(args):
    """What the instance manager's metrics exporter does: Define, then Collect."""
    out = {}
    for op in ("Define", "Collect"):
        path = "/cnpgi.metrics.v1.Metrics/" + op
        req = message_types(path)[0](cluster_definition=read_cluster(args))
        r = guarded(args.sock, path, req, args.timeout)
        if r.code != "OK":
            return report(args, "metrics", r, time.monotonic())
        out[op.lower()] = r.response.get("metrics", [])
    print(json.dumps(out))
    return 0


def cmd_backup(args):
    """What the instance manager does for a Backup with method: plugin."""
    path = "/cnpgi.backup.v1.Backup/Backup"
    req = message_types(path)[0](cluster_definition=read_cluster(args))
    if args.backup:
        with open(args.backup, "rb") as f:
            req.backup_definition = f.read()
    for kv in args.param or []:
        k, _, v = kv.partition("=")
        req.parameters[k] = v
    t0 = time.monotonic()
    r = guarded(args.sock, path, req, args.timeout)
    extra = {}
    if r.response:
        for field in ("backup_label_file", "tablespace_map_file"):
            raw = base64.b64decode(r.response.get(field, "") or "")
            extra[field + "_text"] = raw.decode("utf-8", "replace")
    return report(args, "backup", r, t0, extra)


def cmd_restore_job(args):
    """What the operator's restore Job does: RestoreJobHooks.Restore on the Job's sidecar."""
    path = "/cnpgi.wal.v1.RestoreJobHooks/Restore"
    req = message_types(path)[0](cluster_definition=read_cluster(args))
    if args.check_empty != "unset":
        req.check_empty_wal_archive = args.check_empty == "true"
    t0 = time.monotonic()
    return report(args, "restore-job", guarded(args.sock, path, req, args.timeout), t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", help="the sidecar's unix socket (or $CNPGI_SOCKET)")
    sub = p.add_subparsers(dest="cmd", required=True)

    # options every instance-manager command takes after its name, as CNPG's manager does
    im = argparse.ArgumentParser(add_help=False)
    im.add_argument("--socket", dest="sub_socket", help="the sidecar's unix socket")
    im.add_argument("--cluster", help="the Cluster JSON sent as cluster_definition")
    im.add_argument("--timeout", type=float, default=3600, help="deadline of the call, seconds")
    im.add_argument("--json", action="store_true", help="print the result as JSON")
    im.add_argument("-q", "--quiet", action="store_true", help="no error message on stderr")

    sub.add_parser("describe", help="LoadPlugin: metadata, capabilities, every service's capabilities")

    c = sub.add_parser("call", help="one operation on a fresh connection")
    c.add_argument("method", help="/package.Service/Method")
    c.add_argument("--request", help="request fields as JSON")
    c.add_argument("--cluster-file", help="cluster_definition from this file")
    c.add_argument("--cluster-text", help="cluster_definition as given")
    c.add_argument("--cluster-huge-name", type=int, help="a Cluster whose name has this many bytes")
    c.add_argument("--cluster-total", type=int, help="a nameless Cluster of exactly this many bytes")
    c.add_argument("--raw-hex", help="send these bytes instead of a message")
    c.add_argument("--expect-code")
    c.add_argument("--expect-message")

    s = sub.add_parser("storm", help="concurrent Probe operations")
    s.add_argument("-n", type=int, default=50)

    l = sub.add_parser("latency", help="time the per-WAL call sequence")
    l.add_argument("-n", type=int, default=200)
    l.add_argument("--cluster-file")
    l.add_argument("--wal", default="/var/lib/postgresql/data/pgdata/pg_wal/000000010000000000000001",
                   help="source_file_name of the Archive calls")
    l.set_defaults(cluster_text=None, cluster_huge_name=None, cluster_total=None)

    h = sub.add_parser("health", help="grpc.health.v1 Check")
    h.add_argument("--service", default="")
    h.add_argument("--expect-code")
    h.add_argument("--expect-message")

    a = sub.add_parser("archive", parents=[im], help="WAL.Archive (archive_command %%p)")
    a.add_argument("paths", nargs="+", metavar="PATH", help="absolute path of the WAL file")
    a.add_argument("--check-empty", choices=["auto", "true", "false", "unset"], default="auto",
                   help="check_empty_wal_archive: auto = whether $PGDATA/.check-empty-wal-archive "
                   "exists, as newer operators send it; unset = an older operator")
    a.add_argument("--parallel", type=int, default=1, help="several PATHs: calls at once")
    a.add_argument("--concurrent", type=int, default=1, help="one PATH: archive it N times at once")
    a.add_argument("--ack-log", help="append CODE PATH DETAILS per answer, flushed at once")
    a.add_argument("--pg-done", action="store_true",
                   help="after OK, rename archive_status/NAME.ready to .done as PostgreSQL does")

    r = sub.add_parser("restore", parents=[im], help="WAL.Restore (restore_command %%f %%p)")
    r.add_argument("name", help="the WAL file name (%%f)")
    r.add_argument("dest", help="where to write it (%%p)")
    r.add_argument("--mode", choices=sorted(RESTORE_MODES), default="recovery")

    sub.add_parser("status", parents=[im], help="WAL.Status")
    sub.add_parser("metrics", parents=[im], help="Metrics.Define then Metrics.Collect")
    f = sub.add_parser("set-first-required", parents=[im], help="WAL.SetFirstRequired")
    f.add_argument("name", help="first_required_wal")

    b = sub.add_parser("backup", parents=[im], help="Backup.Backup")
    b.add_argument("--backup", help="the Backup resource JSON (backup_definition)")
    b.add_argument("--param", action="append", help="KEY=VALUE of the request's parameters")

    j = sub.add_parser("restore-job", parents=[im], help="RestoreJobHooks.Restore")
    j.add_argument("--check-empty", choices=["true", "false", "unset"], default="true",
                   help="check_empty_wal_archive (a newer operator always sets it)")

    args = p.parse_args()
    args.sock = getattr(args, "sub_socket", None) or args.socket or os.environ.get("CNPGI_SOCKET")
    if not args.sock:
        p.error("--socket is required")
    args.socket = args.sock
    load_protos()
    init_service_numbers()
    fn = {
        "describe": cmd_describe,
        "call": cmd_call,
        "storm": cmd_storm,
        "latency": cmd_latency,
        "health": cmd_health,
        "archive": cmd_archive,
        "restore": cmd_restore,
        "status": cmd_status,
        "metrics": cmd_metrics,
        "set-first-required": cmd_set_first_required,
        "backup": cmd_backup,
        "restore-job": cmd_restore_job,
    }[args.cmd]
    try:
        return fn(args)
    except PluginError as e:
        print("cnpgi_client: %s" % e, file=sys.stderr)
        return exit_code_of(e.code)


if __name__ == "__main__":
    sys.exit(main())
