/*
 * Parallel gzip compression: one RFC 1952 member whose deflate stream is
 * built from blocks compressed on worker threads.
 *
 * The input is cut into PGZ_BLOCK-byte blocks. Each block is compressed as a
 * raw deflate stream of its own, primed with the last 32 KiB of the block
 * before it (deflateSetDictionary) so matches still reach back across the
 * cut, and ended with Z_SYNC_FLUSH: that ends on a byte boundary with a
 * non-final block, so the pieces concatenate into one valid deflate stream.
 * The last block ends with Z_FINISH. The writer emits the gzip header, the
 * blocks in order, then the trailer: the CRC-32 combined from the per-block
 * CRCs (crc32_combine) and ISIZE. One member matters: Python's tarfile in
 * stream mode ("r|gz", what barman-cloud-restore uses) stops after the first.
 *
 * Levels 1-6 compress each block with ISA-L's igzip instead of zlib
 * (compress/isal.c): the same priming and sync flush, 5-30 times faster.
 *
 * Block boundaries and dictionaries depend only on the input, so the output
 * is the same whatever the number of threads.
 *
 * Memory bound: threads + 2 block slots (PGZ_SLOTS), each with an input
 * buffer, a 32 KiB dictionary and an output buffer of deflateBound(block),
 * plus one deflate state per worker (zlib's about 256 KiB, igzip's about
 * 410 KiB with its level buffer) and the shared 256 KiB output chunk.
 * A slot is in flight from the moment write starts filling it until its
 * output has been handed to next; when every slot is in flight, write waits
 * for the oldest block (back-pressure). At threads = 2 that is about 3 MiB.
 *
 * Threads: the caller's thread fills blocks, queues them and hands finished
 * ones to next; workers take queued blocks in sequence order. All block
 * hand-offs go through one mutex. A worker's failure is recorded once (with
 * its error record) and returned by the next write or finish. Abort stops the
 * workers after the block each is compressing and joins them.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
/* next_in becomes const: zlib never writes through it */
#define ZLIB_CONST
#include <zlib.h>

#include "common/buf.h"
#include "common/error.h"
#include "compress/internal.h"

/*
 * Uncompressed bytes per block: large enough that the per-block costs (thread
 * hand-off, dictionary priming, a 5-byte flush marker) stay small.
 */
#define PGZ_BLOCK CMP_PGZIP_BLOCK
/* deflate's window: the dictionary each block is primed with. */
#define PGZ_DICT (32u * 1024u)
/* More workers than this buys nothing and only costs memory. */
#define PGZ_MAX_THREADS    64
#define PGZ_SLOTS(threads) ((size_t)(threads) + 2)

long cmp_pgzip_test_fail_block = -1;

typedef struct pgz_block {
    unsigned char *in, *dict, *out;
    size_t len, dict_len, out_len, out_cap;
    uint32_t crc; /* CRC-32 of in[0..len) */
    bool last;    /* ends the deflate stream (Z_FINISH) */
    bool done;    /* under mu: compressed (or failed); the writer may take it */
} pgz_block;

typedef struct pgz_stage pgz_stage;

typedef struct pgz_worker {
    pgz_stage *g;
    z_stream z;
    bool z_ready;
    cmp_isal *isal; /* instead of z when igzip does this level */
    bool started;
    pthread_t tid;
} pgz_worker;

struct pgz_stage {
    pc_sink base;
    cmp_out out;
    size_t nslots;
    pgz_block *slots;
    size_t nworkers;
    pgz_worker *workers;
    long fail_block; /* test hook, copied at construction */
    int isal_level;  /* igzip's level, or -1: zlib compresses */

    /* the writer's own (the caller's thread) */
    uint64_t seq_fill;  /* the block being filled, or the next one to fill */
    uint64_t seq_drain; /* the next block to hand to next */
    bool filling;       /* slot seq_fill is being filled */
    uint32_t crc;       /* of the blocks handed to next */
    uint64_t total;

    /* shared with the workers */
    bool sync_ready;
    pthread_mutex_t mu;
    pthread_cond_t work; /* under mu: a block was queued, or stop */
    pthread_cond_t done; /* under mu: a block was compressed */
    uint64_t queued;     /* under mu: blocks queued so far */
    uint64_t taken;      /* under mu: blocks taken by workers so far */
    bool stop;           /* under mu */
    pc_status fail_st;   /* under mu: the first worker failure */
    pc_error fail_err;   /* under mu: its error record */
    atomic_bool failed;  /* fail_st is set: lets write check without the mutex */
};

static pgz_block *slot_of(pgz_stage *g, uint64_t seq)
{
    return &g->slots[seq % g->nslots];
}

