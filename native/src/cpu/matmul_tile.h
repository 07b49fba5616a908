/* matmul_tile.h — the loop nest shared by the SIMD matmul variants.
 *
 * Included inside a file's `#pragma GCC target` region so the row kernels inline. A row kernel
 * computes one weight row against NT tokens at once (NT = 4 or 1, a compile-time constant after
 * inlining), so a row is decoded once per 4 tokens. Rows are walked in tiles of about
 * MST_TILE_BYTES, and every token group runs over a tile while it is still in L2: for prefill the
 * matrix is streamed from memory once, not once per token. */
#ifndef MST_MATMUL_TILE_H
#define MST_MATMUL_TILE_H

#define MST_TILE_BYTES (256u * 1024u)
#define MST_AI static inline __attribute__((always_inline))

#define MST_DEFINE_MATMUL(fn_name, row_kernel)                                                              \
    void fn_name(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,           \
                 uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1)                                       \
    {                                                                                                        \
        uint32_t tile = row_bytes >= MST_TILE_BYTES ? 1u : (uint32_t)(MST_TILE_BYTES / row_bytes);          \
        for (uint32_t rb = r0; rb < r1; rb += tile) {                                                        \
            uint32_t re = r1 - rb < tile ? r1 : rb + tile;                                                   \
            uint32_t t = 0;                                                                                  \
            for (; t + 4 <= n_tokens; t += 4)                                                                \
                for (uint32_t r = rb; r < re; r++)                                                           \
                    row_kernel(w + (size_t)r * row_bytes, cols, x + (size_t)t * cols, cols,                  \
                               y + (size_t)t * rows + r, rows, 4);                                           \
            for (; t < n_tokens; t++)                                                                        \
                for (uint32_t r = rb; r < re; r++)                                                           \
                    row_kernel(w + (size_t)r * row_bytes, cols, x + (size_t)t * cols, cols,                  \
                               y + (size_t)t * rows + r, rows, 1);                                           \
        }                                                                                                    \
    }

/* The same loop nest for kernels on quantized activations (quant_act.h): row kernels take the
 * activation set and the first token of the group instead of float pointers. */
#define MST_DEFINE_MATMUL_QA(fn_name, row_kernel)                                                           \
    void fn_name(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y, uint32_t r0, \
                 uint32_t r1)                                                                                 \
    {                                                                                                        \
        const uint32_t n_tokens = x->n_tokens;                                                               \
        uint32_t tile = row_bytes >= MST_TILE_BYTES ? 1u : (uint32_t)(MST_TILE_BYTES / row_bytes);          \
        for (uint32_t rb = r0; rb < r1; rb += tile) {                                                        \
            uint32_t re = r1 - rb < tile ? r1 : rb + tile;                                                   \
            uint32_t t = 0;                                                                                  \
            for (; t + 4 <= n_tokens; t += 4)                                                                \
                for (uint32_t r = rb; r < re; r++)                                                           \
                    row_kernel(w + (size_t)r * row_bytes, x, t, y + (size_t)t * rows + r, rows, 4);          \
            for (; t < n_tokens; t++)                                                                        \
                for (uint32_t r = rb; r < re; r++)                                                           \
                    row_kernel(w + (size_t)r * row_bytes, x, t, y + (size_t)t * rows + r, rows, 1);          \
        }                                                                                                    \
    }

/* As MST_DEFINE_MATMUL_QA, for kernels that take 2 rows at once (rows2(row, row_bytes, x, t, y, ys, NR, NT)
 * with NR = 2, or 1 for a last odd row): an activation load then feeds two rows. Decode (one token) keeps
 * one row at a time, where activations come from L1 and the weights are the whole cost. */
