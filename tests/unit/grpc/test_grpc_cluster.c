/* sc_cluster_parse: real-looking Cluster documents, and a table of bad and hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "plugin-grpc/cluster.h"

#define PLUGIN "barman-cloud.cloudnative-pg.io"

static sc_cluster *parse_ok(const char *json, size_t len, const char *pod)
{
    sc_cluster *c = NULL;
    pc_status st = sc_cluster_parse(json, len, PLUGIN, pod, &c);
    if (st != PC_OK)
        fail_msg("unexpected failure: %s", pc_err_get()->message);
    assert_non_null(c);
    return c;
}

static sc_cluster *parse_file(const char *name, const char *pod)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", GRPC_TEST_DATA, name);
    pc_buf b;
    pc_buf_init(&b, 1 << 20);
    assert_int_equal(pc_read_file(path, 1 << 20, &b), PC_OK);
    sc_cluster *c = parse_ok((const char *)b.data, b.len, pod);
    pc_buf_free(&b);
    return c;
}

static void test_instance_cluster(void **state)
{
    sc_cluster *c = parse_file("cluster-instance.json", "cluster-example-2");
    assert_string_equal(c->name, "cluster-example");
    assert_string_equal(c->namespace_, "default");
    assert_string_equal(c->uid, "6f0c1a2e-3b4d-4c5e-9f60-718293a4b5c6");
    assert_string_equal(c->current_primary, "cluster-example-1");
    assert_string_equal(c->pod_name, "cluster-example-2");
    assert_false(c->skip_empty_wal_archive_check);
    assert_true(c->plugin.present);
    assert_true(c->plugin.enabled);
    assert_true(c->plugin.is_wal_archiver);
    assert_int_equal(c->plugin.params.n, 2);
    assert_string_equal(c->plugin.barman_object_name, "minio-store");
    assert_string_equal(c->plugin.server_name, "cluster-example-v2");
    assert_null(c->recovery.name);
    assert_false(c->recovery.found);
    assert_false(c->target.present);
    assert_null(c->replica.name);
    assert_int_equal(c->replica_enabled, -1);
    assert_null(c->replica_primary);
    assert_null(c->replica_self);
    sc_cluster_free(c);
}

static void test_recovery_cluster(void **state)
{
    sc_cluster *c = parse_file("cluster-recovery.json", NULL);
    assert_string_equal(c->name, "cluster-restore");
    assert_string_equal(c->namespace_, "prod");
    assert_null(c->current_primary);
    assert_null(c->pod_name);
    assert_true(c->skip_empty_wal_archive_check);
    /* our entry is the second one; enabled absent is true, isWALArchiver absent false */
    assert_true(c->plugin.present);
    assert_true(c->plugin.enabled);
    assert_false(c->plugin.is_wal_archiver);
    assert_string_equal(c->plugin.barman_object_name, "restore-store");
    assert_string_equal(c->plugin.server_name, "cluster-restore");
    /* recovery source: serverName defaults to the Cluster's own name, as barman-cloud does */
    assert_string_equal(c->recovery.name, "origin");
    assert_true(c->recovery.found);
    assert_string_equal(c->recovery.plugin_name, PLUGIN);
    assert_true(c->recovery.plugin.present);
    assert_string_equal(c->recovery.plugin.barman_object_name, "origin-store");
    assert_string_equal(c->recovery.plugin.server_name, "cluster-restore");
    assert_true(c->target.present);
    assert_string_equal(c->target.backup_id, "20261120T031500");
    assert_string_equal(c->target.target_time, "2026-11-20 04:00:00.00000+00");
    assert_null(c->target.target_lsn);
    assert_null(c->target.target_xid);
    assert_null(c->target.target_name);
    assert_null(c->target.target_tli);
    assert_int_equal(c->target.exclusive, 0);
    assert_int_equal(c->target.target_immediate, -1);
    /* replica source exists but uses no plugin */
    assert_int_equal(c->replica_enabled, 1);
    assert_string_equal(c->replica.name, "other");
    assert_true(c->replica.found);
    assert_null(c->replica.plugin_name);
    assert_false(c->replica.plugin.present);
    sc_cluster_free(c);
}

static sc_cluster *parse_str(const char *json)
{
    return parse_ok(json, strlen(json), NULL);
}