/* ---- workers ---- */

/* Make room for more output in b->out: deflateBound can be exceeded by a flush marker. */
static pc_status block_grow(pgz_block *b)
{
    size_t cap = b->out_cap + b->out_cap / 2;
    unsigned char *p = pc_realloc(b->out, cap);
    if (!p)
        return PC_E_INTERNAL;
    b->out = p;
    b->out_cap = cap;
    return PC_OK;
}

/* The same block through igzip: a raw stream primed with the dictionary, sync-flushed. */
static pc_status block_isal(cmp_isal *c, pgz_block *b)
{
    pc_status st = cmp_isal_restart(c, b->dict, b->dict_len);
    if (st)
        return st;
    b->crc = (uint32_t)crc32(0L, b->in, (uInt)b->len);
    b->out_len = 0;
    size_t used = 0;
    for (;;) {
        if (b->out_len == b->out_cap && (st = block_grow(b)) != PC_OK)
            return st;
        size_t took, wrote;
        bool done;
        st = cmp_isal_run(c, b->in + used, b->len - used, &took, b->out + b->out_len,
                          b->out_cap - b->out_len, &wrote, b->last ? CMP_ISAL_END : CMP_ISAL_SYNC,
                          &done);
        if (st)
            return st;
        used += took;
        b->out_len += wrote;
        if (done)
            return PC_OK;
        if (b->out_len < b->out_cap && took == 0 && wrote == 0)
            return pc_err(PC_E_INTERNAL, "gzip compression failed: ISA-L made no progress");
    }
}

/* Compress one block into b->out (grown if deflateBound was not enough). */
static pc_status block_deflate(z_stream *z, pgz_block *b)
{
    if (deflateReset(z) != Z_OK)
        return pc_err(PC_E_INTERNAL, "gzip compression failed: could not reset the compressor");
    if (b->dict_len > 0 && deflateSetDictionary(z, b->dict, (uInt)b->dict_len) != Z_OK)
        return pc_err(PC_E_INTERNAL, "gzip compression failed: could not set the dictionary");
    b->crc = (uint32_t)crc32(0L, b->in, (uInt)b->len);
    z->next_in = b->in;
    z->avail_in = (uInt)b->len;
    b->out_len = 0;
    int flush = b->last ? Z_FINISH : Z_SYNC_FLUSH;
    for (;;) {
        if (b->out_len == b->out_cap) {
            pc_status st = block_grow(b);
            if (st)
                return st;
        }
        z->next_out = b->out + b->out_len;
        z->avail_out = (uInt)(b->out_cap - b->out_len);
        int ret = deflate(z, flush);
        b->out_len = b->out_cap - z->avail_out;
        if (ret == Z_STREAM_ERROR)
            return pc_err(PC_E_INTERNAL, "gzip compression failed: %s", z->msg ? z->msg : "");
        /* a sync flush is complete once deflate leaves output space unused */
        if (b->last ? ret == Z_STREAM_END : (z->avail_in == 0 && z->avail_out > 0))
            return PC_OK;
    }
}

static void *worker_main(void *arg)
{
    pgz_worker *w = arg;
    pgz_stage *g = w->g;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->stop && g->taken == g->queued)
            pthread_cond_wait(&g->work, &g->mu);
        if (g->stop)
            break;
        uint64_t seq = g->taken++;
        pgz_block *b = slot_of(g, seq);
        pthread_mutex_unlock(&g->mu);

        pc_err_clear();
        pc_status st;
        if (g->fail_block >= 0 && seq == (uint64_t)g->fail_block)
            st = pc_err(PC_E_INTERNAL, "gzip compression failed: injected failure in block %llu",
                        (unsigned long long)seq);
        else if (w->isal)
            st = block_isal(w->isal, b);
        else
            st = block_deflate(&w->z, b);

        pthread_mutex_lock(&g->mu);
        if (st != PC_OK && g->fail_st == PC_OK) {
            g->fail_st = st;
            pc_err_save(&g->fail_err);
            g->fail_err.status = st;
            atomic_store(&g->failed, true);
        }
        b->done = true;
        /* only the writer waits on done */
        pthread_cond_signal(&g->done);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Stop the workers after their current block and join them. Idempotent. */
static void workers_stop(pgz_stage *g)
{
    if (!g->sync_ready)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->work);
    pthread_mutex_unlock(&g->mu);
    for (size_t i = 0; i < g->nworkers; i++) {
        if (g->workers[i].started) {
            pthread_join(g->workers[i].tid, NULL);
            g->workers[i].started = false;
        }
    }
}

