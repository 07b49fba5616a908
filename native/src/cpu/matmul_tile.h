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

#endif
