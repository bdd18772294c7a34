/* Recovery configuration: quoting, target validation, restore_command, postgresql.auto.conf. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "restore/rst_int.h"
#include "testutil.h"

static char *guc(const char *v)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_status st = rst_guc_quote(&b, v);
    if (st) {
        pc_buf_free(&b);
        return NULL;
    }
    return (char *)pc_buf_steal(&b, NULL);
}

static void test_quoting(void **state)
{
    static const struct {
        const char *in, *out;
    } g[] = {
        {"plain", "'plain'"},   {"", "''"},           {"it's", "'it''s'"}, {"a\\b", "'a\\\\b'"},
        {"'\\'", "'''\\\\'''"}, {"%f %p", "'%f %p'"},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        char *q = guc(g[i].in);
        assert_non_null(q);
        assert_string_equal(q, g[i].out);
        free(q);
    }
    assert_null(guc("line\nbreak"));
    assert_int_equal(pc_err_get()->status, PC_E_USAGE);
    assert_null(guc("tab\there"));

    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(rst_sh_quote(&b, "/opt/it's here/pgcask"), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "'/opt/it'\\''s here/pgcask'");
    pc_buf_free(&b);
}

static void test_restore_command(void **state)
{
    pc_cfg *cfg;
    assert_int_equal(pc_cfg_new(&cfg), PC_OK);
    assert_int_equal(pc_cfg_set(cfg, "repo", "s3://bucket/pre fix%20", PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(cfg, "server", "pg1", PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(cfg, "endpoint-url", "http://127.0.0.1:9000", PC_CFG_SRC_FLAG),
                     PC_OK);
    assert_int_equal(pc_cfg_set(cfg, "verify-tls", "off", PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(cfg, "read-timeout", "90", PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(cfg, "aws-profile", "o'brien", PC_CFG_SRC_FLAG), PC_OK);
    pc_buf cmd;
    pc_buf_init(&cmd, PC_BUF_NOCAP);
    assert_int_equal(rst_restore_command("/usr/bin/pg cask", cfg, &cmd), PC_OK);
    assert_string_equal(pc_buf_cstr(&cmd),
                        "'/usr/bin/pg cask' wal-restore --repo 's3://bucket/pre fix%%20' "
                        "--server pg1 --endpoint-url http://127.0.0.1:9000 "
                        "--aws-profile 'o'\\''brien' --verify-tls off --read-timeout 90000ms "
                        "%f %p");

    /* and as it lands in postgresql.auto.conf */
    rst_target t = {0};
    pc_buf lines;
    pc_buf_init(&lines, PC_BUF_NOCAP);
    assert_int_equal(rst_recovery_render(&t, pc_buf_cstr(&cmd), &lines), PC_OK);
    assert_string_equal(pc_buf_cstr(&lines),
                        "# recovery settings written by pgcask restore\n"
                        "restore_command = '''/usr/bin/pg cask'' wal-restore --repo "
                        "''s3://bucket/pre fix%%20'' --server pg1 --endpoint-url "
                        "http://127.0.0.1:9000 --aws-profile ''o''\\\\''''brien'' "
                        "--verify-tls off --read-timeout 90000ms %f %p'\n");
    pc_buf_free(&lines);
    pc_buf_free(&cmd);
    pc_cfg_free(cfg);
}

static char *render(const rst_target *t)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_err_clear();
    pc_status st = rst_recovery_render(t, NULL, &b);
    if (st) {
        pc_buf_free(&b);
        return NULL;
    }
    return (char *)pc_buf_steal(&b, NULL);
}

#define HEAD "# recovery settings written by pgcask restore\n"