/* ---- the writer ---- */

/* The first worker failure, with its error record, on the caller's thread. */
static pc_status worker_failure(pgz_stage *g)
{
    pthread_mutex_lock(&g->mu);
    pc_status st = g->fail_st;
    pc_err_restore(&g->fail_err);
    pthread_mutex_unlock(&g->mu);
    return st;
}

/*
 * Hand every compressed block to next, in order, and keep waiting until the
 * blocks before `until` are handed over (until <= seq_drain: no waiting).
 */
static pc_status drain(pgz_stage *g, uint64_t until)
{
    while (g->seq_drain < g->seq_fill) {
        pgz_block *b = slot_of(g, g->seq_drain);
        pthread_mutex_lock(&g->mu);
        while (!b->done && g->fail_st == PC_OK && g->seq_drain < until)
            pthread_cond_wait(&g->done, &g->mu);
        bool ready = b->done && g->fail_st == PC_OK;
        bool failed = g->fail_st != PC_OK;
        pthread_mutex_unlock(&g->mu);
        if (failed)
            return worker_failure(g);
        if (!ready)
            return PC_OK;
        /* next is called without the mutex: a slow upload must not stall the workers */
        pc_status st = cmp_out_put(&g->out, g->base.next, b->out, b->out_len);
        if (st)
            return st;
        g->crc = (uint32_t)crc32_combine(g->crc, b->crc, (z_off_t)b->len);
        g->total += b->len;
        pthread_mutex_lock(&g->mu);
        b->done = false;
        pthread_mutex_unlock(&g->mu);
        g->seq_drain++;
    }
    return PC_OK;
}

/* Take the slot for block seq_fill, waiting while all slots are in flight. */
static pc_status block_begin(pgz_stage *g)
{
    if (g->seq_fill >= g->nslots) {
        pc_status st = drain(g, g->seq_fill - g->nslots + 1);
        if (st)
            return st;
    }
    pgz_block *b = slot_of(g, g->seq_fill);
    b->len = 0;
    b->last = false;
    b->dict_len = 0;
    if (g->seq_fill > 0) {
        /*
         * Every block before the last is full, so the dictionary is exactly
         * the previous block's last 32 KiB. That slot is not refilled before
         * block seq_fill - 1 + nslots, so its input is intact (workers only read it).
         */
        const pgz_block *prev = slot_of(g, g->seq_fill - 1);
        b->dict_len = prev->len < PGZ_DICT ? prev->len : PGZ_DICT;
        memcpy(b->dict, prev->in + prev->len - b->dict_len, b->dict_len);
    }
    g->filling = true;
    return PC_OK;
}

/* Queue the block being filled, then hand over whatever is already compressed. */
static pc_status block_queue(pgz_stage *g, bool last)
{
    slot_of(g, g->seq_fill)->last = last;
    pthread_mutex_lock(&g->mu);
    g->queued++;
    pthread_cond_signal(&g->work);
    pthread_mutex_unlock(&g->mu);
    g->seq_fill++;
    g->filling = false;
    return drain(g, 0);
}

