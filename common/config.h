#ifndef PGCASK_COMMON_CONFIG_H
#define PGCASK_COMMON_CONFIG_H

/*
 * Configuration: every setting has one descriptor in the table in config.c
 * (name, type, default, environment variable, help). A value comes from, in
 * order of precedence:
 *   1. the command line (the CLI calls pc_cfg_set(..., PC_CFG_SRC_FLAG)),
 *   2. the environment: PGCASK_<NAME> with '-' -> '_' upper-cased, plus the
 *      descriptor's standard alias (AWS_DEFAULT_REGION, AWS_CA_BUNDLE, ...),
 *   3. the INI file (--config, else $PGCASK_CONFIG, else
 *      /etc/pgcask/pgcask.conf when it exists): keys are the setting names
 *      (dashes or underscores), in no section or in [pgcask]/[global];
 *      a section [server:NAME] overrides them when --server is NAME,
 *   4. the descriptor's default.
 * Unknown INI keys and values of the wrong type are PC_E_CONFIG errors that
 * name the file, the line and the key. Secrets (descriptor flag) are never
 * printed by pc_cfg_dump.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "common/status.h"

typedef enum pc_cfg_type {
    PC_CFG_STRING = 0,
    PC_CFG_INT = 1,      /* signed 64-bit integer */
    PC_CFG_SIZE = 2,     /* bytes: 123, 16MB, 16MiB, 1GB, 1.5GiB (1024-based for both spellings) */
    PC_CFG_BOOL = 3,     /* on/off, true/false, yes/no, 1/0 */
    PC_CFG_DURATION = 4, /* milliseconds: 500ms, 30s, 5m, 2h, 7d; a bare number is seconds */
    PC_CFG_LIST = 5,     /* repeatable string: each flag/INI line appends; env is ';'-separated */
} pc_cfg_type;

typedef enum pc_cfg_source {
    PC_CFG_SRC_DEFAULT = 0,
    PC_CFG_SRC_FILE = 1,
    PC_CFG_SRC_ENV = 2,
    PC_CFG_SRC_FLAG = 3,
} pc_cfg_source;

#define PC_CFG_SECRET 0x1 /* never print the value */

typedef struct pc_cfg_desc {
    const char *name;      /* "endpoint-url" */
    pc_cfg_type type;
    const char *def;       /* default as text, or NULL for unset */
    const char *env_alias; /* a standard variable read after PGCASK_<NAME>, or NULL */
    unsigned flags;
    const char *help;      /* one line for --help and docs/configuration.md */
} pc_cfg_desc;

typedef struct pc_cfg pc_cfg;

pc_status pc_cfg_new(pc_cfg **out);
void pc_cfg_free(pc_cfg *c);
/* An independent copy (for a thread that may change settings of its own). */
pc_status pc_cfg_clone(const pc_cfg *src, pc_cfg **out);

/* The descriptor table (terminated by a NULL name) and lookup by name. */
const pc_cfg_desc *pc_cfg_table(void);
const pc_cfg_desc *pc_cfg_find(const char *name);

/* Set from a flag (or programmatically); validates the type. PC_E_USAGE names the option. */
pc_status pc_cfg_set(pc_cfg *c, const char *name, const char *value, pc_cfg_source src);
/*
 * Load environment and INI file; call after the flags were set. `path` is
 * the --config value or NULL. A missing explicit file is PC_E_CONFIG; a
 * missing default file is fine.
 */
pc_status pc_cfg_load(pc_cfg *c, const char *path);

bool pc_cfg_isset(const pc_cfg *c, const char *name); /* set by something other than the default */
pc_cfg_source pc_cfg_source_of(const pc_cfg *c, const char *name);
/* Typed getters; the name must be in the table (a wrong name or type aborts: a programming error). */
const char *pc_cfg_str(const pc_cfg *c, const char *name); /* NULL when unset */
int64_t pc_cfg_int(const pc_cfg *c, const char *name);
uint64_t pc_cfg_size(const pc_cfg *c, const char *name);
bool pc_cfg_bool(const pc_cfg *c, const char *name);
int64_t pc_cfg_duration_ms(const pc_cfg *c, const char *name);
/* For PC_CFG_LIST: number of values and the i-th value. */
size_t pc_cfg_list_len(const pc_cfg *c, const char *name);
const char *pc_cfg_list_get(const pc_cfg *c, const char *name, size_t i);

/* Print "name = value  # source" for every set setting, secrets masked. */
void pc_cfg_dump(const pc_cfg *c, FILE *out);

/* Parsers shared with the CLI. */
pc_status pc_parse_size(const char *text, uint64_t *out);
pc_status pc_parse_duration_ms(const char *text, int64_t *out);
pc_status pc_parse_bool(const char *text, bool *out);
pc_status pc_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

#endif