#define MST_DEFINE_MATMUL_QA2(fn_name, rows_kernel)                                                         \
    void fn_name(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y, uint32_t r0, \
                 uint32_t r1)                                                                                 \
    {                                                                                                        \
        const uint32_t n_tokens = x->n_tokens;                                                               \
        uint32_t tile = row_bytes * 4 >= MST_TILE_BYTES ? 2u : (uint32_t)(MST_TILE_BYTES / row_bytes) & ~1u; \
        for (uint32_t rb = r0; rb < r1; rb += tile) {                                                        \
            uint32_t re = r1 - rb < tile ? r1 : rb + tile;                                                   \
            uint32_t t = 0;                                                                                  \
            for (; t + 4 <= n_tokens; t += 4) {                                                              \
                uint32_t r = rb;                                                                             \
                for (; r + 2 <= re; r += 2)                                                                  \
                    rows_kernel(w + (size_t)r * row_bytes, row_bytes, x, t, y + (size_t)t * rows + r, rows, 2, 4); \
                if (r < re)                                                                                  \
                    rows_kernel(w + (size_t)r * row_bytes, row_bytes, x, t, y + (size_t)t * rows + r, rows, 1, 4); \
            }                                                                                                \
            for (; t < n_tokens; t++)                                                                        \
                for (uint32_t r = rb; r < re; r++)                                                           \
                    rows_kernel(w + (size_t)r * row_bytes, row_bytes, x, t, y + (size_t)t * rows + r, rows, 1, 1); \
        }                                                                                                    \
    }

/* The x16 kernels below keep the 16 rows of a group in an accumulator of MST_X16_ACC: by default one
 * __m512 (AVX-512 files); a file for narrower vectors defines all four names before including this header.
 * MST_X16_NT_MAX is the largest token group of prefill (8, or 4 where 8 would spill the registers). */
#ifndef MST_X16_ACC
#define MST_X16_ACC __m512
#define MST_X16_ZERO() _mm512_setzero_ps()
#define MST_X16_STORE(y, a) _mm512_storeu_ps(y, a)
#define MST_X16_NT_MAX 8
#endif

/* The walk both decode forms share: groups [g0, g1) as 4 streams q groups apart, step_fn(p, x, b, acc) running
 * column block b of the 4 streams at p[0..3] into acc[0..3]; then the (g1 - g0) % 4 groups left, one stream,
 * unit1_fn(u, x, b, &acc) per block, each unit asked for ahead_bytes ahead. */
#define MST_X16_DECODE_WALK(fn_name, step_fn, unit1_fn, unit_bytes, ahead_bytes)                           \
    static void fn_name(const uint8_t *w, size_t gbytes, uint32_t nb, const mst_qact *x, float *y, uint32_t g0, \
                        uint32_t g1)                                                                       \
    {                                                                                                      \
        enum { S = 4 };                                                                                    \
        const uint32_t q = (g1 - g0) / S;                                                                  \
        uint32_t g = g0;                                                                                   \
        for (; q > 0 && g < g0 + q; g++) {                                                                 \
            const uint8_t *p[S];                                                                           \
            MST_X16_ACC acc[S];                                                                            \
            for (int s = 0; s < S; s++) {                                                                  \
                p[s] = w + (size_t)(g + s * q) * gbytes;                                                   \
                acc[s] = MST_X16_ZERO();                                                                   \
            }                                                                                              \
            for (uint32_t b = 0; b < nb; b++)                                                              \
                step_fn(p, x, b, acc);                                                                     \
            for (int s = 0; s < S; s++)                                                                    \
                MST_X16_STORE(y + (size_t)(g + s * q) * 16, acc[s]);                                       \
        }                                                                                                  \
        for (g = g0 + S * q; g < g1; g++) { /* the last (g1 - g0) % 4 groups: one stream */                \
            const uint8_t *p = w + (size_t)g * gbytes;                                                     \
            MST_X16_ACC acc = MST_X16_ZERO();                                                              \
            for (uint32_t b = 0; b < nb; b++) {                                                            \
                const uint8_t *u = p + (size_t)b * (unit_bytes);                                           \
                for (int k = 0; k < (unit_bytes); k += 64)                                                 \
                    _mm_prefetch((const char *)(u + (ahead_bytes) + k), _MM_HINT_T0);                      \
                unit1_fn(u, x, b, &acc);                                                                   \
            }                                                                                              \
            MST_X16_STORE(y + (size_t)g * 16, acc);                                                        \
        }                                                                                                  \
    }

