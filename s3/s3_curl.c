#include "s3/s3_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

s3_curl_api s3_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];

/* dlsym into a function pointer without the ISO C object/function pointer cast warning. */
static int sym(void *lib, const char *name, void *slot)
{
    void *p = dlsym(lib, name);
    if (!p) {
        snprintf(load_error, sizeof load_error, "libcurl has no symbol %s", name);
        return -1;
    }
    memcpy(slot, &p, sizeof p);
    return 0;
}

static void load(void)
{
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error, "could not load libcurl: %s", dlerror());
        return;
    }
    s3_curl_api a;
    if (sym(lib, "curl_global_init", &a.global_init) || sym(lib, "curl_easy_init", &a.easy_init) ||
        sym(lib, "curl_easy_setopt", &a.easy_setopt) ||
        sym(lib, "curl_easy_getinfo", &a.easy_getinfo) ||
        sym(lib, "curl_easy_perform", &a.easy_perform) ||
        sym(lib, "curl_easy_reset", &a.easy_reset) ||
        sym(lib, "curl_easy_cleanup", &a.easy_cleanup) ||
        sym(lib, "curl_easy_strerror", &a.easy_strerror) || sym(lib, "curl_free", &a.free) ||
        sym(lib, "curl_slist_append", &a.slist_append) ||
        sym(lib, "curl_slist_free_all", &a.slist_free_all) || sym(lib, "curl_url", &a.url) ||
        sym(lib, "curl_url_cleanup", &a.url_cleanup) || sym(lib, "curl_url_get", &a.url_get) ||
        sym(lib, "curl_url_set", &a.url_set)) {
        dlclose(lib);
        return;
    }
    CURLcode rc = a.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "could not initialise libcurl: %s",
                 a.easy_strerror(rc));
        return;
    }
    s3_curl = a; /* published by pthread_once's memory ordering */
}

pc_status s3_curl_load(void)
{
    pthread_once(&once, load);
    if (s3_curl.easy_init)
        return PC_OK;
    pc_err(PC_E_INTERNAL, "%s", load_error);
    pc_err_hint("S3 repositories need libcurl: apt-get install libcurl4.");
    return PC_E_INTERNAL;
}
