/*
 * The CNPG-I handlers, called directly with packed protobuf requests: the
 * identity and capability answers, request decoding and checking, the
 * arguments the engine receives (fake_engine.c), result encoding, and the
 * pc_status -> gRPC code mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.pb-c.h"
#include "common/error.h"
#include "fake_engine.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "metrics.pb-c.h"
#include "plugin-grpc/service.h"
#include "restore_job.pb-c.h"
#include "wal.pb-c.h"

#define PLUGIN "barman-cloud.cloudnative-pg.io"
#define CLUSTER                                                                                    \
    "{\"metadata\":{\"name\":\"cluster-example\",\"namespace\":\"default\"},\"spec\":{"            \
    "\"plugins\":[{\"name\":\"" PLUGIN "\",\"parameters\":{\"barmanObjectName\":\"s\"}}]}}"
#define BAD_CLUSTER "{\"metadata\":{\"name\":\"cluster-example\"},\"spec\":{}}"

static sc_service svc_instance = {NULL, PLUGIN, "cluster-example-1", SC_MODE_INSTANCE};
static sc_service svc_restore = {NULL, PLUGIN, NULL, SC_MODE_RESTORE};

static const sc_method *lookup(const sc_service *svc, const char *path)
{
    size_t n;
    const sc_method *tab = sc_service_methods(svc->mode, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].path, path) == 0)
            return &tab[i];
    return NULL;
}

static sc_reply call_raw(sc_service *svc, const char *path, const void *data, size_t len)
{
    const sc_method *m = lookup(svc, path);
    atomic_bool stopping;
    atomic_init(&stopping, false);
    sc_request req = {path, data, len, &stopping};
    sc_reply rep;
    memset(&rep, 0, sizeof rep);
    pc_err_clear();
    if (m)
        m->fn(svc, &req, &rep);
    else
        fail_msg("%s is not served", path);
    if (rep.code != SC_OK)
        assert_null(rep.data);
    return rep;
}

static sc_reply call(sc_service *svc, const char *path, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    unsigned char *buf = malloc(n + 1);
    assert_non_null(buf);
    protobuf_c_message_pack(msg, buf);
    sc_reply rep = call_raw(svc, path, buf, n);
    free(buf);
    return rep;
}

static void expect_code(const sc_reply *rep, sc_code code, const char *msg_part)
{
    if (rep->code != code || (msg_part && !strstr(rep->message, msg_part)))
        fail_msg("got %s \"%s\", expected %s with \"%s\"", sc_code_name(rep->code), rep->message,
                 sc_code_name(code), msg_part ? msg_part : "");
}

static ProtobufCBinaryData bin(const char *s)
{
    ProtobufCBinaryData b = {strlen(s), (uint8_t *)(uintptr_t)s};
    return b;
}

static char *str(const char *s)
{
    return (char *)(uintptr_t)s;
}

/* ---- identity, health, capabilities ---- */

