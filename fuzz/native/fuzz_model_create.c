/* fuzz_model_create.c — libFuzzer target for the native loader: the input bytes become an mst_model_config and a
 * tensor table, which go to mst_model_create(_with); a model that loads gets a context and one to three decode calls.
 *
 * The library promises (mistral.h) to check every config value and every tensor before use and to fail with a status,
 * never to abort or read outside the memory a tensor describes. Anything the sanitizers or libFuzzer report here is a
 * broken promise, with one exception kept out by the harness itself: the ABI lets the library trust that `n_bytes`
 * bytes are readable at `data`, so the harness always allocates exactly n_bytes per tensor (and returns early when an
 * input asks for more than MAX_TOTAL_BYTES in all, which is the caller's choice, not a library bug).
 *
 * Input layout (little-endian; bytes past the end read as zero, so every input decodes) — gen_seeds.py writes it:
 *
 *   u8  opts          OPT_* bits below
 *   u32 x 13          n_vocab n_embd n_layer n_head n_head_kv head_dim n_ff n_ctx_train sliding_window
 *                     rope_freq_base (float bits) rms_norm_eps (float bits) n_expert n_expert_used
 *   [OPT_PARAMS]      i32 backend, i32 device, u32 flags: an mst_model_params for mst_model_create_with
 *   u16 n_tensors     at most MAX_TENSORS
 *   per tensor:       i8 role, i16 layer, i8 type, u8 n_dims, u8 flags, u8 mode (MODE_* bits)
 *                     [MODE_RAW_NE] i64 ne[4]    else the shape mistral.h gives the role, from the config
 *                     [MODE_RAW_BYTES] u64 n_bytes  else the size the type and shape imply (0 if none)
 *   u8  n_ctx         context length 1..64
 *   u8  n_batch       1..4
 *   u8  n_calls       1..3 mst_decode calls, each of:
 *                       u8 n_tokens (1..3), then per token u8 sel + i32 id (sel bit 0: id modulo n_vocab, else raw)
 *   [OPT_WINDOWS]     u32 per layer for config.layer_windows (read cyclically from here on)
 *   rest              the data pool: tensor bytes are filled from it cyclically (so NaN/Inf weights occur)
 */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mistral.h"

enum {
    OPT_BAD_CONFIG_SIZE = 1,  /* config.struct_size off by one */
    OPT_WINDOWS = 2,          /* config.layer_windows points at n_layer windows from the input */
    OPT_PARAMS = 4,           /* call mst_model_create_with with params from the input */
    OPT_CHECK_LAYERS = 8,     /* context flag MST_CONTEXT_CHECK_LAYERS */
    OPT_KV_F32 = 16,          /* kv_type F32 instead of F16 */
    OPT_ALL_LOGITS = 32,      /* mst_decode(all_logits = 1) */
    OPT_BAD_KV_TYPE = 64,     /* kv_type that is neither F16 nor F32 */
};
enum {
    MODE_RAW_NE = 1,          /* ne[] from the input instead of the expected shape */
    MODE_RAW_BYTES = 2,       /* n_bytes from the input instead of the implied size */
    MODE_NULL_DATA = 4,       /* data = NULL (no allocation) */
    MODE_BAD_SIZE = 8,        /* struct_size off by one */
};

#define MAX_TENSORS 1024
#define MAX_TOTAL_BYTES (4u << 20) /* tensor memory one input may ask for */
#define MAX_WINDOWS 4096           /* layer_windows entries one input may ask for */

/* FUZZ_VERBOSE=1 in the environment prints each call's status and message: for reading a reproducer, or checking
 * that the seeds load (smoke.sh). */
static int verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("FUZZ_VERBOSE") != NULL && getenv("FUZZ_VERBOSE")[0] == '1';
    return v;
}

