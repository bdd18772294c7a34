#ifndef PGCASK_COMMON_HASH_H
#define PGCASK_COMMON_HASH_H

/*
 * Digests (OpenSSL EVP for SHA-256 and MD5; CRC-32C in software with the
 * SSE4.2 instruction when the CPU has it) as one-shot functions and as a
 * pass-through pipeline observer whose result is read after finish.
 */

#include <stddef.h>
#include <stdint.h>
#include "common/sink.h"

/* PERSISTED in catalogs and manifests: never renumber. */
typedef enum pc_hash_alg {
    PC_HASH_SHA256 = 1,
    PC_HASH_MD5 = 2,
    PC_HASH_CRC32C = 3,
} pc_hash_alg;

#define PC_SHA256_LEN 32
#define PC_MD5_LEN    16
#define PC_HASH_MAX   32

size_t pc_hash_len(pc_hash_alg alg);
const char *pc_hash_name(pc_hash_alg alg); /* "sha256", "md5", "crc32c" */

/* Incremental context. */
typedef struct pc_hash pc_hash;
pc_status pc_hash_new(pc_hash_alg alg, pc_hash **out);
void pc_hash_update(pc_hash *h, const void *data, size_t len);
/* Writes pc_hash_len() bytes; the context may not be updated afterwards. */
void pc_hash_final(pc_hash *h, unsigned char *out);
void pc_hash_free(pc_hash *h);

void pc_sha256(const void *data, size_t len, unsigned char out[PC_SHA256_LEN]);
void pc_md5(const void *data, size_t len, unsigned char out[PC_MD5_LEN]);
uint32_t pc_crc32c(uint32_t crc, const void *data, size_t len); /* start with crc = 0 */

/* Lower-case hex; out must hold 2*len+1 bytes. */
void pc_hex(const unsigned char *in, size_t len, char *out);
/* Parse hex of exactly 2*len chars; returns PC_E_CORRUPT on bad input. */
pc_status pc_unhex(const char *hex, unsigned char *out, size_t len);
/* Standard base64 (RFC 4648, with padding); out must hold 4*((len+2)/3)+1 bytes. */
void pc_base64(const unsigned char *in, size_t len, char *out);

/* Observer stage: passes data through to next unchanged. */
pc_status pc_sink_hash_new(pc_hash_alg alg, pc_sink *next, pc_sink **out);
/* Valid after the stage finished: copies the digest (len must be >= pc_hash_len). */
pc_status pc_sink_hash_result(pc_sink *hash_stage, unsigned char *out, size_t len);

#endif