static void test_metadata(void **state)
{
    Cnpgi__Identity__V1__GetPluginMetadataRequest in;
    cnpgi__identity__v1__get_plugin_metadata_request__init(&in);
    sc_reply rep = call(&svc_instance, "/cnpgi.identity.v1.Identity/GetPluginMetadata", &in.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Identity__V1__GetPluginMetadataResponse *r =
        cnpgi__identity__v1__get_plugin_metadata_response__unpack(NULL, rep.len, rep.data);
    assert_non_null(r);
    assert_string_equal(r->name, PLUGIN);
    assert_string_equal(r->version, PGCASK_VERSION);
    assert_string_equal(r->display_name, "pgcask");
    assert_true(strlen(r->description) > 10);
    assert_string_equal(r->project_url, "https://github.com/pgcask/pgcask");
    assert_string_equal(r->repository_url, "https://github.com/pgcask/pgcask");
    assert_string_equal(r->license, "Apache-2.0");
    assert_string_equal(r->license_url, "https://www.apache.org/licenses/LICENSE-2.0");
    assert_string_equal(r->maturity, "beta");
    assert_string_equal(r->vendor, "pgcask");
    assert_int_equal(r->n_manifest, 0);
    cnpgi__identity__v1__get_plugin_metadata_response__free_unpacked(r, NULL);
    free(rep.data);
}

static void check_caps(sc_service *svc, const int *want, size_t nwant)
{
    Cnpgi__Identity__V1__GetPluginCapabilitiesRequest in;
    cnpgi__identity__v1__get_plugin_capabilities_request__init(&in);
    sc_reply rep = call(svc, "/cnpgi.identity.v1.Identity/GetPluginCapabilities", &in.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Identity__V1__GetPluginCapabilitiesResponse *r =
        cnpgi__identity__v1__get_plugin_capabilities_response__unpack(NULL, rep.len, rep.data);
    assert_non_null(r);
    assert_int_equal(r->n_capabilities, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(r->capabilities[i]->type_case,
                         CNPGI__IDENTITY__V1__PLUGIN_CAPABILITY__TYPE_SERVICE);
        assert_int_equal(r->capabilities[i]->service->type, want[i]);
    }
    cnpgi__identity__v1__get_plugin_capabilities_response__free_unpacked(r, NULL);
    free(rep.data);
}

static void test_capabilities(void **state)
{
    static const int instance[] = {2 /* WAL */, 3 /* BACKUP */, 10 /* METRICS */};
    static const int restore[] = {6 /* RESTORE_JOB */, 2 /* WAL */};
    check_caps(&svc_instance, instance, 3);
    check_caps(&svc_restore, restore, 2);
}

static void test_probe(void **state)
{
    Cnpgi__Identity__V1__ProbeRequest in;
    cnpgi__identity__v1__probe_request__init(&in);
    sc_reply rep = call(&svc_restore, "/cnpgi.identity.v1.Identity/Probe", &in.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Identity__V1__ProbeResponse *r =
        cnpgi__identity__v1__probe_response__unpack(NULL, rep.len, rep.data);
    assert_non_null(r);
    assert_true(r->ready);
    cnpgi__identity__v1__probe_response__free_unpacked(r, NULL);
    free(rep.data);
}

static void health(sc_service *svc, const char *service, sc_code code)
{
    Grpc__Health__V1__HealthCheckRequest in;
    grpc__health__v1__health_check_request__init(&in);
    in.service = str(service);
    sc_reply rep = call(svc, "/grpc.health.v1.Health/Check", &in.base);
    expect_code(&rep, code, code == SC_NOT_FOUND ? "unknown service" : NULL);
    if (code == SC_OK) {
        Grpc__Health__V1__HealthCheckResponse *r =
            grpc__health__v1__health_check_response__unpack(NULL, rep.len, rep.data);
        assert_non_null(r);
        assert_int_equal(r->status,
                         GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
        grpc__health__v1__health_check_response__free_unpacked(r, NULL);
    }
    free(rep.data);
}

static void test_health(void **state)
{
    health(&svc_instance, "", SC_OK);
    health(&svc_instance, "cnpgi.identity.v1.Identity", SC_OK);
    health(&svc_instance, "cnpgi.wal.v1.WAL", SC_OK);
    health(&svc_instance, "cnpgi.backup.v1.Backup", SC_OK);
    health(&svc_instance, "cnpgi.metrics.v1.Metrics", SC_OK);
    health(&svc_instance, "cnpgi.wal.v1.RestoreJobHooks", SC_NOT_FOUND);
    health(&svc_restore, "cnpgi.wal.v1.RestoreJobHooks", SC_OK);
    health(&svc_restore, "cnpgi.backup.v1.Backup", SC_NOT_FOUND);
    health(&svc_restore, "grpc.health.v1.Health", SC_OK);
    health(&svc_restore, "no.such.Service", SC_NOT_FOUND);
}

static void test_service_capabilities(void **state)
{
    Cnpgi__Wal__V1__WALCapabilitiesRequest wq;
    cnpgi__wal__v1__walcapabilities_request__init(&wq);
    sc_reply rep = call(&svc_instance, "/cnpgi.wal.v1.WAL/GetCapabilities", &wq.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Wal__V1__WALCapabilitiesResult *w =
        cnpgi__wal__v1__walcapabilities_result__unpack(NULL, rep.len, rep.data);
    assert_non_null(w);
    assert_int_equal(w->n_capabilities, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(w->capabilities[i]->type_case, CNPGI__WAL__V1__WALCAPABILITY__TYPE_RPC);
        assert_int_equal(w->capabilities[i]->rpc->type,
                         (int)i + 1); /* ARCHIVE..SET_FIRST_REQUIRED */
    }
    cnpgi__wal__v1__walcapabilities_result__free_unpacked(w, NULL);
    free(rep.data);

    Cnpgi__Backup__V1__BackupCapabilitiesRequest bq;
    cnpgi__backup__v1__backup_capabilities_request__init(&bq);
    rep = call(&svc_instance, "/cnpgi.backup.v1.Backup/GetCapabilities", &bq.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Backup__V1__BackupCapabilitiesResult *b =
        cnpgi__backup__v1__backup_capabilities_result__unpack(NULL, rep.len, rep.data);
    assert_int_equal(b->n_capabilities, 1);
    assert_int_equal(b->capabilities[0]->rpc->type,
                     CNPGI__BACKUP__V1__BACKUP_CAPABILITY__RPC__TYPE__TYPE_BACKUP);
    cnpgi__backup__v1__backup_capabilities_result__free_unpacked(b, NULL);
    free(rep.data);

    Cnpgi__Metrics__V1__MetricsCapabilitiesRequest mq;
    cnpgi__metrics__v1__metrics_capabilities_request__init(&mq);
    rep = call(&svc_instance, "/cnpgi.metrics.v1.Metrics/GetCapabilities", &mq.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Metrics__V1__MetricsCapabilitiesResult *m =
        cnpgi__metrics__v1__metrics_capabilities_result__unpack(NULL, rep.len, rep.data);
    assert_int_equal(m->n_capabilities, 1);
    assert_int_equal(m->capabilities[0]->rpc->type,
                     CNPGI__METRICS__V1__METRICS_CAPABILITY__RPC__TYPE__TYPE_METRICS);
    cnpgi__metrics__v1__metrics_capabilities_result__free_unpacked(m, NULL);
    free(rep.data);

    Cnpgi__Wal__V1__RestoreJobHooksCapabilitiesRequest rq;
    cnpgi__wal__v1__restore_job_hooks_capabilities_request__init(&rq);
    rep = call(&svc_restore, "/cnpgi.wal.v1.RestoreJobHooks/GetCapabilities", &rq.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Wal__V1__RestoreJobHooksCapabilitiesResult *r =
        cnpgi__wal__v1__restore_job_hooks_capabilities_result__unpack(NULL, rep.len, rep.data);
    assert_int_equal(r->n_capabilities, 1);
    assert_int_equal(r->capabilities[0]->kind,
                     CNPGI__WAL__V1__RESTORE_JOB_HOOKS_CAPABILITY__KIND__KIND_RESTORE);
    cnpgi__wal__v1__restore_job_hooks_capabilities_result__free_unpacked(r, NULL);
    free(rep.data);
}

static void test_method_tables(void **state)
{
    assert_non_null(lookup(&svc_instance, "/cnpgi.backup.v1.Backup/Backup"));
    assert_non_null(lookup(&svc_instance, "/cnpgi.metrics.v1.Metrics/Collect"));
    assert_null(lookup(&svc_instance, "/cnpgi.wal.v1.RestoreJobHooks/Restore"));
    assert_non_null(lookup(&svc_restore, "/cnpgi.wal.v1.RestoreJobHooks/Restore"));
    assert_non_null(lookup(&svc_restore, "/cnpgi.wal.v1.WAL/Restore"));
    assert_null(lookup(&svc_restore, "/cnpgi.backup.v1.Backup/Backup"));
    assert_null(lookup(&svc_restore, "/cnpgi.metrics.v1.Metrics/Define"));
}

/* Every method refuses bytes that are not its message, before anything else. */
static void test_garbage_requests(void **state)
{
    static const unsigned char garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    sc_service *svcs[] = {&svc_instance, &svc_restore};
    fake_reset();
    for (size_t s = 0; s < 2; s++) {
        size_t n;
        const sc_method *tab = sc_service_methods(svcs[s]->mode, &n);
        for (size_t i = 0; i < n; i++) {
            sc_reply rep = call_raw(svcs[s], tab[i].path, garbage, sizeof garbage);
            expect_code(&rep, SC_INVALID_ARGUMENT, "is not a valid");
        }
    }
    assert_int_equal(fake.calls, 0);
}

/* ---- WAL ---- */

static sc_reply archive(const char *cluster, const char *path, int check)
{
    Cnpgi__Wal__V1__WALArchiveRequest in;
    cnpgi__wal__v1__walarchive_request__init(&in);
    Cnpgi__Wal__V1__WALArchiveRequest__ParametersEntry p;
    cnpgi__wal__v1__walarchive_request__parameters_entry__init(&p);
    Cnpgi__Wal__V1__WALArchiveRequest__ParametersEntry *pp = &p;
    p.key = str("p1");
    p.value = str("v1");
    in.n_parameters = 1;
    in.parameters = &pp;
    in.cluster_definition = bin(cluster);
    in.source_file_name = str(path);
    if (check >= 0) {
        in._check_empty_wal_archive_case =
            CNPGI__WAL__V1__WALARCHIVE_REQUEST___CHECK_EMPTY_WAL_ARCHIVE_CHECK_EMPTY_WAL_ARCHIVE;
        in.check_empty_wal_archive = check;
    }
    return call(&svc_instance, "/cnpgi.wal.v1.WAL/Archive", &in.base);
}

static void test_archive(void **state)
{
    const char *path = "/var/lib/postgresql/data/pgdata/pg_wal/000000010000000000000003";
    int checks[] = {-1, 0, 1};
    for (size_t i = 0; i < 3; i++) {
        fake_reset();
        sc_reply rep = archive(CLUSTER, path, checks[i]);
        expect_code(&rep, SC_OK, NULL);
        assert_int_equal(rep.len, 0); /* WALArchiveResult is empty */
        free(rep.data);
        assert_int_equal(fake.calls, 1);
        assert_int_equal(fake.last_op, SC_OP_WAL_ARCHIVE);
        assert_int_equal(fake.check_empty, checks[i]);
        assert_string_equal(fake.arg1, path);
        assert_string_equal(fake.cluster_name, "cluster-example");
        assert_string_equal(fake.pod_name, "cluster-example-1");
        assert_int_equal(fake.nparams, 1);
        assert_string_equal(fake.param_p1, "v1");
        assert_true(fake.stopping_ptr);
    }
    /* the other archivable names */
    const char *others[] = {"/d/pg_wal/00000002.history",
                            "/d/pg_wal/000000010000000000000003.partial",
                            "/d/pg_wal/000000010000000000000003.00000028.backup"};
    for (size_t i = 0; i < 3; i++) {
        fake_reset();
        sc_reply rep = archive(CLUSTER, others[i], -1);
        expect_code(&rep, SC_OK, NULL);
        free(rep.data);
    }
}

static void test_archive_bad_requests(void **state)
{
    fake_reset();
    sc_reply rep = archive(BAD_CLUSTER, "/d/pg_wal/000000010000000000000003", -1);
    expect_code(&rep, SC_INVALID_ARGUMENT,
                "invalid Cluster definition: .metadata.namespace is missing");
    rep = archive("", "/d/pg_wal/000000010000000000000003", -1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "no Cluster definition");
    rep = archive("{\"metadata\":", "/d/pg_wal/000000010000000000000003", -1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "invalid JSON in the Cluster definition");
    rep = archive(CLUSTER, "", -1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "source_file_name is empty");
    rep = archive(CLUSTER, "pg_wal/000000010000000000000003", -1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "is not an absolute path");
    rep = archive(CLUSTER, "/d/pg_wal/RECOVERYXLOG", -1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "RECOVERYXLOG");
    assert_int_equal(fake.calls, 0);
}

/*
 * The bytes an upstream (cnpg-i v0.6.0, real proto3 `optional`) client
 * sends, built by hand: explicit presence of a false value survives the
 * oneof spelling our protoc-c build uses.
 */
static size_t put_len_field(unsigned char *p, int field, const char *s)
{
    size_t n = strlen(s);
    p[0] = (unsigned char)(field << 3 | 2);
    p[1] = (unsigned char)n; /* short strings only: one-byte length */
    memcpy(p + 2, s, n);
    return n + 2;
}

static void test_wire_presence(void **state)
{
    const char *cl = "{\"metadata\":{\"name\":\"c\",\"namespace\":\"n\"},\"spec\":{}}";
    static const struct {
        const unsigned char tail[2];
        size_t tail_len;
        int want;
    } cases[] = {
        {{0}, 0, SC_CHECK_UNSET}, {{0x20, 0x00}, 2, SC_CHECK_NO}, {{0x20, 0x01}, 2, SC_CHECK_YES}};
    for (size_t i = 0; i < 3; i++) {
        unsigned char buf[256];
        size_t n = put_len_field(buf, 1, cl);
        n += put_len_field(buf + n, 2, "/d/pg_wal/000000010000000000000003");
        memcpy(buf + n, cases[i].tail, cases[i].tail_len);
        n += cases[i].tail_len;
        fake_reset();
        sc_reply rep = call_raw(&svc_instance, "/cnpgi.wal.v1.WAL/Archive", buf, n);
        expect_code(&rep, SC_OK, NULL);
        free(rep.data);
        assert_int_equal(fake.check_empty, cases[i].want);

        /* RestoreRequest: check_empty_wal_archive is field 2 */
        n = put_len_field(buf, 1, cl);
        if (cases[i].tail_len) {
            buf[n++] = 0x10;
            buf[n++] = cases[i].tail[1];
        }
        fake_reset();
        rep = call_raw(&svc_restore, "/cnpgi.wal.v1.RestoreJobHooks/Restore", buf, n);
        expect_code(&rep, SC_OK, NULL);
        free(rep.data);
        assert_int_equal(fake.check_empty, cases[i].want);
    }
    /* WALRestoreRequest.mode is field 5: MODE_REWIND = 2 */
    unsigned char buf[256];
    size_t n = put_len_field(buf, 1, cl);
    n += put_len_field(buf + n, 2, "000000010000000000000003");
    n += put_len_field(buf + n, 3, "/d/pg_wal/RECOVERYXLOG");
    buf[n++] = 0x28;
    buf[n++] = 0x02;
    fake_reset();
    sc_reply rep = call_raw(&svc_restore, "/cnpgi.wal.v1.WAL/Restore", buf, n);
    expect_code(&rep, SC_OK, NULL);
    free(rep.data);
    assert_int_equal(fake.mode, SC_RESTORE_REWIND);
}

static void test_engine_errors(void **state)
{
    fake_reset();
    fake.result = PC_E_CONFLICT;
    snprintf(fake.message, sizeof fake.message,
             "000000010000000000000003 is already archived "
             "with different contents\nsecond line");
    sc_reply rep = archive(CLUSTER, "/d/pg_wal/000000010000000000000003", -1);
    /* one printable line: the newline of the engine's message is masked */
    expect_code(&rep, SC_ALREADY_EXISTS, "different contents?second line");

    fake_reset();
    fake.supported = false;
    rep = archive(CLUSTER, "/d/pg_wal/000000010000000000000003", -1);
    expect_code(&rep, SC_UNIMPLEMENTED, "WAL archiving is not available in this pgcask sidecar");
    assert_int_equal(fake.calls, 0);
}

static sc_reply restore(const char *name, const char *dest, int mode)
{
    Cnpgi__Wal__V1__WALRestoreRequest in;
    cnpgi__wal__v1__walrestore_request__init(&in);
    in.cluster_definition = bin(CLUSTER);
    in.source_wal_name = str(name);
    in.destination_file_name = str(dest);
    in.mode = (Cnpgi__Wal__V1__WALRestoreRequest__Mode)mode;
    return call(&svc_restore, "/cnpgi.wal.v1.WAL/Restore", &in.base);
}

static void test_restore(void **state)
{
    static const struct {
        int wire, engine;
    } modes[] = {{0, SC_RESTORE_RECOVERY}, {1, SC_RESTORE_RECOVERY}, {2, SC_RESTORE_REWIND}};
    for (size_t i = 0; i < 3; i++) {
        fake_reset();
        sc_reply rep = restore("00000001000000000000000a", "/d/pg_wal/RECOVERYXLOG", modes[i].wire);
        expect_code(&rep, SC_OK, NULL);
        free(rep.data);
        assert_int_equal(fake.mode, modes[i].engine);
        assert_string_equal(fake.arg1, "00000001000000000000000A"); /* normalised */
        assert_string_equal(fake.arg2, "/d/pg_wal/RECOVERYXLOG");
        assert_string_equal(fake.pod_name, ""); /* the restore service has no POD_NAME */
    }
    fake_reset();
    sc_reply rep = restore("000000010000000000000003", "/d/x", 7);
    expect_code(&rep, SC_INVALID_ARGUMENT, "unknown restore mode 7");
    rep = restore("pg_wal/000000010000000000000003", "/d/x", 1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "is a path, not a file name");
    rep = restore("RECOVERYXLOG", "/d/x", 1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "RECOVERYXLOG");
    rep = restore("000000010000000000000003", "relative", 1);
    expect_code(&rep, SC_INVALID_ARGUMENT, "destination_file_name \"relative\" is not an absolute");
    assert_int_equal(fake.calls, 0);

    fake.result = PC_E_NOT_FOUND;
    snprintf(fake.message, sizeof fake.message,
             "WAL 000000010000000000000003 is not in the archive");
    rep = restore("000000010000000000000003", "/d/x", 1);
    expect_code(&rep, SC_NOT_FOUND, "WAL 000000010000000000000003 is not in the archive");
}

static void test_status_and_first_required(void **state)
{
    fake_reset();
    Cnpgi__Wal__V1__WALStatusRequest sq;
    cnpgi__wal__v1__walstatus_request__init(&sq);
    sq.cluster_definition = bin(CLUSTER);
    sc_reply rep = call(&svc_instance, "/cnpgi.wal.v1.WAL/Status", &sq.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Wal__V1__WALStatusResult *r =
        cnpgi__wal__v1__walstatus_result__unpack(NULL, rep.len, rep.data);
    assert_string_equal(r->first_wal, "000000010000000000000002");
    assert_string_equal(r->last_wal, "000000010000000000000009");
    assert_int_equal(r->n_additional_information, 1);
    assert_string_equal(r->additional_information[0]->key, "store");
    assert_string_equal(r->additional_information[0]->value, "s3://bucket/prefix");
    cnpgi__wal__v1__walstatus_result__free_unpacked(r, NULL);
    free(rep.data);

    Cnpgi__Wal__V1__SetFirstRequiredRequest fq;
    cnpgi__wal__v1__set_first_required_request__init(&fq);
    fq.cluster_definition = bin(CLUSTER);
    fq.first_required_wal = str("00000002000000010000003F");
    rep = call(&svc_instance, "/cnpgi.wal.v1.WAL/SetFirstRequired", &fq.base);
    expect_code(&rep, SC_OK, NULL);
    free(rep.data);
    assert_string_equal(fake.arg1, "00000002000000010000003F");
    fq.first_required_wal = str("00000002.history");
    rep = call(&svc_instance, "/cnpgi.wal.v1.WAL/SetFirstRequired", &fq.base);
    expect_code(&rep, SC_INVALID_ARGUMENT, "is not a WAL segment name");
    fq.first_required_wal = str("");
    rep = call(&svc_instance, "/cnpgi.wal.v1.WAL/SetFirstRequired", &fq.base);
    expect_code(&rep, SC_INVALID_ARGUMENT, "is not a WAL segment name");
    assert_int_equal(fake.calls, 2);
}

/* ---- Backup, restore Job, metrics ---- */

static sc_reply backup(void)
{
    Cnpgi__Backup__V1__BackupRequest in;
    cnpgi__backup__v1__backup_request__init(&in);
    Cnpgi__Backup__V1__BackupRequest__ParametersEntry p;
    cnpgi__backup__v1__backup_request__parameters_entry__init(&p);
    Cnpgi__Backup__V1__BackupRequest__ParametersEntry *pp = &p;
    p.key = str("p1");
    p.value = str("full");
    in.cluster_definition = bin(CLUSTER);
    in.backup_definition = bin("{\"kind\":\"Backup\"}");
    in.n_parameters = 1;
    in.parameters = &pp;
    return call(&svc_instance, "/cnpgi.backup.v1.Backup/Backup", &in.base);
}

static void test_backup(void **state)
{
    fake_reset();
    sc_reply rep = backup();
    expect_code(&rep, SC_OK, NULL);
    assert_string_equal(fake.arg1, "{\"kind\":\"Backup\"}");
    assert_string_equal(fake.param_p1, "full");
    Cnpgi__Backup__V1__BackupResult *r =
        cnpgi__backup__v1__backup_result__unpack(NULL, rep.len, rep.data);
    assert_non_null(r);
    assert_string_equal(r->backup_id, "20261121T101500");
    assert_string_equal(r->backup_name, "backup-20261121101500");
    assert_int_equal(r->started_at, 1795256100);
    assert_int_equal(r->stopped_at, 1795256160);
    assert_string_equal(r->begin_wal, "000000010000000000000004");
    assert_string_equal(r->end_wal, "000000010000000000000005");
    assert_string_equal(r->begin_lsn, "0/4000028");
    assert_string_equal(r->end_lsn, "0/5000100");
    assert_int_equal(r->backup_label_file.len, strlen("START WAL LOCATION: 0/4000028\n"));
    assert_memory_equal(r->backup_label_file.data, "START WAL LOCATION: 0/4000028\n",
                        r->backup_label_file.len);
    assert_int_equal(r->tablespace_map_file.len, 0);
    assert_string_equal(r->instance_id, "cluster-example-1");
    assert_true(r->online);
    assert_int_equal(r->n_metadata, 2);
    assert_string_equal(r->metadata[0]->key, "timeline");
    assert_string_equal(r->metadata[0]->value, "1");
    assert_string_equal(r->metadata[1]->key, "pluginName");
    assert_string_equal(r->metadata[1]->value, PLUGIN);
    cnpgi__backup__v1__backup_result__free_unpacked(r, NULL);
    free(rep.data);

    fake_reset();
    fake.bad_backup = true;
    rep = backup();
    expect_code(&rep, SC_INTERNAL, "without an id or valid times");
}

static sc_reply restore_job(int check)
{
    Cnpgi__Wal__V1__RestoreRequest in;
    cnpgi__wal__v1__restore_request__init(&in);
    in.cluster_definition = bin(CLUSTER);
    if (check >= 0) {
        in._check_empty_wal_archive_case =
            CNPGI__WAL__V1__RESTORE_REQUEST___CHECK_EMPTY_WAL_ARCHIVE_CHECK_EMPTY_WAL_ARCHIVE;
        in.check_empty_wal_archive = check;
    }
    return call(&svc_restore, "/cnpgi.wal.v1.RestoreJobHooks/Restore", &in.base);
}

static void test_restore_job(void **state)
{
    int checks[] = {-1, 0, 1};
    for (size_t i = 0; i < 3; i++) {
        fake_reset();
        sc_reply rep = restore_job(checks[i]);
        expect_code(&rep, SC_OK, NULL);
        assert_int_equal(fake.check_empty, checks[i]);
        Cnpgi__Wal__V1__RestoreResponse *r =
            cnpgi__wal__v1__restore_response__unpack(NULL, rep.len, rep.data);
        assert_string_equal(r->restore_config, "recovery_target_action = promote\n");
        assert_int_equal(r->n_envs, 2);
        assert_string_equal(r->envs[0], "PGCASK_SERVER=origin");
        assert_string_equal(r->envs[1], "EMPTY=");
        cnpgi__wal__v1__restore_response__free_unpacked(r, NULL);
        free(rep.data);
    }
}

static void test_metrics(void **state)
{
    fake_reset();
    Cnpgi__Metrics__V1__DefineMetricsRequest dq;
    cnpgi__metrics__v1__define_metrics_request__init(&dq);
    dq.cluster_definition = bin(CLUSTER);
    sc_reply rep = call(&svc_instance, "/cnpgi.metrics.v1.Metrics/Define", &dq.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Metrics__V1__DefineMetricsResult *d =
        cnpgi__metrics__v1__define_metrics_result__unpack(NULL, rep.len, rep.data);
    assert_int_equal(d->n_metrics, 2);
    assert_string_equal(d->metrics[0]->fq_name, "pgcask_last_backup_timestamp");
    assert_int_equal(d->metrics[0]->value_type->type,
                     CNPGI__METRICS__V1__METRIC_TYPE__TYPE__TYPE_GAUGE);
    assert_int_equal(d->metrics[0]->n_variable_labels, 0);
    assert_string_equal(d->metrics[1]->help, "WAL files archived");
    assert_int_equal(d->metrics[1]->value_type->type,
                     CNPGI__METRICS__V1__METRIC_TYPE__TYPE__TYPE_COUNTER);
    assert_int_equal(d->metrics[1]->n_variable_labels, 1);
    assert_string_equal(d->metrics[1]->variable_labels[0], "timeline");
    assert_int_equal(d->metrics[1]->n_const_labels, 1);
    assert_string_equal(d->metrics[1]->const_labels[0]->key, "server");
    assert_string_equal(d->metrics[1]->const_labels[0]->value, "cluster-example");
    cnpgi__metrics__v1__define_metrics_result__free_unpacked(d, NULL);
    free(rep.data);

    Cnpgi__Metrics__V1__CollectMetricsRequest cq;
    cnpgi__metrics__v1__collect_metrics_request__init(&cq);
    cq.cluster_definition = bin(CLUSTER);
    rep = call(&svc_instance, "/cnpgi.metrics.v1.Metrics/Collect", &cq.base);
    expect_code(&rep, SC_OK, NULL);
    Cnpgi__Metrics__V1__CollectMetricsResult *c =
        cnpgi__metrics__v1__collect_metrics_result__unpack(NULL, rep.len, rep.data);
    assert_int_equal(c->n_metrics, 1);
    assert_string_equal(c->metrics[0]->fq_name, "pgcask_wal_archived_total");
    assert_true(c->metrics[0]->value == 42.5);
    assert_int_equal(c->metrics[0]->n_variable_labels, 1);
    assert_string_equal(c->metrics[0]->variable_labels[0], "1");
    cnpgi__metrics__v1__collect_metrics_result__free_unpacked(c, NULL);
    free(rep.data);

    cq.cluster_definition = bin(BAD_CLUSTER);
    rep = call(&svc_instance, "/cnpgi.metrics.v1.Metrics/Collect", &cq.base);
    expect_code(&rep, SC_INVALID_ARGUMENT, ".metadata.namespace is missing");
}

static void test_status_codes(void **state)
{
    static const struct {
        pc_status st;
        sc_code code;
    } map[] = {
        {PC_OK, SC_OK},
        {PC_E_NOT_FOUND, SC_NOT_FOUND},
        {PC_E_CONNECT, SC_UNAVAILABLE},
        {PC_E_USAGE, SC_INVALID_ARGUMENT},
        {PC_E_INTERNAL, SC_INTERNAL},
        {PC_E_AUTH, SC_PERMISSION_DENIED},
        {PC_E_NO_BUCKET, SC_FAILED_PRECONDITION},
        {PC_E_CONFLICT, SC_ALREADY_EXISTS},
        {PC_E_CORRUPT, SC_DATA_LOSS},
        {PC_E_IO, SC_FAILED_PRECONDITION},
        {PC_E_TIMEOUT, SC_UNAVAILABLE},
        {PC_E_NOT_EMPTY, SC_FAILED_PRECONDITION},
        {PC_E_BUSY, SC_UNAVAILABLE},
        {PC_E_AUDIT, SC_FAILED_PRECONDITION},
        {PC_E_PG, SC_UNAVAILABLE},
        {PC_E_REMOTE, SC_UNAVAILABLE},
        {PC_E_INTERRUPTED, SC_CANCELLED},
        {PC_E_CONFIG, SC_FAILED_PRECONDITION},
    };
    assert_int_equal(sizeof map / sizeof map[0], PC_STATUS_MAX + 1);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        assert_int_equal(map[i].st, (pc_status)i);
        assert_int_equal(sc_status_code(map[i].st), map[i].code);
    }
    assert_string_equal(sc_code_name(SC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
    assert_string_equal(sc_code_name(SC_UNAUTHENTICATED), "UNAUTHENTICATED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_service_capabilities),
        cmocka_unit_test(test_method_tables),
        cmocka_unit_test(test_garbage_requests),
        cmocka_unit_test(test_archive),
        cmocka_unit_test(test_archive_bad_requests),
        cmocka_unit_test(test_wire_presence),
        cmocka_unit_test(test_engine_errors),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_status_and_first_required),
        cmocka_unit_test(test_backup),
        cmocka_unit_test(test_restore_job),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_status_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