/* One token (decode) through 16-row groups [g0, g1) of a repacked matrix (repack.h), each group gbytes long
 * and made of nb units of unit_bytes, one per column block. Decode reads the whole matrix from memory once,
 * and one sequential stream per core leaves bandwidth unused: a one-stream kernel reads well below a plain
 * read of the same bytes. So the groups are split into 4 ranges walked in lockstep: 4 memory streams, 4
 * independent accumulator chains, which read at or near the plain read's rate (benchmarks/RESULTS.md).
 * Each stream asks for
 * its unit ahead_bytes ahead so the load latency overlaps the arithmetic.
 * unit_fn(p, x, b, &acc) adds column block b of the group at p to acc with exactly the operations of the
 * tiled path for one token, so decode and prefill give bit-identical rows. */
#define MST_DEFINE_DECODE_STREAMS(fn_name, unit_fn, unit_bytes, ahead_bytes)                               \
    MST_AI void fn_name##_step(const uint8_t *const *p, const mst_qact *x, uint32_t b, MST_X16_ACC *acc)    \
    {                                                                                                      \
        for (int s = 0; s < 4; s++) {                                                                      \
            const uint8_t *u = p[s] + (size_t)b * (unit_bytes);                                            \
            for (int k = 0; k < (unit_bytes); k += 64)                                                     \
                _mm_prefetch((const char *)(u + (ahead_bytes) + k), _MM_HINT_T0);                          \
            unit_fn(u, x, b, &acc[s]);                                                                     \
        }                                                                                                  \
    }                                                                                                      \
    MST_X16_DECODE_WALK(fn_name, fn_name##_step, unit_fn, unit_bytes, ahead_bytes)

/* The whole matmul over 16-row groups of a repacked matrix (r0, r1 multiples of 16 or r1 = rows), whose
 * units each cover block_cols columns: decode (one token) through decode_fn (a MST_DEFINE_DECODE_STREAMS
 * function), prefill in tiles of about MST_TILE_BYTES of groups, each tile run by groups of 8 tokens, then
 * 4, then 1, while it stays in L2 (8 tokens per decoded unit are faster than 4 for the Q4_0 and K-quant
 * kernels, benchmarks/RESULTS.md; 12 spills registers). group_fn(g, nb, x, t, y, ys, NT) writes tokens t..t+NT-1 of the
 * 16 rows of the group at g, nb units long. */
#define MST_DEFINE_MATMUL_X16_QA(fn_name, group_fn, decode_fn, block_cols)                                 \
    void fn_name(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y, uint32_t r0, \
                 uint32_t r1)                                                                              \
    {                                                                                                      \
        const uint32_t n_tokens = x->n_tokens, nb = x->cols / (block_cols);                                \
        const size_t gbytes = (size_t)16 * row_bytes;                                                      \
        const uint32_t tile = gbytes >= MST_TILE_BYTES ? 1u : (uint32_t)(MST_TILE_BYTES / gbytes);         \
        const uint32_t g0 = r0 / 16, g1 = (r1 + 15) / 16;                                                  \
        if (n_tokens == 1) {                                                                               \
            decode_fn(w, gbytes, nb, x, y, g0, g1);                                                        \
            return;                                                                                        \
        }                                                                                                  \
        for (uint32_t gb = g0; gb < g1; gb += tile) {                                                      \
            const uint32_t ge = g1 - gb < tile ? g1 : gb + tile;                                           \
            uint32_t t = 0;                                                                                \
            for (; MST_X16_NT_MAX >= 8 && t + 8 <= n_tokens; t += 8)                                       \
                for (uint32_t g = gb; g < ge; g++)                                                         \
                    group_fn(w + g * gbytes, nb, x, t, y + (size_t)t * rows + (size_t)g * 16, rows, 8);    \
            for (; t + 4 <= n_tokens; t += 4)                                                              \
                for (uint32_t g = gb; g < ge; g++)                                                         \
                    group_fn(w + g * gbytes, nb, x, t, y + (size_t)t * rows + (size_t)g * 16, rows, 4);    \
            for (; t < n_tokens; t++)                                                                      \
                for (uint32_t g = gb; g < ge; g++)                                                         \
                    group_fn(w + g * gbytes, nb, x, t, y + (size_t)t * rows + (size_t)g * 16, rows, 1);    \
        }                                                                                                  \
    }

/* The group walk over one unit function unit_fn(p, x, t, b, acc, NT), which adds column block b of the
 * group unit at p for tokens t..t+NT-1 into acc[0..NT): fn_name##_group(g, nb, x, t, y, ys, NT), for the
 * tiled driver. It asks for the unit ahead_units ahead (the first token group of a tile streams it from
 * memory). */
#define MST_DEFINE_X16_GROUP(fn_name, unit_fn, unit_bytes, ahead_units)                                    \
    MST_AI void fn_name##_group(const uint8_t *g, uint32_t nb, const mst_qact *x, size_t t, float *y, size_t ys, \
                                const int NT)                                                              \
    {                                                                                                      \
        MST_X16_ACC acc[8];                                                                                \
        for (int u = 0; u < NT; u++)                                                                       \
            acc[u] = MST_X16_ZERO();                                                                       \
        for (uint32_t b = 0; b < nb; b++) {                                                                \
            const uint8_t *p = g + (size_t)b * (unit_bytes);                                               \
            for (int k = 0; k < (unit_bytes); k += 64)                                                     \
                _mm_prefetch((const char *)(p + (ahead_units) * (unit_bytes) + k), _MM_HINT_T0);           \
            unit_fn(p, x, t, b, acc, NT);                                                                  \
        }                                                                                                  \
        for (int u = 0; u < NT; u++)                                                                       \
            MST_X16_STORE(y + u * ys, acc[u]);                                                             \
    }

