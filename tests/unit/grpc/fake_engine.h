#ifndef PGCASK_TESTS_FAKE_ENGINE_H
#define PGCASK_TESTS_FAKE_ENGINE_H

/* What the scripted engine (fake_engine.c) saw and what it will answer. */

#include <stdbool.h>

#include "plugin-grpc/engine.h"

typedef struct fake_engine_state {
    /* script */
    bool supported;    /* sc_engine_supports answer */
    pc_status result;  /* what every call returns */
    char message[256]; /* its error message */
    bool bad_backup;   /* return a backup without a start time */
    bool end_of_wal;   /* Restore answers "end of WAL reached" */
    /* record */
    int calls;
    sc_op last_op;
    char cluster_name[256];
    char pod_name[256];
    char arg1[512];
    char arg2[512];
    int check_empty;
    int mode;
    size_t nparams;
    char param_p1[64];
    bool stopping_ptr;
} fake_engine_state;

extern fake_engine_state fake;

void fake_reset(void);

#endif
