#ifndef PGCASK_TESTS_UNIT_COMMON_TESTUTIL_H
#define PGCASK_TESTS_UNIT_COMMON_TESTUTIL_H

/* Helpers shared by the common/ unit tests. Include after <cmocka.h>'s prerequisites. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh empty directory under $PGCASK_TEST_TMP (else /tmp); malloc'd, removed by tu_rmdir. */
char *tu_mkdtemp(void);
void tu_rmdir(char *dir);

/* Redirect fd 2 into a temporary file until tu_capture_end, which returns what was written
 * (malloc'd). */
void tu_capture_begin(void);
char *tu_capture_end(void);

/* Write / read a whole small file; tu_read returns NULL when missing (malloc'd, NUL terminated). */
void tu_write(const char *path, const char *text);
char *tu_read(const char *path, size_t *len);

/* Number of entries in a directory (without . and ..). */
int tu_count_entries(const char *dir);

/* Assert that the current error record has this status and message. */
#define tu_assert_err(st, msg)                                                                     \
    do {                                                                                           \
        assert_int_equal(pc_err_get()->status, (st));                                              \
        assert_string_equal(pc_err_get()->message, (msg));                                         \
    } while (0)

#endif
