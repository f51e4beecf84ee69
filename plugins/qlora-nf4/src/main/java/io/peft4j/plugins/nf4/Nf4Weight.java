package io.peft4j.plugins.nf4;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.plugins.nf4.BlockwiseQuantization.Blockwise8;
import io.peft4j.plugins.nf4.BlockwiseQuantization.DoubleQuantized;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A weight stored in NF4 (bitsandbytes layout), held as native tensors in its own sub-manager.
 *
 * <p>Held: {@code packed} uint8 {@code [(n+1)/2]} (two 4-bit indices per byte, element {@code 2k} in the high
 * nibble), and either {@code absmax} float32 {@code [nb]} ({@code nb = ceil(n / blocksize)}) or, with double
 * quantization, {@code qabsmax} uint8 {@code [nb]} + {@code nestedAbsmax} float32 {@code [ceil(nb / 256)]} + a
 * float {@code offset}.
 *
 * <p>Dequantization (float32):
 * <pre>
 *   absmax'[j] = DYNAMIC[qabsmax[j]] · nestedAbsmax[j / 256] + offset       (double quantization only)
 *   Ŵ[i]       = NF4[q[i]] · absmax'[i / blocksize],   reshaped to shape()
 * </pre>
 * done with tensor ops in the caller's manager: a 256×2 table maps each packed byte to its two code values
 * (one gather instead of nibble arithmetic), then the blocks are scaled by a broadcast multiply. Nothing but the
 * 4-bit data and the statistics is kept, unless {@code cache_dequantized} was set.
 *
 * <p>{@link #storageBytes()} counts the packed bytes, the statistics (and the offset), plus the cached float32 copy
 * when present; the two code books are shared constants and not counted. With double quantization and blocksize 64
 * this is {@code 4 + 8/64 + 32/(64·256)} ≈ 4.127 bits per parameter.
 */
public final class Nf4Weight implements QuantizedWeight {
    private final long[] shape;
    private final int n;
    private final int blocksize;
    private final String dtype;
    private final float[] code4;
    private final float[] code8;
    private final float[] pairTable;        // [256][2]: code4[b >> 4], code4[b & 15]
    private final NDManager own;
    private final NDArray packed;           // uint8 [(n+1)/2]
    private final NDArray absmax;           // float32 [nb], null when double-quantized
    private final NDArray qabsmax;          // uint8 [nb], double quantization only
    private final NDArray nestedAbsmax;     // float32 [ceil(nb/nestedBlocksize)], double quantization only
    private final int nestedBlocksize;
    private final float offset;
    private NDArray cached;                 // float32 copy, only with cache_dequantized
    private boolean closed;

    /**
     * @param parent   the new weight's storage is a sub-manager of it (closing {@code parent} frees it too)
     * @param absmax   float absmax, or null when {@code dq} is given
     * @param dq       double-quantized statistics, or null
     * @param code4    the 16-value code (normally {@link Nf4Codes#NF4})
     * @param code8    the 256-value nested code (normally {@link Nf4Codes#DYNAMIC_8BIT})
     * @param dtype    the original weight dtype recorded in the quant state (informational)
     */
    Nf4Weight(NDManager parent, long[] shape, int blocksize, byte[] packed, float[] absmax, DoubleQuantized dq,
              float[] code4, float[] code8, String dtype, boolean cacheDequantized) {
        this.shape = shape.clone();
        this.n = Math.toIntExact(new Shape(shape).size());
        this.blocksize = blocksize;
        this.dtype = dtype;
        this.code4 = code4;
        this.code8 = code8;
        this.pairTable = new float[512];
        for (int b = 0; b < 256; b++) {
            pairTable[2 * b] = code4[b >>> 4];
            pairTable[2 * b + 1] = code4[b & 0x0f];
        }
        this.own = parent.newSubManager();
        this.packed = bytes(own, packed);
        if (dq == null) {
            this.absmax = own.create(absmax);
            this.qabsmax = null;
            this.nestedAbsmax = null;
            this.nestedBlocksize = 0;
            this.offset = 0f;
        } else {
            this.absmax = null;
            this.qabsmax = bytes(own, dq.blocks().quantized());
            this.nestedAbsmax = own.create(dq.blocks().absmax());
            this.nestedBlocksize = dq.blocks().blocksize();
            this.offset = dq.offset();
        }
        // Storage must outlive any NDScope the caller quantizes or loads in.
        NDScope.unregister(this.packed);
        NDScope.unregister(dq == null ? this.absmax : this.qabsmax);
        if (dq != null) {
            NDScope.unregister(this.nestedAbsmax);
        }
        if (cacheDequantized) {
            cached = dequantize(own);
            NDScope.unregister(cached);
        }
    }

    private static NDArray bytes(NDManager m, byte[] b) {
        return m.create(ByteBuffer.wrap(b), new Shape(b.length), DataType.UINT8);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int blocksize() {
        return blocksize;
    }

    public boolean doubleQuantized() {
        return absmax == null;
    }

    /** Number of logical elements. */
    public int size() {
        return n;
    }

    @Override
    public NDArray dequantize(NDManager manager) {
        checkOpen();
        if (cached != null) {
            NDArray c = cached.duplicate();
            c.attach(manager);
            return c;
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray table = tmp.create(pairTable, new Shape(256, 2));
            NDArray idx = in(tmp, packed.toType(DataType.INT64, false));
            // Advanced indexing by an index array selects whole rows (torch's index_select of the pair table).
            NDArray values = table.get(new NDIndex("{}", idx)).reshape(-1);   // [2 * ceil(n/2)]
            NDArray w = scaleBlocks(tmp, values, blockAbsmax(tmp), n, blocksize).reshape(new Shape(shape));
            w.attach(manager);
            return w;
        }
    }

    /** absmax per 4-bit block, float32 {@code [nb]}, attached to {@code tmp}. */
    private NDArray blockAbsmax(NDManager tmp) {
        if (absmax != null) {
            return in(tmp, absmax.reshape(absmax.size()));   // a view: no copy
        }
        NDArray code = tmp.create(code8);
        NDArray q = in(tmp, qabsmax.toType(DataType.INT64, false));
        NDArray v = code.get(new NDIndex("{}", q));
        int nb = (int) q.size();
        return scaleBlocks(tmp, v, in(tmp, nestedAbsmax.reshape(nestedAbsmax.size())), nb, nestedBlocksize).add(offset);
    }

    /**
     * {@code values[i] · scales[i / bs]} for {@code i < count}; {@code values} may hold a padding tail (odd n),
     * a partial last block is padded with zeros to reshape into {@code [blocks, bs]}.
     */
    private static NDArray scaleBlocks(NDManager tmp, NDArray values, NDArray scales, int count, int bs) {
        long blocks = scales.size();
        long full = blocks * bs;
        NDArray v = values;
        if (v.size() < full) {
            v = v.concat(tmp.zeros(new Shape(full - v.size())));
        } else if (v.size() > full) {
            v = v.get(new NDIndex().addSliceDim(0, full));
        }
        NDArray out = v.reshape(blocks, bs).mul(scales.reshape(blocks, 1)).reshape(-1);
        return full == count ? out : out.get(new NDIndex().addSliceDim(0, count));
    }

    private static NDArray in(NDManager m, NDArray a) {
        a.attach(m);
        return a;
    }

    @Override
    public long storageBytes() {
        checkOpen();
        long b = packed.size();
        if (absmax != null) {
            b += 4 * absmax.size();
        } else {
            b += qabsmax.size() + 4 * nestedAbsmax.size() + 4;   // + offset
        }
        if (cached != null) {
            b += 4 * cached.size();
        }
        return b;
    }

    /** Bits per parameter: {@code 8 · storageBytes / n}. */
    public double bitsPerParameter() {
        return 8.0 * storageBytes() / n;
    }

    /**
     * The bitsandbytes / transformers {@code Linear4bit} state dict under {@code prefix}: {@code weight},
     * {@code weight.absmax}, {@code weight.quant_map}, with double quantization {@code weight.nested_absmax} and
     * {@code weight.nested_quant_map}, and {@code weight.quant_state.bitsandbytes__nf4} (UTF-8 JSON).
     *
     * <p>The arrays are fresh copies attached to this weight's manager: close them once written (they are freed
     * with the weight otherwise).
     */
    @Override
    public Map<String, NDArray> stateDict(String prefix) {
        checkOpen();
        Map<String, NDArray> out = new LinkedHashMap<>();
        String w = prefix + "weight";
        out.put(w, own.create(ByteBuffer.wrap(packed.toByteArray()), new Shape(packed.size(), 1), DataType.UINT8));
        if (absmax != null) {
            out.put(w + ".absmax", absmax.duplicate());
        } else {
            out.put(w + ".absmax", qabsmax.duplicate());
        }
        out.put(w + ".quant_map", own.create(code4.clone()));
        if (absmax == null) {
            out.put(w + ".nested_absmax", nestedAbsmax.duplicate());
            out.put(w + ".nested_quant_map", own.create(code8.clone()));
        }
        QuantStateJson.State st = new QuantStateJson.State(Nf4Options.QUANT_TYPE, blocksize, dtype, shape,
                absmax == null ? nestedBlocksize : null, absmax == null ? "float32" : null,
                absmax == null ? offset : null);
        out.put(w + "." + Nf4Quantizer.QUANT_STATE_SUFFIX, bytes(own, QuantStateJson.write(st)));
        return out;
    }

    /** The float32 statistics as Java data (absmax, or the double-quantized parts); for tests and re-quantization. */
    float[] absmaxValues() {
        if (absmax != null) {
            return absmax.toFloatArray();
        }
        Blockwise8 b = new Blockwise8(qabsmax.toByteArray(), nestedAbsmax.toFloatArray(), nestedBlocksize);
        return BlockwiseQuantization.dequantize8(b, offset, code8);
    }

    float offset() {
        return offset;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("NF4 weight " + new Shape(shape) + " is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            own.close();
        }
    }
}