static mst_status report(const char *what, mst_status st)
{
    if (verbose())
        fprintf(stderr, "fuzz_model_create: %s: %s%s%s\n", what, mst_status_to_string(st), st ? ": " : "",
                st ? mst_last_error() : "");
    return st;
}

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static uint64_t take(reader *r, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++, r->at++)
        v |= (uint64_t)(r->at < r->n ? r->p[r->at] : 0) << (8 * i);
    return v;
}
static uint8_t u8(reader *r) { return (uint8_t)take(r, 1); }
static uint16_t u16(reader *r) { return (uint16_t)take(r, 2); }
static uint32_t u32(reader *r) { return (uint32_t)take(r, 4); }
static uint64_t u64(reader *r) { return take(r, 8); }
static float f32(reader *r)
{
    uint32_t bits = u32(r);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* GGML block geometry, written out here rather than taken from the library, so the harness is a second opinion. */
static int block_geometry(int32_t type, uint64_t *elems, uint64_t *bytes)
{
    switch (type) {
    case MST_TYPE_F32: *elems = 1, *bytes = 4; return 1;
    case MST_TYPE_F16:
    case MST_TYPE_BF16: *elems = 1, *bytes = 2; return 1;
    case MST_TYPE_Q4_0: *elems = 32, *bytes = 18; return 1;
    case MST_TYPE_Q8_0: *elems = 32, *bytes = 34; return 1;
    case MST_TYPE_Q2_K: *elems = 256, *bytes = 84; return 1;
    case MST_TYPE_Q3_K: *elems = 256, *bytes = 110; return 1;
    case MST_TYPE_Q4_K: *elems = 256, *bytes = 144; return 1;
    case MST_TYPE_Q5_K: *elems = 256, *bytes = 176; return 1;
    case MST_TYPE_Q6_K: *elems = 256, *bytes = 210; return 1;
    default: return 0;
    }
}

/* Bytes a tensor of `type` and shape ne takes, or 0 when the type is unknown, the row is not whole blocks, or it
 * overflows: then the library must refuse the tensor whatever n_bytes says. */
static uint64_t implied_bytes(int32_t type, const int64_t ne[4])
{
    uint64_t be, bb, n;
    if (!block_geometry(type, &be, &bb) || ne[0] <= 0 || (uint64_t)ne[0] % be != 0)
        return 0;
    n = (uint64_t)ne[0] / be * bb;
    for (int i = 1; i < 4; i++)
        if (ne[i] <= 0 || __builtin_mul_overflow(n, (uint64_t)ne[i], &n))
            return 0;
    return n;
}

/* The shape mistral.h's role comments give, in u64 so that products of huge config values stay visible. */
static void role_shape(const mst_model_config *c, int32_t role, int64_t ne[4])
{
    uint64_t q = (uint64_t)c->n_head * c->head_dim, kv = (uint64_t)c->n_head_kv * c->head_dim;
    uint64_t s[3] = {1, 1, 1};
    switch (role) {
    case MST_ROLE_TOKEN_EMBD:
    case MST_ROLE_OUTPUT: s[0] = c->n_embd, s[1] = c->n_vocab; break;
    case MST_ROLE_ATTN_Q: s[0] = c->n_embd, s[1] = q; break;
    case MST_ROLE_ATTN_K:
    case MST_ROLE_ATTN_V: s[0] = c->n_embd, s[1] = kv; break;
    case MST_ROLE_ATTN_OUT: s[0] = q, s[1] = c->n_embd; break;
    case MST_ROLE_FFN_GATE:
    case MST_ROLE_FFN_UP: s[0] = c->n_embd, s[1] = c->n_ff; break;
    case MST_ROLE_FFN_DOWN: s[0] = c->n_ff, s[1] = c->n_embd; break;
    case MST_ROLE_FFN_GATE_INP: s[0] = c->n_embd, s[1] = c->n_expert; break;
    case MST_ROLE_FFN_GATE_EXPS:
    case MST_ROLE_FFN_UP_EXPS: s[0] = c->n_embd, s[1] = c->n_ff, s[2] = c->n_expert; break;
    case MST_ROLE_FFN_DOWN_EXPS: s[0] = c->n_ff, s[1] = c->n_embd, s[2] = c->n_expert; break;
    default: s[0] = c->n_embd; break; /* the norms, and roles that do not exist */
    }
    for (int i = 0; i < 3; i++)
        ne[i] = (int64_t)s[i];
    ne[3] = 1;
}

/* Tensor memory: malloc'd, exactly n_bytes (ASan catches a read one past it). A tensor flagged
 * MST_TENSOR_FILE_MAPPED must be a read-only file mapping (the library may drop its pages with MADV_DONTNEED,
 * which would zero heap memory), so those go into a memfd mapped read-only, ending at a PROT_NONE guard page. */
typedef struct buffer {
    void *data;
    void *map;      /* the whole mapping (file part + guard), or NULL for malloc'd data */
    size_t map_len;
} buffer;

static void fill(uint8_t *dst, uint64_t n, const uint8_t *pool, size_t pool_n, size_t *cursor)
{
    if (pool_n == 0) {
        memset(dst, 0, n);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        dst[i] = pool[*cursor];
        if (++*cursor == pool_n)
            *cursor = 0;
    }
}

static int make_buffer(buffer *b, uint64_t n_bytes, int file_mapped, const uint8_t *pool, size_t pool_n,
                       size_t *cursor)
{
    memset(b, 0, sizeof *b);
    if (!file_mapped) {
        b->data = malloc(n_bytes ? n_bytes : 1);
        if (b->data)
            fill(b->data, n_bytes, pool, pool_n, cursor);
        return b->data != NULL;
    }
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t file_len = (n_bytes + page - 1) / page * page + (n_bytes == 0 ? page : 0);
    int fd = memfd_create("fuzz_tensor", 0);
    if (fd < 0)
        return 0;
    uint8_t *tmp = calloc(1, file_len);
    int ok = tmp && ftruncate(fd, (off_t)file_len) == 0;
    if (ok) {
        fill(tmp + (file_len - n_bytes), n_bytes, pool, pool_n, cursor); /* data ends where the file ends */
        ok = pwrite(fd, tmp, file_len, 0) == (ssize_t)file_len;
    }
    free(tmp);
    void *map = ok ? mmap(NULL, file_len + page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
    if (map != MAP_FAILED && mmap(map, file_len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
        munmap(map, file_len + page);
        map = MAP_FAILED;
    }
    close(fd);
    if (map == MAP_FAILED)
        return 0;
    b->map = map;
    b->map_len = file_len + page;
    b->data = (uint8_t *)map + (file_len - n_bytes);
    return 1;
}

static void free_buffer(buffer *b)
{
    if (b->map)
        munmap(b->map, b->map_len);
    else
        free(b->data);
}

/* Runs the decode calls the input describes on a model that loaded. Every status is acceptable; what matters is
 * that each call returns. */
static void run_model(mst_model *model, const mst_model_config *cfg, uint8_t opts, reader *r)
{
    mst_context_params cp;
    mst_context_params_default(&cp);
    cp.n_ctx = 1 + u8(r) % 64;
    cp.n_batch = 1 + u8(r) % 4;
    cp.n_threads = 1; /* one process, one core: the thread pool's own tests live elsewhere */
    cp.flags = (opts & OPT_CHECK_LAYERS) ? MST_CONTEXT_CHECK_LAYERS : 0;
    cp.kv_type = (opts & OPT_BAD_KV_TYPE) ? MST_TYPE_Q8_0 : (opts & OPT_KV_F32) ? MST_TYPE_F32 : MST_TYPE_F16;
    const unsigned n_calls = 1 + u8(r) % 3;
    const int all_logits = (opts & OPT_ALL_LOGITS) != 0;

    mst_context *ctx = NULL;
    if (report("mst_context_create", mst_context_create(model, &cp, &ctx)) != MST_OK)
        return;
    const uint64_t capacity = (uint64_t)cfg->n_vocab * 3; /* three tokens' worth, enough for all_logits */
    float *logits = malloc(capacity * sizeof(float));
    for (unsigned call = 0; logits && call < n_calls; call++) {
        int32_t tokens[3];
        const unsigned n_tokens = 1 + u8(r) % 3;
        for (unsigned t = 0; t < n_tokens; t++) {
            const uint8_t sel = u8(r);
            const uint32_t id = u32(r);
            tokens[t] = (sel & 1) ? (int32_t)(id % cfg->n_vocab) : (int32_t)id;
        }
        report("mst_decode", mst_decode(ctx, tokens, n_tokens, all_logits, logits, capacity));
    }
    free(logits);
    mst_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size, 0};
    const uint8_t opts = u8(&r);

    mst_model_config cfg;
    mst_model_config_default(&cfg);
    cfg.struct_size = (uint32_t)sizeof cfg + ((opts & OPT_BAD_CONFIG_SIZE) ? 1 : 0);
    cfg.n_vocab = u32(&r);
    cfg.n_embd = u32(&r);
    cfg.n_layer = u32(&r);
    cfg.n_head = u32(&r);
    cfg.n_head_kv = u32(&r);
    cfg.head_dim = u32(&r);
    cfg.n_ff = u32(&r);
    cfg.n_ctx_train = u32(&r);
    cfg.sliding_window = u32(&r);
    cfg.rope_freq_base = f32(&r);
    cfg.rms_norm_eps = f32(&r);
    cfg.n_expert = u32(&r);
    cfg.n_expert_used = u32(&r);
    cfg.layer_windows = NULL;

    mst_model_params params;
    mst_model_params_default(&params);
    if (opts & OPT_PARAMS) {
        params.backend = (int32_t)u32(&r);
        params.device = (int32_t)u32(&r);
        params.flags = u32(&r);
    }

    const unsigned n_tensors = u16(&r);
    if (n_tensors > MAX_TENSORS)
        return 0;
    mst_tensor_desc *descs = calloc(n_tensors ? n_tensors : 1, sizeof *descs);
    uint8_t *file_mapped = calloc(n_tensors ? n_tensors : 1, 1);
    if (!descs || !file_mapped) {
        free(descs);
        free(file_mapped);
        return 0;
    }
    uint64_t total = 0;
    int too_big = 0;
    for (unsigned i = 0; i < n_tensors; i++) {
        mst_tensor_desc *d = &descs[i];
        d->role = (int8_t)u8(&r);
        d->layer = (int16_t)u16(&r);
        d->type = (int8_t)u8(&r);
        d->n_dims = u8(&r);
        d->flags = u8(&r);
        const uint8_t mode = u8(&r);
        d->struct_size = (uint32_t)sizeof *d + ((mode & MODE_BAD_SIZE) ? 1 : 0);
        if (mode & MODE_RAW_NE) {
            for (int k = 0; k < 4; k++)
                d->ne[k] = (int64_t)u64(&r);
        } else {
            role_shape(&cfg, d->role, d->ne);
        }
        d->n_bytes = (mode & MODE_RAW_BYTES) ? u64(&r) : implied_bytes(d->type, d->ne);
        d->data = (mode & MODE_NULL_DATA) ? NULL : (const void *)1; /* placeholder: allocated below */
        file_mapped[i] = (d->flags & MST_TENSOR_FILE_MAPPED) != 0;
        if (d->data && (__builtin_add_overflow(total, d->n_bytes, &total) || total > MAX_TOTAL_BYTES))
            too_big = 1;
    }
    /* Everything after the table describes the context and the decode calls; read those now so that the pool
     * (the rest of the input) has a fixed start. Decode bytes past the pool's start are re-read by run_model. */
    const size_t ctx_at = r.at;
    reader tail = r;
    (void)u8(&tail), (void)u8(&tail);
    const unsigned n_calls = 1 + u8(&tail) % 3;
    for (unsigned c = 0; c < n_calls; c++) {
        const unsigned n_tok = 1 + u8(&tail) % 3;
        tail.at += 5u * n_tok;
    }
    uint32_t *windows = NULL;
    if (!too_big && (opts & OPT_WINDOWS)) {
        if (cfg.n_layer > MAX_WINDOWS) {
            too_big = 1; /* the caller must pass n_layer entries; more than this is the harness's limit */
        } else if ((windows = calloc(cfg.n_layer ? cfg.n_layer : 1, sizeof *windows)) != NULL) {
            for (uint32_t l = 0; l < cfg.n_layer; l++)
                windows[l] = u32(&tail);
            cfg.layer_windows = windows;
        }
    }
    const size_t pool_at = tail.at < size ? tail.at : size;
    if (too_big) {
        free(windows);
        free(descs);
        free(file_mapped);
        return 0;
    }

    buffer *bufs = calloc(n_tensors ? n_tensors : 1, sizeof *bufs);
    size_t cursor = 0;
    int ok = bufs != NULL;
    for (unsigned i = 0; ok && i < n_tensors; i++) {
        if (!descs[i].data)
            continue;
        ok = make_buffer(&bufs[i], descs[i].n_bytes, file_mapped[i], data + pool_at, size - pool_at, &cursor);
        descs[i].data = bufs[i].data;
    }

    if (ok) {
        mst_model *model = NULL;
        mst_status st = (opts & OPT_PARAMS) ? mst_model_create_with(&cfg, descs, n_tensors, &params, &model)
                                            : mst_model_create(&cfg, descs, n_tensors, &model);
        if (report("mst_model_create", st) == MST_OK) {
            reader ctx_reader = {data, size, ctx_at};
            run_model(model, &cfg, opts, &ctx_reader);
            mst_model_free(model);
        }
    }

    for (unsigned i = 0; bufs && i < n_tensors; i++)
        if (bufs[i].data)
            free_buffer(&bufs[i]);
    free(bufs);
    free(windows);
    free(descs);
    free(file_mapped);
    return 0;
}
