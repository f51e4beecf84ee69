package io.peft4j.plugins.nf4;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.QuantizedWeight;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A weight stored as blockwise absmax 8-bit codes with bitsandbytes' signed dynamic map (the scheme of bnb
 * {@code quantize_blockwise}, also used for NF4's nested statistics): {@code q} uint8 {@code [n]} and
 * {@code absmax} float32 {@code [ceil(n / blocksize)]}.
 *
 * <p>Dequantization: {@code Ŵ[i] = DYNAMIC[q[i]] · absmax[i / blocksize]} (float32), reshaped to {@link #shape()}.
 * Storage: {@code 8 + 32 / blocksize} bits per parameter (8.125 with blocksize 256).
 */
public final class Int8Weight implements QuantizedWeight {
    private final long[] shape;
    private final int n;
    private final int blocksize;
    private final float[] code8;
    private final NDManager own;
    private final NDArray q;          // uint8 [n]
    private final NDArray absmax;     // float32 [nb]
    private boolean closed;

    Int8Weight(NDManager parent, long[] shape, int blocksize, byte[] q, float[] absmax, float[] code8) {
        this.shape = shape.clone();
        this.n = q.length;
        this.blocksize = blocksize;
        this.code8 = code8;
        this.own = parent.newSubManager();
        this.q = own.create(ByteBuffer.wrap(q), new Shape(q.length), DataType.UINT8);
        this.absmax = own.create(absmax);
        // Storage must outlive any NDScope the caller quantizes or loads in.
        NDScope.unregister(this.q);
        NDScope.unregister(this.absmax);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int blocksize() {
        return blocksize;
    }

    @Override
    public NDArray dequantize(NDManager manager) {
        checkOpen();
        try (NDManager tmp = manager.newSubManager()) {
            NDArray code = tmp.create(code8);
            NDArray idx = q.toType(DataType.INT64, false);
            idx.attach(tmp);
            NDArray v = code.get(new NDIndex("{}", idx));
            long nb = absmax.size();
            long full = nb * blocksize;
            if (full > n) {
                v = v.concat(tmp.zeros(new Shape(full - n)));
            }
            NDArray scales = absmax.reshape(nb, 1);
            scales.attach(tmp);
            NDArray w = v.reshape(nb, blocksize).mul(scales).reshape(-1);
            if (full > n) {
                w = w.get(new NDIndex().addSliceDim(0, n));
            }
            w = w.reshape(new Shape(shape));
            w.attach(manager);
            return w;
        }
    }

    @Override
    public long storageBytes() {
        checkOpen();
        return q.size() + 4 * absmax.size();
    }

    /** Bits per parameter: {@code 8 · storageBytes / n}. */
    public double bitsPerParameter() {
        return 8.0 * storageBytes() / n;
    }

    /**
     * {@code weight} (uint8, the logical shape), {@code weight.absmax} (float32), {@code weight.quant_map}
     * (float32[256]) and {@code weight.quant_state.peft4j__int8} (UTF-8 JSON: quant_type, blocksize, dtype, shape),
     * modelled on the bitsandbytes 4-bit layout. Fresh copies in this weight's manager: close them once written.
     */
    @Override
    public Map<String, NDArray> stateDict(String prefix) {
        checkOpen();
        Map<String, NDArray> out = new LinkedHashMap<>();
        String w = prefix + "weight";
        out.put(w, own.create(ByteBuffer.wrap(q.toByteArray()), new Shape(shape), DataType.UINT8));
        out.put(w + ".absmax", absmax.duplicate());
        out.put(w + ".quant_map", own.create(code8.clone()));
        QuantStateJson.State st = new QuantStateJson.State(Int8Quantizer.QUANT_TYPE, blocksize, "float32", shape,
                null, null, null);
        byte[] json = QuantStateJson.write(st);
        out.put(w + "." + Int8Quantizer.QUANT_STATE_SUFFIX,
                own.create(ByteBuffer.wrap(json), new Shape(json.length), DataType.UINT8));
        return out;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("int8 weight " + new Shape(shape) + " is closed");
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
