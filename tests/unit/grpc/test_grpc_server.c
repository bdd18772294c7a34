/*
 * The gRPC server and client (server.c) over a real unix socket, and the
 * sidecar's socket ownership (sidecar.c): lock, stale socket, removal,
 * health check. Uses the real placeholder engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/timeutil.h"
#include "identity.pb-c.h"
#include "plugin-grpc/engine.h"
#include "plugin-grpc/server.h"
#include "plugin-grpc/sidecar.h"
#include "wal.pb-c.h"

static char tmpdir[256];

static int setup(void **state)
{
    const char *base = getenv("PGCASK_TEST_TMP");
    base = base && *base ? base : "/tmp";
    pc_mkdirs(base, 0700);
    snprintf(tmpdir, sizeof tmpdir, "%s/grpc-XXXXXX", base);
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    pc_remove_tree(tmpdir);
    return 0;
}

/* ---- a server with test methods ---- */

static void h_echo(void *app, const sc_request *req, sc_reply *rep)
{
    rep->data = malloc(req->len + 1);
    memcpy(rep->data, req->data, req->len);
    rep->len = req->len;
    rep->code = SC_OK;
}

static void h_fail(void *app, const sc_request *req, sc_reply *rep)
{
    rep->code = SC_NOT_FOUND;
    snprintf(rep->message, sizeof rep->message, "nope: %s", req->method);
}

/* Runs until the server gives up waiting, as a long backup would. */
static void h_slow(void *app, const sc_request *req, sc_reply *rep)
{
    int64_t end = pc_now_mono_ms() + 10000;
    while (!atomic_load(req->stopping) && pc_now_mono_ms() < end)
        pc_sleep_ms(10);
    rep->code = SC_CANCELLED;
    snprintf(rep->message, sizeof rep->message, "stopped");
}

/* Ignores cancellation for 1.5 s. */
static void h_stubborn(void *app, const sc_request *req, sc_reply *rep)
{
    pc_sleep_ms(1500);
    rep->code = SC_OK;
}

static const sc_method test_methods[] = {
    {"/t.T/Echo", h_echo},
    {"/t.T/Fail", h_fail},
    {"/t.T/Slow", h_slow},
    {"/t.T/Stubborn", h_stubborn},
};

static char address[400];

static sc_server *start_server(int workers, size_t max_message)
{
    snprintf(address, sizeof address, "unix:%s/t.sock", tmpdir);
    sc_server_opts o = {address, workers, max_message, test_methods, 4, NULL};
    sc_server *s = NULL;
    assert_int_equal(sc_server_start(&o, &s), PC_OK);
    return s;
}

typedef struct result {
    sc_code code;
    char message[PC_ERR_MSG_MAX];
    unsigned char *data;
    size_t len;
} result;

static result rpc(const char *method, const void *body, size_t len)
{
    result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(sc_client_call(address, method, body, len, 10000, &r.code, r.message,
                                    sizeof r.message, &r.data, &r.len),
                     PC_OK);
    return r;
}

static void test_server_calls(void **state)
{
    sc_server *s = start_server(2, 1 << 20);
    result r = rpc("/t.T/Echo", "hello", 5);
    assert_int_equal(r.code, SC_OK);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.data, "hello", 5);
    free(r.data);

    r = rpc("/t.T/Echo", "", 0);
    assert_int_equal(r.code, SC_OK);
    assert_int_equal(r.len, 0);
    free(r.data);

    r = rpc("/t.T/Fail", "x", 1);
    assert_int_equal(r.code, SC_NOT_FOUND);
    assert_string_equal(r.message, "nope: /t.T/Fail");
    assert_null(r.data);

    r = rpc("/t.T/Missing", "x", 1);
    assert_int_equal(r.code, SC_UNIMPLEMENTED);
    assert_string_equal(r.message, "method /t.T/Missing is not served by this pgcask sidecar");

    /* bigger than the limit: refused by gRPC, and the server keeps serving */
    size_t big = (1 << 20) + 1;
    char *buf = calloc(1, big);
    r = rpc("/t.T/Echo", buf, big);
    assert_int_equal(r.code, SC_RESOURCE_EXHAUSTED);
    free(r.data);
    r = rpc("/t.T/Echo", buf, 1 << 19);
    assert_int_equal(r.code, SC_OK);
    assert_int_equal(r.len, 1 << 19);
    free(r.data);
    free(buf);

    bool cancelled = true;
    assert_int_equal(sc_server_stop(s, 5000, 1000, &cancelled), PC_OK);
    assert_false(cancelled);
    sc_server_free(s);
}

static void *many_calls(void *arg)
{
    long ok = 0;
    for (int i = 0; i < 20; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "call %d", i);
        result r = rpc("/t.T/Echo", body, (size_t)n);
        ok += r.code == SC_OK && r.len == (size_t)n && memcmp(r.data, body, (size_t)n) == 0;
        free(r.data);
    }
    return (void *)ok;
}