static void test_minimal_and_variants(void **state)
{
    sc_cluster *c = parse_str("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{}}");
    assert_false(c->plugin.present);
    assert_null(c->uid);
    sc_cluster_free(c);

    /* null reads as absent, as Go's encoder never writes it for omitempty fields */
    c = parse_str("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":null},"
                  "\"spec\":{\"plugins\":null,\"bootstrap\":null,\"replica\":null},"
                  "\"status\":null}");
    assert_false(c->plugin.present);
    sc_cluster_free(c);

    c = parse_str("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"plugins\":["
                  "{\"name\":\"" PLUGIN "\",\"enabled\":false,\"isWALArchiver\":false}]}}");
    assert_true(c->plugin.present);
    assert_false(c->plugin.enabled);
    assert_false(c->plugin.is_wal_archiver);
    assert_null(c->plugin.barman_object_name);
    assert_string_equal(c->plugin.server_name, "a");
    sc_cluster_free(c);

    /* a source removed from externalClusters after bootstrap must not stop archiving */
    c = parse_str("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"bootstrap\":"
                  "{\"recovery\":{\"source\":\"gone\"}},\"externalClusters\":[{\"name\":\"x\"}]}}");
    assert_string_equal(c->recovery.name, "gone");
    assert_false(c->recovery.found);
    assert_false(c->recovery.plugin.present);
    sc_cluster_free(c);

    /* an external cluster served by another plugin is recorded, not parsed */
    c = parse_str("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{"
                  "\"replica\":{\"source\":\"o\",\"primary\":\"o\",\"self\":\"a\"},"
                  "\"externalClusters\":[{\"name\":\"o\",\"plugin\":{\"name\":\"x.io\","
                  "\"parameters\":{\"n\":1}}}]}}");
    assert_string_equal(c->replica.name, "o");
    assert_true(c->replica.found);
    assert_string_equal(c->replica.plugin_name, "x.io");
    assert_false(c->replica.plugin.present);
    assert_int_equal(c->replica_enabled, -1);
    assert_string_equal(c->replica_primary, "o");
    assert_string_equal(c->replica_self, "a");
    sc_cluster_free(c);

    /* brackets and quotes inside strings do not count as structure */
    c = parse_str(
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"labels\":{\"x\":"
        "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{{\"}},"
        "\"spec\":{}}");
    sc_cluster_free(c);
}

/* ---- bad documents: PC_E_USAGE with a message naming the problem ---- */

typedef struct bad_case {
    const char *json;
    const char *expect; /* substring of the message */
} bad_case;

#define MD "\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}"
#define PL "{\"name\":\"" PLUGIN "\""