static pc_status pgz_write(pc_sink *s, const void *data, size_t len)
{
    pgz_stage *g = (pgz_stage *)s;
    if (atomic_load_explicit(&g->failed, memory_order_relaxed))
        return worker_failure(g);
    const unsigned char *p = data;
    while (len > 0) {
        pc_status st;
        if (!g->filling && (st = block_begin(g)) != PC_OK)
            return st;
        pgz_block *b = slot_of(g, g->seq_fill);
        size_t k = PGZ_BLOCK - b->len < len ? PGZ_BLOCK - b->len : len;
        memcpy(b->in + b->len, p, k);
        b->len += k;
        p += k;
        len -= k;
        /* a full block goes now; the stream's end is a (possibly empty) block of its own */
        if (b->len == PGZ_BLOCK && (st = block_queue(g, false)) != PC_OK)
            return st;
    }
    return PC_OK;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static pc_status pgz_finish(pc_sink *s)
{
    pgz_stage *g = (pgz_stage *)s;
    if (atomic_load_explicit(&g->failed, memory_order_relaxed))
        return worker_failure(g);
    pc_status st = g->filling ? PC_OK : block_begin(g);
    if (!st)
        st = block_queue(g, true);
    if (!st)
        st = drain(g, g->seq_fill);
    if (st)
        return st;
    workers_stop(g);
    unsigned char trailer[8];
    put_le32(trailer, g->crc);
    put_le32(trailer + 4, (uint32_t)g->total); /* ISIZE is the length modulo 2^32 */
    st = cmp_out_put(&g->out, s->next, trailer, sizeof trailer);
    return st ? st : cmp_out_flush(&g->out, s->next);
}

static void pgz_abort(pc_sink *s)
{
    workers_stop((pgz_stage *)s);
}

static void pgz_destroy(pc_sink *s)
{
    pgz_stage *g = (pgz_stage *)s;
    workers_stop(g);
    if (g->workers) {
        for (size_t i = 0; i < g->nworkers; i++)
            if (g->workers[i].z_ready)
                deflateEnd(&g->workers[i].z);
        for (size_t i = 0; i < g->nworkers; i++)
            cmp_isal_free(g->workers[i].isal);
        free(g->workers);
    }
    if (g->slots) {
        for (size_t i = 0; i < g->nslots; i++) {
            free(g->slots[i].in);
            free(g->slots[i].dict);
            free(g->slots[i].out);
        }
        free(g->slots);
    }
    if (g->sync_ready) {
        pthread_cond_destroy(&g->done);
        pthread_cond_destroy(&g->work);
        pthread_mutex_destroy(&g->mu);
    }
    cmp_out_free(&g->out);
    free(g);
}

static const pc_sink_ops pgz_ops = {.name = "gzip-compress",
                                    .write = pgz_write,
                                    .finish = pgz_finish,
                                    .abort = pgz_abort,
                                    .destroy = pgz_destroy};

/* Buffers, deflate states and threads; on failure the caller frees the half-built stage. */
static pc_status pgz_setup(pgz_stage *g, int level)
{
    pc_status st = cmp_out_init(&g->out, CMP_OUT_CHUNK, 0, "gzip");
    if (st)
        return st;
    unsigned char header[CMP_GZIP_HEADER];
    cmp_gzip_header(level, header);
    if ((st = cmp_out_put(&g->out, g->base.next, header, sizeof header)) != PC_OK)
        return st;

    g->workers = pc_calloc(g->nworkers, sizeof *g->workers);
    g->slots = pc_calloc(g->nslots, sizeof *g->slots);
    if (!g->workers || !g->slots)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < g->nworkers; i++) {
        pgz_worker *w = &g->workers[i];
        w->g = g;
        if (g->isal_level > 0) {
            if ((st = cmp_isal_new(g->isal_level, false, &w->isal)) != PC_OK)
                return st;
            continue;
        }
        /* windowBits -15: raw deflate, the gzip wrapper is written here */
        int ret = deflateInit2(&w->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        if (ret != Z_OK)
            return pc_err(PC_E_INTERNAL, "could not initialise zlib (error %d)", ret);
        w->z_ready = true;
    }
    /*
     * zlib's bound for a block, with room for the flush marker and the final
     * empty block; igzip's stored blocks fit it too, and a block that does
     * not fit grows its buffer (block_grow).
     */
    size_t out_cap = compressBound(PGZ_BLOCK) + 64;
    for (size_t i = 0; i < g->nslots; i++) {
        pgz_block *b = &g->slots[i];
        b->in = pc_malloc(PGZ_BLOCK);
        b->dict = pc_malloc(PGZ_DICT);
        b->out = pc_malloc(out_cap);
        if (!b->in || !b->dict || !b->out)
            return PC_E_INTERNAL;
        b->out_cap = out_cap;
    }

    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->work, NULL);
    pthread_cond_init(&g->done, NULL);
    g->sync_ready = true;
    for (size_t i = 0; i < g->nworkers; i++) {
        int rc = pthread_create(&g->workers[i].tid, NULL, worker_main, &g->workers[i]);
        if (rc != 0)
            return pc_err(PC_E_INTERNAL, "could not start gzip worker thread %zu of %zu: %s", i + 1,
                          g->nworkers, strerror(rc));
        g->workers[i].started = true;
    }
    return PC_OK;
}

pc_status cmp_pgzip_compress_new(int level, int threads, pc_sink *next, pc_sink **out)
{
    pgz_stage *g = pc_calloc(1, sizeof *g);
    if (!g) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&g->base, &pgz_ops, next);
    if (threads < 1)
        threads = 1;
    if (threads > PGZ_MAX_THREADS)
        threads = PGZ_MAX_THREADS;
    g->nworkers = (size_t)threads;
    g->nslots = PGZ_SLOTS(threads);
    g->fail_block = cmp_pgzip_test_fail_block;
    g->isal_level = cmp_isal_level(level);
    g->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    atomic_init(&g->failed, false);
    pc_status st = pgz_setup(g, level);
    if (st) {
        pc_sink_free(&g->base);
        return st;
    }
    *out = &g->base;
    return PC_OK;
}
