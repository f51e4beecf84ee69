package io.peft4j.plugins.nf4;

import ai.djl.ndarray.NDArray;

/**
 * Blockwise absmax quantization as bitsandbytes does it, in plain float32 Java arithmetic (bit-exact with the
 * golden vectors; Java {@code float} operations are IEEE binary32 with round-to-nearest-even).
 *
 * <p>For a code book {@code code} (sorted ascending) and a block size {@code B}, the flat input {@code x} is split
 * into blocks of {@code B} consecutive values (the last block may be partial and has its own statistic):
 * <pre>
 *   absmax[b] = max_{i in block b} |x[i]|                                  (float32)
 *   t[i]      = clamp(x[i] * (1 / absmax[b]), -1, 1)                       (float32 reciprocal, then multiply)
 *   q[i]      = #{ k : mid[k] &lt; t[i] },   mid[k] = (code[k] + code[k+1]) / 2   (float32)
 * </pre>
 * (the CUDA kernel's form; bnb's portable path divides instead for a partial tail block, which agrees on all golden
 * data), i.e. the nearest code value, a value exactly on a midpoint going to the <b>lower</b> index (torch
 * {@code bucketize(right=False)}, the CUDA kernel's strict {@code >}). An all-zero block has absmax 0 and every
 * value maps to the code of 0 (bnb's portable path divides by {@code max(absmax, 1e-38)}; the platform adopts that
 * result, golden {@code nf4_zero_block}). Dequantization is {@code x̂[i] = code[q[i]] · absmax[b]} in float32.
 *
 * <p>NF4 packs two 4-bit indices per byte, element {@code 2k} in the high nibble and {@code 2k+1} in the low
 * nibble; an odd length is padded with the index of 0.0 (7). The 8-bit variant ({@link #quantize8}) stores one
 * byte per value. Double quantization ({@link #doubleQuantize}) applies the 8-bit variant to
 * {@code absmax - mean(absmax)}.
 */
public final class BlockwiseQuantization {
    /** Valid 4-bit block sizes (bitsandbytes {@code quantize_4bit}). */
    public static final int[] VALID_BLOCKSIZES = {32, 64, 128, 256, 512, 1024, 2048, 4096};

    private static final float[] NF4_MIDPOINTS = midpoints(Nf4Codes.NF4);
    private static final float[] DYNAMIC_MIDPOINTS = midpoints(Nf4Codes.DYNAMIC_8BIT);

    private BlockwiseQuantization() {
    }