static const bad_case bad_cases[] = {
    {"", "no Cluster definition"},
    {"not json", "invalid JSON"},
    {"{\"metadata\":", "invalid JSON"},
    {"[]", "not a JSON object"},
    {"\"Cluster\"", "not a JSON object"},
    {"{}", ".metadata is missing"},
    {"{\"metadata\":[]}", ".metadata must be an object"},
    {"{\"metadata\":{\"namespace\":\"b\"},\"spec\":{}}", ".metadata.name is missing"},
    {"{\"metadata\":{\"name\":7,\"namespace\":\"b\"},\"spec\":{}}",
     ".metadata.name must be a string"},
    {"{\"metadata\":{\"name\":\"\",\"namespace\":\"b\"},\"spec\":{}}", ".metadata.name is empty"},
    {"{\"metadata\":{\"name\":\"a\"},\"spec\":{}}", ".metadata.namespace is missing"},
    {"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":[]},\"spec\":{}}",
     ".metadata.uid must be a string"},
    {"{\"kind\":\"Backup\"," MD ",\"spec\":{}}", ".kind is \"Backup\", not \"Cluster\""},
    {"{\"kind\":1," MD ",\"spec\":{}}", ".kind must be a string"},
    {"{" MD "}", ".spec is missing"},
    {"{" MD ",\"spec\":[]}", ".spec must be an object"},
    {"{" MD ",\"spec\":{},\"status\":{\"currentPrimary\":1}}",
     ".status.currentPrimary must be a string"},
    {"{" MD ",\"spec\":{},\"status\":\"ok\"}", ".status must be an object"},
    {"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"annotations\":"
     "{\"cnpg.io/skipEmptyWalArchiveCheck\":true}},\"spec\":{}}",
     ".metadata.annotations.cnpg.io/skipEmptyWalArchiveCheck must be a string"},
    {"{" MD ",\"spec\":{\"plugins\":{}}}", ".spec.plugins must be an array"},
    {"{" MD ",\"spec\":{\"plugins\":[\"x\"]}}", ".spec.plugins[0] must be an object"},
    {"{" MD ",\"spec\":{\"plugins\":[{},{}]}}", ".spec.plugins[0].name is missing"},
    {"{" MD ",\"spec\":{\"plugins\":[{\"name\":\"x\"},{\"name\":2}]}}",
     ".spec.plugins[1].name must be a string"},
    {"{" MD ",\"spec\":{\"plugins\":[" PL ",\"enabled\":\"yes\"}]}}",
     ".spec.plugins[0].enabled must be true or false"},
    {"{" MD ",\"spec\":{\"plugins\":[" PL ",\"isWALArchiver\":1}]}}",
     ".spec.plugins[0].isWALArchiver must be true or false"},
    {"{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":[]}]}}",
     ".spec.plugins[0].parameters must be an object"},
    {"{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":{\"serverName\":5}}]}}",
     ".spec.plugins[0].parameters.serverName must be a string"},
    {"{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":{\"serverName\":\"\"}}]}}",
     ".spec.plugins[0].parameters.serverName is empty"},
    {"{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":{\"a\\nb\":null}}]}}",
     ".spec.plugins[0].parameters.a?b must be a string"},
    {"{" MD ",\"spec\":{\"plugins\":[" PL "}," PL "}]}}", "lists " PLUGIN " more than once"},
    {"{" MD ",\"spec\":{\"bootstrap\":[]}}", ".spec.bootstrap must be an object"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":1}}}",
     ".spec.bootstrap.recovery must be an object"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":{\"source\":{}}}}}",
     ".spec.bootstrap.recovery.source must be a string"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":{\"recoveryTarget\":{\"targetImmediate\":"
     "\"true\"}}}}}",
     ".spec.bootstrap.recovery.recoveryTarget.targetImmediate must be true or false"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":{\"recoveryTarget\":{\"targetTLI\":2}}}}}",
     ".spec.bootstrap.recovery.recoveryTarget.targetTLI must be a string"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":{\"source\":\"s\"}},\"externalClusters\":{}}}",
     ".spec.externalClusters must be an array"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":{\"source\":\"s\"}},\"externalClusters\":[7]}}",
     ".spec.externalClusters[0] must be an object"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":{\"source\":\"s\"}},\"externalClusters\":"
     "[{\"name\":\"s\",\"plugin\":{}}]}}",
     ".spec.externalClusters[0].plugin.name is missing"},
    {"{" MD ",\"spec\":{\"bootstrap\":{\"recovery\":{\"source\":\"s\"}},\"externalClusters\":"
     "[{\"name\":\"s\",\"plugin\":" PL ",\"parameters\":{\"serverName\":[]}}}]}}",
     ".spec.externalClusters[0].plugin.parameters.serverName must be a string"},
    {"{" MD ",\"spec\":{\"replica\":{\"enabled\":\"on\"}}}",
     ".spec.replica.enabled must be true or false"},
    {"{" MD ",\"spec\":{\"replica\":{\"source\":1}}}", ".spec.replica.source must be a string"},
    /* jansson's own refusals: duplicate keys, NUL in strings, bad UTF-8 */
    {"{\"metadata\":{\"name\":\"a\",\"name\":\"b\",\"namespace\":\"b\"},\"spec\":{}}",
     "invalid JSON"},
    {"{\"metadata\":{\"name\":\"a\\u0000b\",\"namespace\":\"b\"},\"spec\":{}}", "invalid JSON"},
    {"{\"metadata\":{\"name\":\"\xff\xfe\",\"namespace\":\"b\"},\"spec\":{}}", "invalid JSON"},
};

static void expect_bad(const char *json, size_t len, const char *expect)
{
    sc_cluster *c = (sc_cluster *)(uintptr_t)1;
    pc_status st = sc_cluster_parse(json, len, PLUGIN, NULL, &c);
    if (st != PC_E_USAGE || !strstr(pc_err_get()->message, expect))
        fail_msg("document %.80s: got status %d \"%s\", expected usage error with \"%s\"", json,
                 (int)st, pc_err_get()->message, expect);
    assert_null(c);
}

static void test_bad_table(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
        expect_bad(bad_cases[i].json, strlen(bad_cases[i].json), bad_cases[i].expect);
}

/* ---- hostile documents built at run time ---- */

static char *doc_with_name(size_t name_len)
{
    const char *pre = "{\"metadata\":{\"name\":\"", *post = "\",\"namespace\":\"b\"},\"spec\":{}}";
    size_t n = strlen(pre) + name_len + strlen(post);
    char *d = malloc(n + 1);
    assert_non_null(d);
    memcpy(d, pre, strlen(pre));
    memset(d + strlen(pre), 'x', name_len);
    memcpy(d + strlen(pre) + name_len, post, strlen(post) + 1);
    return d;
}

static void test_huge_name(void **state)
{
    char *d = doc_with_name(10u << 20);
    expect_bad(d, strlen(d), ".metadata.name is 10485760 bytes long (at most 253)");
    free(d);
    d = doc_with_name(SC_NAME_MAX);
    sc_cluster *c = parse_str(d);
    assert_int_equal(strlen(c->name), SC_NAME_MAX);
    sc_cluster_free(c);
    free(d);
    d = doc_with_name(SC_NAME_MAX + 1);
    expect_bad(d, strlen(d), "is 254 bytes long (at most 253)");
    free(d);
}

static void test_too_big(void **state)
{
    char *d = doc_with_name(SC_CLUSTER_JSON_MAX);
    expect_bad(d, strlen(d), "more than the 16777216 accepted");
    free(d);
}

static void test_deep_nesting(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_buf_append_str(&b, "{" MD ",\"spec\":{\"x\":");
    for (int i = 0; i < 100000; i++)
        pc_buf_append_str(&b, "[");
    expect_bad((const char *)b.data, b.len, "nested deeper than 64 levels");
    pc_buf_free(&b);
}

static void test_too_many_values(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_buf_append_str(&b, "{" MD ",\"spec\":{\"x\":[0");
    for (int i = 0; i < 300000; i++)
        pc_buf_append_str(&b, ",0");
    pc_buf_append_str(&b, "]}}");
    expect_bad((const char *)b.data, b.len, "more than 262144 JSON values");
    pc_buf_free(&b);
}

static void test_parameter_limits(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_buf_append_str(&b, "{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":{");
    for (int i = 0; i < SC_PARAMS_MAX; i++)
        pc_buf_printf(&b, "%s\"k%d\":\"v\"", i ? "," : "", i);
    pc_buf_append_str(&b, "}}]}}");
    sc_cluster *c = parse_ok((const char *)b.data, b.len, NULL);
    assert_int_equal(c->plugin.params.n, SC_PARAMS_MAX);
    assert_string_equal(sc_kvs_get(&c->plugin.params, "k255"), "v");
    sc_cluster_free(c);

    pc_buf_reset(&b);
    pc_buf_append_str(&b, "{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":{");
    for (int i = 0; i <= SC_PARAMS_MAX; i++)
        pc_buf_printf(&b, "%s\"k%d\":\"v\"", i ? "," : "", i);
    pc_buf_append_str(&b, "}}]}}");
    expect_bad((const char *)b.data, b.len,
               ".spec.plugins[0].parameters has more than 256 entries");

    pc_buf_reset(&b);
    pc_buf_append_str(&b, "{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":{\"big\":\"");
    for (int i = 0; i <= SC_PARAM_VALUE_MAX; i++)
        pc_buf_append_str(&b, "v");
    pc_buf_append_str(&b, "\"}}]}}");
    expect_bad((const char *)b.data, b.len,
               ".spec.plugins[0].parameters.big is 4097 bytes long (at most 4096)");

    pc_buf_reset(&b);
    pc_buf_append_str(&b, "{" MD ",\"spec\":{\"plugins\":[" PL ",\"parameters\":{\"");
    for (int i = 0; i <= SC_PARAM_KEY_MAX; i++)
        pc_buf_append_str(&b, "k");
    pc_buf_append_str(&b, "\":\"v\"}}]}}");
    expect_bad((const char *)b.data, b.len, "has a key of 254 bytes (at most 253)");
    pc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_cluster),
        cmocka_unit_test(test_recovery_cluster),
        cmocka_unit_test(test_minimal_and_variants),
        cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_huge_name),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_too_many_values),
        cmocka_unit_test(test_parameter_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