/* A whole x16 kernel from one unit function unit_fn (as for MST_DEFINE_X16_GROUP): the group walk, the
 * 4-stream decode and the tiled driver. Both walks ask for the unit ahead_units ahead: the 288/544-byte
 * Q4_0/Q8_0 units use 32 (9-17 KB; of 0/16/32/64/128 units tried for Q4_0 decode, 0 was clearly worst and
 * 32 best in a noisy run). Decode runs unit_fn with NT = 1, so one token equals its row of a batch bit for
 * bit. */
#define MST_DEFINE_X16_QA_FROM_UNIT(fn_name, unit_fn, unit_bytes, block_cols, ahead_units)                 \
    MST_DEFINE_X16_GROUP(fn_name, unit_fn, unit_bytes, ahead_units)                                        \
    MST_AI void fn_name##_unit1(const uint8_t *p, const mst_qact *x, uint32_t b, MST_X16_ACC *acc)         \
    {                                                                                                      \
        unit_fn(p, x, 0, b, acc, 1);                                                                       \
    }                                                                                                      \
    MST_DEFINE_DECODE_STREAMS(fn_name##_decode, fn_name##_unit1, unit_bytes, (ahead_units) * (unit_bytes)) \
    MST_DEFINE_MATMUL_X16_QA(fn_name, fn_name##_group, fn_name##_decode, block_cols)

/* A whole x16 kernel for the large K-quant units (2.3-3.4 KB), whose unit is a head then npass passes:
 *   head_fn(p, x, t, b, st, acc, NT)    reads the unit's first head_bytes, sets up the state *st;
 *   pass_fn(p, x, t, b, k, st, NT)      pass k (a constant once unrolled) over pass_bytes at
 *                                       head_bytes + k·pass_bytes;
 *   end_fn(p, x, t, b, st, acc, NT)     adds the unit's sum into acc[0..NT).
 * Prefill runs them in that order, unit by unit. Decode runs the 4 streams of MST_DEFINE_DECODE_STREAMS
 * interleaved inside the unit: the heads of the 4 streams, then pass 0 of each, pass 1 of each, and so
 * on, so every stream is read in bursts of one pass (192-256 bytes) rather than of one whole unit. Each
 * stream's state is its own, and every stream sees exactly the operations of prefill for one token in the
 * same order, so decode stays bit-identical to its row of a batch. Why: the L2 streamer prefetches only a
 * short distance ahead per stream, so one stream read 36 lines at a time leaves the others idle; interleaved,
 * the same arithmetic reads markedly faster, bit for bit the same output (benchmarks/RESULTS.md). Each visit
 * asks for its lines ahead_units units ahead in the same stream (4: 9-13 KB), further than the streamer
 * runs on its own; without that software prefetch decode is slower. */
#define MST_DEFINE_X16_QA_FROM_PASSES(fn_name, state_t, head_fn, pass_fn, end_fn, unit_bytes, head_bytes, npass, \
                                      pass_bytes, block_cols, ahead_units)                                 \
    MST_DEFINE_X16_QA_FROM_PASSES_PREFILL(fn_name, state_t, head_fn, pass_fn, end_fn, fn_name##_unit, unit_bytes, \
                                          head_bytes, npass, pass_bytes, block_cols, ahead_units)

/* As MST_DEFINE_X16_QA_FROM_PASSES, with prefill's token groups run by prefill_fn(p, x, t, b, acc, NT) (a unit
 * function as for MST_DEFINE_X16_GROUP) instead of head, passes and end: for kernels whose prefill walks a unit
 * in another order than decode's pass split allows. prefill_fn must do per lane exactly the float operations of
 * head/passes/end for one token, so a token alone (decode) still equals its row of a batch bit for bit. */
#define MST_DEFINE_X16_QA_FROM_PASSES_PREFILL(fn_name, state_t, head_fn, pass_fn, end_fn, prefill_fn, unit_bytes, \
                                              head_bytes, npass, pass_bytes, block_cols, ahead_units)      \
    MST_AI void fn_name##_unit(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, MST_X16_ACC *acc, const int NT) \
    {                                                                                                      \
        state_t st;                                                                                        \
        head_fn(p, x, t, b, &st, acc, NT);                                                                 \
        _Pragma("GCC unroll 16") for (int k = 0; k < (npass); k++) pass_fn(p, x, t, b, k, &st, NT);        \
        end_fn(p, x, t, b, &st, acc, NT);                                                                  \
    }                                                                                                      \
    MST_DEFINE_X16_GROUP(fn_name, prefill_fn, unit_bytes, ahead_units)                                     \
    MST_AI void fn_name##_visit(const uint8_t *u, size_t off, size_t len)                                  \
    {                                                                                                      \
        for (size_t k = 0; k < len; k += 64)                                                               \
            _mm_prefetch((const char *)(u + (ahead_units) * (unit_bytes) + off + k), _MM_HINT_T0);         \
    }                                                                                                      \
    MST_AI void fn_name##_step(const uint8_t *const *p, const mst_qact *x, uint32_t b, MST_X16_ACC *acc)    \
    {                                                                                                      \
        const uint8_t *u[4];                                                                               \
        state_t st[4];                                                                                     \
        _Pragma("GCC unroll 4") for (int s = 0; s < 4; s++) {                                              \
            u[s] = p[s] + (size_t)b * (unit_bytes);                                                        \
            fn_name##_visit(u[s], 0, (head_bytes));                                                        \
            head_fn(u[s], x, 0, b, &st[s], &acc[s], 1);                                                    \
        }                                                                                                  \
        _Pragma("GCC unroll 16") for (int k = 0; k < (npass); k++)                                         \
            _Pragma("GCC unroll 4") for (int s = 0; s < 4; s++) {                                          \
                fn_name##_visit(u[s], (head_bytes) + (size_t)k * (pass_bytes), (pass_bytes));              \
                pass_fn(u[s], x, 0, b, k, &st[s], 1);                                                      \
            }                                                                                              \
        _Pragma("GCC unroll 4") for (int s = 0; s < 4; s++) end_fn(u[s], x, 0, b, &st[s], &acc[s], 1);    \
    }                                                                                                      \
    MST_AI void fn_name##_unit1(const uint8_t *p, const mst_qact *x, uint32_t b, MST_X16_ACC *acc)         \
    {                                                                                                      \
        fn_name##_unit(p, x, 0, b, acc, 1);                                                                \
    }                                                                                                      \
    MST_X16_DECODE_WALK(fn_name##_decode, fn_name##_step, fn_name##_unit1, unit_bytes,                     \
                        (ahead_units) * (unit_bytes))                                                      \
    MST_DEFINE_MATMUL_X16_QA(fn_name, fn_name##_group, fn_name##_decode, block_cols)

#endif