    /**
     * The values of a weight to quantize, as float32, after the checks both formats need: at least one and at most
     * {@code Integer.MAX_VALUE - 1} elements, a floating dtype, no NaN or infinity (which would poison a block's
     * absmax). Messages start with {@code format} ({@code nf4:}, {@code int8:}).
     */
    static float[] checkedValues(String format, NDArray weight) {
        long size = weight.size();
        if (size == 0) {
            throw new IllegalArgumentException(format + ": cannot quantize a tensor with 0 elements (shape "
                    + weight.getShape() + ")");
        }
        if (size > Integer.MAX_VALUE - 1) {
            throw new IllegalArgumentException(format + ": tensor of " + size + " elements is too large (at most "
                    + (Integer.MAX_VALUE - 1) + " per weight)");
        }
        if (!weight.getDataType().isFloating()) {
            throw new IllegalArgumentException(format + ": expected a floating-point weight, got "
                    + weight.getDataType());
        }
        float[] x = SavedQuantState.floats(format + " weight", weight);
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) {
                throw new IllegalArgumentException(format + ": weight " + weight.getShape()
                        + " holds a non-finite value (" + x[i] + ") at flat index " + i);
            }
        }
        return x;
    }

    /** Result of 8-bit blockwise quantization: one code index per value and one absmax per block. */
    public record Blockwise8(byte[] quantized, float[] absmax, int blocksize) {
    }

    /**
     * Double-quantized statistics: {@code absmax'[j] = DYNAMIC[q[j]] · blocks.absmax[j / nestedBlocksize] + offset}.
     */
    public record DoubleQuantized(Blockwise8 blocks, float offset) {
    }

    public static boolean isValidBlocksize(long b) {
        for (int v : VALID_BLOCKSIZES) {
            if (v == b) {
                return true;
            }
        }
        return false;
    }

    /** Throws a {@link io.peft4j.api.ConfigException} on {@code blocksize} unless it is a valid block size. */
    static void checkBlocksize(int b) {
        if (!isValidBlocksize(b)) {
            throw new io.peft4j.api.ConfigException("blocksize", "expected one of 32, 64, 128, 256, 512, 1024, "
                    + "2048, 4096; got " + b);
        }
    }

    /** Number of blocks of {@code blocksize} needed for {@code n} values: {@code ceil(n / blocksize)}. */
    public static int blockCount(long n, int blocksize) {
        return (int) ((n + blocksize - 1) / blocksize);
    }

    /** Midpoints {@code (code[k] + code[k+1]) / 2} in float32; {@code code} must be sorted ascending. */
    static float[] midpoints(float[] code) {
        float[] mid = new float[code.length - 1];
        for (int k = 0; k < mid.length; k++) {
            mid[k] = (code[k] + code[k + 1]) / 2f;
        }
        return mid;
    }

    /** The number of midpoints strictly below {@code t}: the nearest code index, ties to the lower one. */
    static int nearest(float[] mid, float t) {
        int lo = 0;
        int hi = mid.length;   // answer in [lo, hi]
        while (lo < hi) {
            int m = (lo + hi) >>> 1;
            if (mid[m] < t) {
                lo = m + 1;
            } else {
                hi = m;
            }
        }
        return lo;
    }

    /** Per-block {@code max |x|}. */
    public static float[] absmax(float[] x, int blocksize) {
        float[] a = new float[blockCount(x.length, blocksize)];
        for (int b = 0; b < a.length; b++) {
            int end = Math.min(x.length, (b + 1) * blocksize);
            float m = 0f;
            for (int i = b * blocksize; i < end; i++) {
                m = Math.max(m, Math.abs(x[i]));
            }
            a[b] = m;
        }
        return a;
    }

    /** {@code clamp(x · inv, -1, 1)}, with {@code inv = 1/absmax}; a zero block scales to 0. */
    private static float scaled(float x, float absmax, float inv) {
        if (absmax == 0f) {
            return 0f;
        }
        float t = x * inv;
        return t < -1f ? -1f : (t > 1f ? 1f : t);
    }

    /**
     * NF4-quantizes {@code x} with the given per-block {@code absmax} (from {@link #absmax}) and packs the indices:
     * returns {@code (x.length + 1) / 2} bytes, element {@code 2k} in the high nibble.
     */
    public static byte[] quantizeNf4(float[] x, float[] absmax, int blocksize) {
        int n = x.length;
        byte[] packed = new byte[(n + 1) / 2];
        for (int b = 0; b < absmax.length; b++) {
            float a = absmax[b];
            float inv = 1f / a;
            int end = Math.min(n, (b + 1) * blocksize);
            for (int i = b * blocksize; i < end; i++) {
                int q = nearest(NF4_MIDPOINTS, scaled(x[i], a, inv));
                int k = i >> 1;
                packed[k] = (byte) ((i & 1) == 0 ? (q << 4) | (packed[k] & 0x0f) : (packed[k] & 0xf0) | q);
            }
        }
        if ((n & 1) == 1) {
            packed[n >> 1] = (byte) ((packed[n >> 1] & 0xf0) | Nf4Codes.NF4_ZERO_INDEX);
        }
        return packed;
    }

    /** Reference NF4 dequantization in Java: {@code code4[q[i]] · absmax[i / blocksize]} for {@code i < n}. */
    public static float[] dequantizeNf4(byte[] packed, float[] absmax, int blocksize, int n, float[] code4) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            int p = packed[i >> 1] & 0xff;
            int q = (i & 1) == 0 ? p >>> 4 : p & 0x0f;
            out[i] = code4[q] * absmax[i / blocksize];
        }
        return out;
    }

    /**
     * 8-bit blockwise quantization of {@code v} with the signed dynamic map ({@link Nf4Codes#DYNAMIC_8BIT}):
     * per block {@code absmax = max|v|}, {@code q = nearest(clamp(v · (1/absmax)))}, one byte per value.
     */
    public static Blockwise8 quantize8(float[] v, int blocksize) {
        float[] absmax = absmax(v, blocksize);
        byte[] q = new byte[v.length];
        for (int b = 0; b < absmax.length; b++) {
            float a = absmax[b];
            float inv = 1f / a;
            int end = Math.min(v.length, (b + 1) * blocksize);
            for (int i = b * blocksize; i < end; i++) {
                q[i] = (byte) nearest(DYNAMIC_MIDPOINTS, scaled(v[i], a, inv));
            }
        }
        return new Blockwise8(q, absmax, blocksize);
    }

    /** {@code code8[q[i]] · absmax[i / blocksize] + offset} in float32 (multiply, then add, as torch does). */
    public static float[] dequantize8(Blockwise8 b, float offset, float[] code8) {
        float[] out = new float[b.quantized().length];
        for (int i = 0; i < out.length; i++) {
            out[i] = code8[b.quantized()[i] & 0xff] * b.absmax()[i / b.blocksize()] + offset;
        }
        return out;
    }

    /**
     * Double quantization of the NF4 statistics: {@code offset = mean(absmax)} (float32, torch's summation
     * order), then {@link #quantize8} of {@code absmax - offset} (float32 subtraction) with {@code nestedBlocksize}.
     */
    public static DoubleQuantized doubleQuantize(float[] absmax, int nestedBlocksize) {
        float offset = mean(absmax);
        float[] v = new float[absmax.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = absmax[i] - offset;
        }
        return new DoubleQuantized(quantize8(v, nestedBlocksize), offset);
    }

    /** {@code torch.mean} of a float32 vector, in torch's CPU summation order ({@link TorchFloatSum}). */
    static float mean(float[] x) {
        return TorchFloatSum.mean(x);
    }
}
