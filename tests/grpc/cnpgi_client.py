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

Subcommands print one JSON document on stdout; with --expect-* they exit 1
when the outcome differs, so shell tests can use them directly.
"""

import argparse
import concurrent.futures
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
    """Generate the _pb2 modules into a temporary directory and import them."""
    with tempfile.TemporaryDirectory(prefix="cnpgi-py-") as out:
        subprocess.run(
            ["/usr/bin/protoc", "-I", PROTO_DIR, "--python_out", out]
            + [p + ".proto" for p in PROTOS],
            check=True,
            cwd=PROTO_DIR,
        )
        sys.path.insert(0, out)
        for p in PROTOS:
            importlib.import_module(p + "_pb2")
        sys.path.remove(out)


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


def load_plugin(channel, all_services):
    """What LoadPlugin does on a new connection. Returns (metadata, capability types, service caps)."""
    md = call(channel, "/cnpgi.identity.v1.Identity/GetPluginMetadata")
    if md.code != "OK":
        raise RuntimeError("GetPluginMetadata: %s %s" % (md.code, md.details))
    caps = call(channel, "/cnpgi.identity.v1.Identity/GetPluginCapabilities")
    if caps.code != "OK":
        raise RuntimeError("GetPluginCapabilities: %s %s" % (caps.code, caps.details))
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
                    raise RuntimeError("%s: %s %s" % (SERVICE_CAPS[num], r.code, r.details))
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
                raise RuntimeError("%s: %s %s" % (cp, r.code, r.details))
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
        source_file_name="/var/lib/postgresql/data/pgdata/pg_wal/000000010000000000000001",
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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True, help="the sidecar's unix socket")
    sub = p.add_subparsers(dest="cmd", required=True)

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
    l.set_defaults(cluster_text=None, cluster_huge_name=None, cluster_total=None)

    h = sub.add_parser("health", help="grpc.health.v1 Check")
    h.add_argument("--service", default="")
    h.add_argument("--expect-code")
    h.add_argument("--expect-message")

    args = p.parse_args()
    load_protos()
    init_service_numbers()
    fn = {
        "describe": cmd_describe,
        "call": cmd_call,
        "storm": cmd_storm,
        "latency": cmd_latency,
        "health": cmd_health,
    }[args.cmd]
    return fn(args)


if __name__ == "__main__":
    sys.exit(main())
