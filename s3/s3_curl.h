#ifndef PGCASK_S3_S3_CURL_H
#define PGCASK_S3_S3_CURL_H

/*
 * libcurl, loaded with dlopen on first use. Linking it would make every
 * pgcask process load libcurl and its ~30 dependent libraries (about 7 ms),
 * and `pgcask wal-archive` must answer an already archived segment in a few
 * milliseconds; only processes that talk S3 pay for curl now.
 *
 * Include this header instead of <curl/curl.h>: after s3_curl_load()
 * succeeded, the usual curl_* names call through the loaded table.
 */

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "common/status.h"

typedef struct s3_curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    CURLcode (*easy_perform)(CURL *h);
    void (*easy_reset)(CURL *h);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode rc);
    void (*free)(void *p);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *u);
    CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
    CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
} s3_curl_api;

extern s3_curl_api s3_curl;

/*
 * Load libcurl and run curl_global_init, once per process (thread-safe).
 * PC_E_INTERNAL with an install hint when the library is missing.
 */
pc_status s3_curl_load(void);

/* curl.h defines pass-through macros for these two (to check the argument count) */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init     (*s3_curl.global_init)
#define curl_easy_init       (*s3_curl.easy_init)
#define curl_easy_setopt     (*s3_curl.easy_setopt)
#define curl_easy_getinfo    (*s3_curl.easy_getinfo)
#define curl_easy_perform    (*s3_curl.easy_perform)
#define curl_easy_reset      (*s3_curl.easy_reset)
#define curl_easy_cleanup    (*s3_curl.easy_cleanup)
#define curl_easy_strerror   (*s3_curl.easy_strerror)
#define curl_free            (*s3_curl.free)
#define curl_slist_append    (*s3_curl.slist_append)
#define curl_slist_free_all  (*s3_curl.slist_free_all)
#define curl_url             (*s3_curl.url)
#define curl_url_cleanup     (*s3_curl.url_cleanup)
#define curl_url_get         (*s3_curl.url_get)
#define curl_url_set         (*s3_curl.url_set)

#endif
