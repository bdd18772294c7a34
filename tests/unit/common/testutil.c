#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"

char *tu_mkdtemp(void)
{
    const char *base = getenv("PGCASK_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    assert_int_equal(pc_mkdirs(base, 0700), PC_OK);
    char *tmpl = malloc(strlen(base) + 32);
    assert_non_null(tmpl);
    sprintf(tmpl, "%s/common-XXXXXX", base);
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

void tu_rmdir(char *dir)
{
    if (!dir)
        return;
    assert_int_equal(pc_remove_tree(dir), PC_OK);
    free(dir);
}

static int saved_fd = -1;
static FILE *capture_file;

void tu_capture_begin(void)
{
    assert_int_equal(saved_fd, -1);
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_fd = dup(STDERR_FILENO);
    assert_true(saved_fd >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

char *tu_capture_end(void)
{
    assert_true(saved_fd >= 0);
    fflush(stderr);
    assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
    close(saved_fd);
    saved_fd = -1;
    fseek(capture_file, 0, SEEK_END);
    long n = ftell(capture_file);
    assert_true(n >= 0);
    rewind(capture_file);
    char *out = malloc((size_t)n + 1);
    assert_non_null(out);
    assert_int_equal(fread(out, 1, (size_t)n, capture_file), (size_t)n);
    out[n] = '\0';
    fclose(capture_file);
    capture_file = NULL;
    return out;
}

void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *out = malloc((size_t)n + 1);
    assert_non_null(out);
    assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
    out[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return out;
}

int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}