static void test_server_concurrency(void **state)
{
    sc_server *s = start_server(4, 1 << 20);
    pthread_t t[16];
    for (int i = 0; i < 16; i++)
        assert_int_equal(pthread_create(&t[i], NULL, many_calls, NULL), 0);
    long total = 0;
    for (int i = 0; i < 16; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        total += (long)ok;
    }
    assert_int_equal(total, 16 * 20);
    sc_server_free(s);
}

typedef struct bg_call {
    pthread_t t;
    const char *method;
    result r;
} bg_call;

static void *bg_main(void *arg)
{
    bg_call *c = arg;
    c->r = rpc(c->method, "x", 1);
    return NULL;
}

static void test_server_stop_cancels(void **state)
{
    sc_server *s = start_server(2, 1 << 20);
    bg_call c = {.method = "/t.T/Slow"};
    pthread_create(&c.t, NULL, bg_main, &c);
    pc_sleep_ms(200); /* let the call reach its handler */
    int64_t t0 = pc_now_mono_ms();
    bool cancelled = false;
    assert_int_equal(sc_server_stop(s, 300, 5000, &cancelled), PC_OK);
    assert_true(cancelled);
    assert_true(pc_now_mono_ms() - t0 < 3000);
    pthread_join(c.t, NULL);
    assert_int_not_equal(c.r.code, SC_OK);
    free(c.r.data);
    sc_server_free(s);
}

static void test_server_stop_timeout(void **state)
{
    sc_server *s = start_server(1, 1 << 20);
    bg_call c = {.method = "/t.T/Stubborn"};
    pthread_create(&c.t, NULL, bg_main, &c);
    pc_sleep_ms(200);
    bool cancelled = false;
    assert_int_equal(sc_server_stop(s, 100, 100, &cancelled), PC_E_TIMEOUT);
    assert_true(cancelled);
    assert_non_null(strstr(pc_err_get()->message, "still running 100 ms after"));
    /* a second stop waits again and finishes once the handler returned */
    assert_int_equal(sc_server_stop(s, 0, 5000, &cancelled), PC_OK);
    pthread_join(c.t, NULL);
    free(c.r.data);
    sc_server_free(s);
}

static void test_server_bind_failure(void **state)
{
    sc_server_opts o = {"unix:/nonexistent-pgcask-dir/s.sock", 1, 1024, test_methods, 4, NULL};
    sc_server *s = (sc_server *)(uintptr_t)1;
    assert_int_equal(sc_server_start(&o, &s), PC_E_IO);
    assert_null(s);
    assert_string_equal(pc_err_get()->message,
                        "could not listen on unix:/nonexistent-pgcask-dir/s.sock");
    o.address = address;
    o.workers = 0;
    assert_int_equal(sc_server_start(&o, &s), PC_E_USAGE);
}

/* ---- the sidecar ---- */

#define NAME "test.pgcask.io"

static char sock[300];

static sc_opts opts(sc_mode mode)
{
    snprintf(sock, sizeof sock, "%s/%s", tmpdir, NAME);
    sc_opts o = {tmpdir, NAME, mode, 2};
    return o;
}