static void test_targets(void **state)
{
    static const struct {
        rst_target t;
        const char *out; /* NULL: refused */
        const char *msg;
    } c[] = {
        {{0}, HEAD, NULL},
        {{.time = "2026-11-21 12:00:00+02", .action = "promote"},
         HEAD "recovery_target_time = '2026-11-21 10:00:00+00:00'\n"
              "recovery_target_action = 'promote'\n",
         NULL},
        {{.time = "2026-11-21 10:00:00.25", .exclusive = true, .tli = "latest"},
         HEAD "recovery_target_time = '2026-11-21 10:00:00.250000+00:00'\n"
              "recovery_target_inclusive = 'false'\n"
              "recovery_target_timeline = 'latest'\n",
         NULL},
        {{.lsn = "16/b374d848"}, HEAD "recovery_target_lsn = '16/B374D848'\n", NULL},
        {{.xid = "4711", .action = "shutdown"},
         HEAD "recovery_target_xid = '4711'\nrecovery_target_action = 'shutdown'\n",
         NULL},
        {{.name = "before 'upgrade'\\"},
         HEAD "recovery_target_name = 'before ''upgrade''\\\\'\n",
         NULL},
        {{.immediate = true, .action = "pause", .tli = "3"},
         HEAD "recovery_target = 'immediate'\nrecovery_target_timeline = '3'\n"
              "recovery_target_action = 'pause'\n",
         NULL},
        {{.time = "2026-11-21", .lsn = "0/1"}, NULL, "more than one recovery target given"},
        {{.name = "x", .immediate = true}, NULL, "more than one recovery target given"},
        {{.action = "promote"}, NULL, "--target-action needs a recovery target"},
        {{.time = "2026-11-21", .action = "explode"}, NULL, "invalid --target-action \"explode\""},
        {{.exclusive = true},
         NULL,
         "--target-exclusive needs --target-time, --target-lsn or --target-xid"},
        {{.name = "x", .exclusive = true},
         NULL,
         "--target-exclusive needs --target-time, --target-lsn or --target-xid"},
        {{.tli = "next"}, NULL, "invalid --target-tli \"next\""},
        {{.xid = "12a"}, NULL, "invalid --target-xid \"12a\": not a transaction id"},
        {{.name = ""}, NULL, "invalid --target-name: a restore point name has 1 to 63 characters"},
        {{.name = "a\nb"},
         NULL,
         "value for postgresql.auto.conf contains a line break or a control character"},
        {{.time = "yesterday"}, NULL, NULL},
        {{.lsn = "zz/1"}, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *got = render(&c[i].t);
        if (c[i].out) {
            if (!got)
                fail_msg("case %zu refused: %s", i, pc_err_get()->message);
            assert_string_equal(got, c[i].out);
        } else {
            if (got)
                fail_msg("case %zu accepted: %s", i, got);
            assert_int_equal(pc_err_get()->status, PC_E_USAGE);
            if (c[i].msg)
                assert_string_equal(pc_err_get()->message, c[i].msg);
        }
        free(got);
    }
}

static void test_write(void **state)
{
    char *dir = tu_mkdtemp();
    char *conf = pc_path_join(dir, "postgresql.auto.conf");
    tu_write(conf, "# Do not edit this file manually!\n"
                   "work_mem = '64MB'\n"
                   "  restore_command = 'cp /old/%f %p'\n"
                   "recovery_target_name='x'\n"
                   "RECOVERY_TARGET_TIMELINE = 'latest'\n"
                   "recovery_targetish = 1\n"
                   "archive_mode = 'on'");
    assert_int_equal(rst_recovery_write(dir, "restore_command = 'new'\n", false), PC_OK);
    char *got = tu_read(conf, NULL);
    assert_string_equal(got, "# Do not edit this file manually!\n"
                             "work_mem = '64MB'\n"
                             "# replaced by pgcask restore:   restore_command = 'cp /old/%f %p'\n"
                             "# replaced by pgcask restore: recovery_target_name='x'\n"
                             "# replaced by pgcask restore: RECOVERY_TARGET_TIMELINE = 'latest'\n"
                             "# replaced by pgcask restore: recovery_targetish = 1\n"
                             "archive_mode = 'on'\n"
                             "restore_command = 'new'\n");
    free(got);
    struct stat sb;
    char *sig = pc_path_join(dir, "recovery.signal");
    assert_int_equal(stat(sig, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(conf, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(sig);

    /* no postgresql.auto.conf at all, and standby */
    unlink(conf);
    assert_int_equal(rst_recovery_write(dir, "x = 'y'\n", true), PC_OK);
    got = tu_read(conf, NULL);
    assert_string_equal(got, "x = 'y'\n");
    free(got);
    sig = pc_path_join(dir, "standby.signal");
    assert_true(pc_path_exists(sig));
    free(sig);
    free(conf);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_restore_command),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
