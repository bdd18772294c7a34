#ifndef PGCASK_S3_REPO_DRIVER_H
#define PGCASK_S3_REPO_DRIVER_H

/*
 * Backend interface behind repo.h (private to s3/). Each backend provides
 * one driver; repo.c holds the table of drivers by URL scheme (pgBackRest's
 * storage registry, without #ifdefs) and the generic parts: opts defaults,
 * repo_get_buf, argument checks, key validation.
 *
 * Keys passed to drivers are already validated: non-empty, no leading '/',
 * no "//", no "." or ".." component, no NUL or control characters.
 */

#include "s3/repo.h"

typedef struct repo_driver {
    const char *scheme; /* "file", "s3" */
    /*
     * Parse the rest of the URL ("bucket/prefix" or "/abs/path") and set up
     * state; *impl is passed back to every call. Copy every string of `o`
     * that is kept: the caller frees them after open returns.
     */
    pc_status (*open)(const repo_opts *o, const char *url_rest, void **impl);
    void (*close)(void *impl);
    pc_status (*put)(void *impl, const char *key, const void *data, size_t len,
                     const repo_put_opts *po);
    pc_status (*put_stream)(void *impl, const char *key, const repo_put_opts *po, pc_sink **out);
    pc_status (*get)(void *impl, const char *key, uint64_t offset, uint64_t length, pc_sink *dest,
                     repo_obj *info);
    pc_status (*head)(void *impl, const char *key, repo_obj *info);
    pc_status (*list)(void *impl, const char *prefix, const char *delimiter, repo_list_cb cb,
                      void *ud);
    pc_status (*del)(void *impl, const char *const *keys, size_t nkeys);
    pc_status (*check)(void *impl);
    pc_status (*create_bucket)(void *impl);
    pc_status (*abort_uploads)(void *impl, const char *prefix, size_t *aborted);
    pc_status (*count_uploads)(void *impl, const char *prefix, size_t *count);
} repo_driver;

extern const repo_driver repo_driver_file;
extern const repo_driver repo_driver_s3;

/* Validate a key (rules above); PC_E_USAGE naming the key otherwise. */
pc_status repo_key_check(const char *key);

#endif