static void test_sidecar_lifecycle(void **state)
{
    sc_opts o = opts(SC_MODE_INSTANCE);
    sc_sidecar *a = NULL;
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_OK);
    struct stat st;
    assert_int_equal(lstat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(sc_healthcheck(sock, 3000), PC_OK);

    /* the metadata name is the socket's file name */
    snprintf(address, sizeof address, "unix:%s", sock);
    result r = rpc("/cnpgi.identity.v1.Identity/GetPluginMetadata", "", 0);
    assert_int_equal(r.code, SC_OK);
    Cnpgi__Identity__V1__GetPluginMetadataResponse *m =
        cnpgi__identity__v1__get_plugin_metadata_response__unpack(NULL, r.len, r.data);
    assert_string_equal(m->name, NAME);
    cnpgi__identity__v1__get_plugin_metadata_response__free_unpacked(m, NULL);
    free(r.data);

    /* a bad Archive is INVALID_ARGUMENT whatever the engine; a valid one UNIMPLEMENTED until it
     * exists */
    Cnpgi__Wal__V1__WALArchiveRequest ar;
    cnpgi__wal__v1__walarchive_request__init(&ar);
    const char *cl = "{\"metadata\":{\"name\":\"c\",\"namespace\":\"n\"},\"spec\":{}}";
    ar.cluster_definition.data = (uint8_t *)(uintptr_t)cl;
    ar.cluster_definition.len = strlen(cl);
    ar.source_file_name = (char *)(uintptr_t) "/pgdata/pg_wal/000000010000000000000001";
    unsigned char body[512];
    size_t len = cnpgi__wal__v1__walarchive_request__pack(&ar, body);
    r = rpc("/cnpgi.wal.v1.WAL/Archive", body, len);
    if (!sc_engine_supports(SC_OP_WAL_ARCHIVE)) {
        assert_int_equal(r.code, SC_UNIMPLEMENTED);
        assert_non_null(strstr(r.message, "WAL archiving is not available"));
    }
    free(r.data);
    ar.source_file_name = (char *)(uintptr_t) "relative";
    len = cnpgi__wal__v1__walarchive_request__pack(&ar, body);
    r = rpc("/cnpgi.wal.v1.WAL/Archive", body, len);
    assert_int_equal(r.code, SC_INVALID_ARGUMENT);
    /* restore-only service in instance mode */
    r = rpc("/cnpgi.wal.v1.RestoreJobHooks/Restore", "", 0);
    assert_int_equal(r.code, SC_UNIMPLEMENTED);

    /* a second sidecar on the same socket is refused; the first keeps serving */
    sc_sidecar *b = (sc_sidecar *)(uintptr_t)1;
    assert_int_equal(sc_sidecar_start(NULL, &o, &b), PC_E_BUSY);
    assert_null(b);
    char want[400];
    snprintf(want, sizeof want, "another sidecar is serving %s", sock);
    assert_string_equal(pc_err_get()->message, want);
    assert_int_equal(sc_healthcheck(sock, 3000), PC_OK);

    assert_int_equal(sc_sidecar_stop(a), PC_OK);
    sc_sidecar_free(a);
    assert_int_equal(lstat(sock, &st), -1);
    assert_int_equal(sc_healthcheck(sock, 1000), PC_E_CONNECT);
    snprintf(want, sizeof want, "no sidecar socket at %s", sock);
    assert_string_equal(pc_err_get()->message, want);

    /* the restore mode starts on the same socket once the first is gone */
    o = opts(SC_MODE_RESTORE);
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_OK);
    assert_int_equal(sc_healthcheck(sock, 3000), PC_OK);
    sc_sidecar_free(a);
    assert_int_equal(lstat(sock, &st), -1);
}

/* A socket file nobody listens on, as a kill -9 leaves it. */
static void make_stale_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
}

static void test_sidecar_stale_socket(void **state)
{
    sc_opts o = opts(SC_MODE_INSTANCE);
    make_stale_socket(sock);
    assert_int_equal(sc_healthcheck(sock, 1000), PC_E_CONNECT);
    assert_non_null(strstr(pc_err_get()->message, "failed: UNAVAILABLE"));
    sc_sidecar *a = NULL;
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_OK);
    assert_int_equal(sc_healthcheck(sock, 3000), PC_OK);
    sc_sidecar_free(a);
}

static void test_sidecar_bad_setups(void **state)
{
    sc_opts o = opts(SC_MODE_INSTANCE);
    sc_sidecar *a = NULL;
    char want[600];

    FILE *f = fopen(sock, "w");
    fclose(f);
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_E_USAGE);
    snprintf(want, sizeof want, "\"%s\" exists and is not a socket; not replacing it", sock);
    assert_string_equal(pc_err_get()->message, want);
    unlink(sock);

    const char *bad_names[] = {"",
                               "Upper.io",
                               "-x.io",
                               "x.io-",
                               "a_b",
                               "a/b",
                               "a234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        o.plugin_name = bad_names[i];
        assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_E_USAGE);
        assert_non_null(strstr(pc_err_get()->message, "invalid plugin name"));
    }
    o = opts(SC_MODE_INSTANCE);

    o.plugin_dir = "/nonexistent-pgcask-dir";
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "plugin directory \"/nonexistent-pgcask-dir\" does not exist");

    char longdir[400];
    snprintf(longdir, sizeof longdir, "%s/%0100d", tmpdir, 0);
    pc_mkdirs(longdir, 0700);
    o.plugin_dir = longdir;
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "is longer than the 107 bytes"));

    o = opts(SC_MODE_INSTANCE);
    o.workers = 65;
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message, "invalid number of workers 65 (1 to 64)");

    o = opts(SC_MODE_INSTANCE);
    o.mode = (sc_mode)7;
    assert_int_equal(sc_sidecar_start(NULL, &o, &a), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message, "invalid sidecar mode 7");

    sc_mode m;
    assert_int_equal(sc_mode_parse("restore", &m), PC_OK);
    assert_int_equal(m, SC_MODE_RESTORE);
    assert_int_equal(sc_mode_parse("instance", &m), PC_OK);
    assert_int_equal(m, SC_MODE_INSTANCE);
    assert_int_equal(sc_mode_parse("operator", &m), PC_E_USAGE);

    sc_opts d = {NULL, NULL, SC_MODE_INSTANCE, 0};
    char *p = sc_socket_path(&d);
    assert_string_equal(p, "/plugins/barman-cloud.cloudnative-pg.io");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_stop_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_stop_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_bind_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_stale_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_bad_setups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
