/*
 * cnpgi_cclient: a minimal C client for timing the pgcask sidecar the way
 * CloudNativePG's instance manager uses it for one WAL file (a fresh
 * connection, GetPluginMetadata, GetPluginCapabilities, WAL.GetCapabilities,
 * then WAL.Archive), without the Python interpreter's own overhead.
 *
 *   cnpgi_cclient SOCKET CLUSTER_JSON_FILE WAL_PATH [N]
 *
 * Runs N sequences (default 1) on N fresh connections and prints one JSON
 * line: sequences, ok (Archive answered OK), the first error, and the
 * microseconds per sequence (min, median, p95, max). Exit 0 when every
 * Archive answered OK.
 *
 * Build: cc -O2 -o cnpgi_cclient cnpgi_cclient.c $(pkg-config --cflags --libs grpc gpr)
 * The one request message is encoded by hand (WALArchiveRequest: 1 bytes
 * cluster_definition, 2 string source_file_name, 4 optional bool
 * check_empty_wal_archive); the replies are not decoded, only their status.
 */
#define _GNU_SOURCE
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t put_bytes(unsigned char *p, int field, const void *data, size_t len)
{
    size_t n = 0;
    p[n++] = (unsigned char)(field << 3 | 2);
    n += put_varint(p + n, len);
    memcpy(p + n, data, len);
    return n + len;
}

/* One unary call on ch; returns the status code, copies the status text to msg. */
static int unary(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                 const unsigned char *req, size_t len, char *msg, size_t msglen)
{
    grpc_slice m = grpc_slice_from_static_string(method);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_seconds(60, GPR_TIMESPAN));
    grpc_call *call =
        grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL, deadline, NULL);
    grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
    grpc_byte_buffer *out = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata_array md, tr;
    grpc_metadata_array_init(&md);
    grpc_metadata_array_init(&tr);
    grpc_byte_buffer *in = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = out;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &in;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &tr;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    static int tag;
    if (grpc_call_start_batch(call, ops, 6, &tag, NULL) == GRPC_CALL_OK) {
        for (;;) {
            grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_OP_COMPLETE && ev.tag == &tag)
                break;
        }
    }
    size_t dl = GRPC_SLICE_LENGTH(details);
    if (dl >= msglen)
        dl = msglen - 1;
    memcpy(msg, GRPC_SLICE_START_PTR(details), dl);
    msg[dl] = '\0';
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(in);
    grpc_byte_buffer_destroy(out);
    grpc_metadata_array_destroy(&md);
    grpc_metadata_array_destroy(&tr);
    grpc_call_unref(call);
    return (int)status;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s SOCKET CLUSTER_JSON_FILE WAL_PATH [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 4 ? atoi(argv[4]) : 1;
    if (n < 1)
        n = 1;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long clen = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *cluster = malloc((size_t)clen + 1);
    if (!cluster || fread(cluster, 1, (size_t)clen, f) != (size_t)clen) {
        fprintf(stderr, "could not read %s\n", argv[2]);
        return 2;
    }
    fclose(f);
    size_t plen = strlen(argv[3]);
    unsigned char *req = malloc((size_t)clen + plen + 32);
    size_t rlen = put_bytes(req, 1, cluster, (size_t)clen);
    rlen += put_bytes(req + rlen, 2, argv[3], plen);
    req[rlen++] = 4 << 3 | 0; /* check_empty_wal_archive = false, present */
    req[rlen++] = 0;

    grpc_init();
    char target[4200];
    snprintf(target, sizeof target, "unix:%s", argv[1]);
    /* a private subchannel pool: every sequence really opens a new connection */
    grpc_arg arg = {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
                    .value.integer = 1};
    grpc_channel_args args = {.num_args = 1, .args = &arg};
    int64_t *us = calloc((size_t)n, sizeof *us);
    int ok = 0;
    char first_err[1024] = "";
    for (int i = 0; i < n; i++) {
        int64_t t0 = now_us();
        grpc_channel_credentials *creds = grpc_insecure_credentials_create();
        grpc_channel *ch = grpc_channel_create(target, creds, &args);
        grpc_channel_credentials_release(creds);
        grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
        static const char *loadplugin[] = {"/cnpgi.identity.v1.Identity/GetPluginMetadata",
                                           "/cnpgi.identity.v1.Identity/GetPluginCapabilities",
                                           "/cnpgi.wal.v1.WAL/GetCapabilities"};
        char msg[400];
        int code = 0;
        for (int k = 0; k < 3 && code == 0; k++) {
            code = unary(ch, cq, loadplugin[k], (const unsigned char *)"", 0, msg, sizeof msg);
            if (code && !first_err[0])
                snprintf(first_err, sizeof first_err, "%s: %d %s", loadplugin[k], code, msg);
        }
        if (code == 0) {
            code = unary(ch, cq, "/cnpgi.wal.v1.WAL/Archive", req, rlen, msg, sizeof msg);
            if (code == 0)
                ok++;
            else if (!first_err[0])
                snprintf(first_err, sizeof first_err, "Archive: %d %s", code, msg);
        }
        grpc_channel_destroy(ch);
        grpc_completion_queue_shutdown(cq);
        while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(cq);
        us[i] = now_us() - t0;
    }
    qsort(us, (size_t)n, sizeof *us, cmp64);
    for (char *p = first_err; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = ' ';
    printf("{\"sequences\": %d, \"rpcs_per_sequence\": 4, \"ok\": %d, \"first_error\": \"%s\", "
           "\"us_min\": %lld, \"us_median\": %lld, \"us_p95\": %lld, \"us_max\": %lld}\n",
           n, ok, first_err, (long long)us[0], (long long)us[n / 2],
           (long long)us[n * 95 / 100 >= n ? n - 1 : n * 95 / 100], (long long)us[n - 1]);
    free(us);
    free(req);
    free(cluster);
    grpc_shutdown();
    return ok == n ? 0 : 1;
}
