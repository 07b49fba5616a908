/* quant.c — weight types: sizes, scalar half/bfloat conversions, reference dequantization. */
#include <string.h>

#include "quant.h"
#include "quant_k.h"

int mst_type_supported(int32_t type)
{
    return type == MST_TYPE_F32 || type == MST_TYPE_F16 || type == MST_TYPE_BF16 || type == MST_TYPE_Q8_0 ||
           type == MST_TYPE_Q4_0 || mst_type_is_k(type);
}

const char *mst_type_name(int32_t type)
{
    switch (type) {
    case MST_TYPE_F32: return "F32";
    case MST_TYPE_F16: return "F16";
    case MST_TYPE_BF16: return "BF16";
    case MST_TYPE_Q8_0: return "Q8_0";
    case MST_TYPE_Q4_0: return "Q4_0";
    case MST_TYPE_Q2_K: return "Q2_K";
    case MST_TYPE_Q3_K: return "Q3_K";
    case MST_TYPE_Q4_K: return "Q4_K";
    case MST_TYPE_Q5_K: return "Q5_K";
    case MST_TYPE_Q6_K: return "Q6_K";
    default: return "unsupported type";
    }
}

uint32_t mst_type_block_size(int32_t type)
{
    if (mst_type_is_k(type))
        return MST_QK_K;
    return (type == MST_TYPE_Q8_0 || type == MST_TYPE_Q4_0) ? MST_QK : 1;
}

uint32_t mst_type_block_bytes(int32_t type)
{
    switch (type) {
    case MST_TYPE_F32: return 4;
    case MST_TYPE_F16: return 2;
    case MST_TYPE_BF16: return 2;
    case MST_TYPE_Q8_0: return sizeof(mst_block_q8_0);
    case MST_TYPE_Q4_0: return sizeof(mst_block_q4_0);
    case MST_TYPE_Q2_K: return MST_Q2_K_BYTES;
    case MST_TYPE_Q3_K: return MST_Q3_K_BYTES;
    case MST_TYPE_Q4_K: return MST_Q4_K_BYTES;
    case MST_TYPE_Q5_K: return MST_Q5_K_BYTES;
    case MST_TYPE_Q6_K: return MST_Q6_K_BYTES;
    default: return 0;
    }
}

int mst_type_bytes(int32_t type, uint64_t n, uint64_t *out_bytes)
{
    uint32_t bs = mst_type_block_size(type);
    if (!mst_type_supported(type) || n % bs != 0)
        return 0;
    return !__builtin_mul_overflow(n / bs, (uint64_t)mst_type_block_bytes(type), out_bytes);
}

static inline float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t float_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float mst_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24 is exact in float */
        float f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    }
    if (exp == 31)
        return bits_to_float(sign | 0x7f800000u | (mant << 13)); /* inf, or nan with its payload */
    return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t mst_fp32_to_fp16(float f)
{
    uint32_t bits = float_to_bits(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu)); /* quiet nan, payload kept where it fits */
    if (abs >= 0x477ff000u) /* 65520 and up round to infinity */
        return (uint16_t)(sign | 0x7c00u);
    uint32_t e = abs >> 23;
    if (abs < 0x38800000u) {
        /* below the smallest normal half: a subnormal, counted in units of 2^-24 */
        uint32_t shift = 126u - e;
        if (shift > 24)
            return sign;
        uint32_t m = (abs & 0x7fffffu) | 0x800000u;
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = ((e - 112u) << 10) | ((abs & 0x7fffffu) >> 13);
    uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u)))
        q++; /* a carry into the exponent is the right answer */
    return (uint16_t)(sign | q);
}

float mst_bf16_to_fp32(uint16_t b)
{
    return bits_to_float((uint32_t)b << 16);
}

uint16_t mst_fp32_to_bf16(float f)
{
    uint32_t bits = float_to_bits(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((bits >> 16) | 0x40u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

void mst_dequantize_ref(int32_t type, const void *src, uint64_t n, float *dst)
{
    const uint8_t *p = src;
    switch (type) {
    case MST_TYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case MST_TYPE_F16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = mst_fp16_to_fp32(mst_read_u16(p + 2 * i));
        break;
    case MST_TYPE_BF16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = mst_bf16_to_fp32(mst_read_u16(p + 2 * i));
        break;
    case MST_TYPE_Q8_0:
        for (uint64_t b = 0; b < n / MST_QK; b++, p += sizeof(mst_block_q8_0)) {
            float d = mst_fp16_to_fp32(mst_read_u16(p));
            const int8_t *qs = (const int8_t *)(p + 2);
            for (int i = 0; i < MST_QK; i++)
                dst[b * MST_QK + i] = d * (float)qs[i];
        }
        break;
    case MST_TYPE_Q4_0:
        for (uint64_t b = 0; b < n / MST_QK; b++, p += sizeof(mst_block_q4_0)) {
            float d = mst_fp16_to_fp32(mst_read_u16(p));
            const uint8_t *qs = p + 2;
            for (int j = 0; j < MST_QK / 2; j++) {
                dst[b * MST_QK + j] = d * (float)((qs[j] & 0x0f) - 8);
                dst[b * MST_QK + j + MST_QK / 2] = d * (float)((qs[j] >> 4) - 8);
            }
        }
        break;
    case MST_TYPE_Q2_K:
    case MST_TYPE_Q3_K:
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q5_K:
    case MST_TYPE_Q6_K:
        mst_dequantize_k(type, p, n / MST_QK_K, dst);
        break;
    default:
        break;
    }
}
