package io.peft4j.core.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import io.peft4j.api.Parameter;
import io.peft4j.core.train.optim.AdamW;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The values and gradients of a fixed, ordered list of parameters as one flat {@code float[]} (parameter after
 * parameter, each row-major): the form in which data-parallel workers exchange gradients and adapter state.
 * Every access runs outside the gradient collector.
 */
public final class FlatParameters {
    private final List<Parameter> parameters;
    private final int[] offsets;
    private final int size;

    public FlatParameters(List<Parameter> parameters) {
        this.parameters = List.copyOf(parameters);
        this.offsets = new int[this.parameters.size() + 1];
        long total = 0;
        for (int i = 0; i < this.parameters.size(); i++) {
            offsets[i] = Math.toIntExact(total);
            total += this.parameters.get(i).value().getShape().size();
        }
        this.size = Math.toIntExact(total);
        offsets[this.parameters.size()] = size;
    }

    /** Total number of elements. */
    public int size() {
        return size;
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    /** The parameter names in order (two sides agree on the layout when their names agree). */
    public List<String> names() {
        List<String> n = new ArrayList<>(parameters.size());
        for (Parameter p : parameters) {
            n.add(p.name() + p.value().getShape());
        }
        return n;
    }

    /** The current values. */
    public float[] values() {
        float[] out = new float[size];
        for (int i = 0; i < parameters.size(); i++) {
            read(parameters.get(i).value(), out, offsets[i]);
        }
        return out;
    }

    /** Overwrites the values in place. */
    public void setValues(float[] flat) {
        checkLength(flat);
        for (int i = 0; i < parameters.size(); i++) {
            write(parameters.get(i).value(), flat, offsets[i]);
        }
    }

    /**
     * The current gradients (0 where a parameter has none).
     *
     * @param defined receives, per parameter, whether it has a gradient (may be null)
     */
    public float[] gradients(boolean[] defined) {
        float[] out = new float[size];
        for (int i = 0; i < parameters.size(); i++) {
            try (NDArray g = AdamW.gradientOrNull(parameters.get(i).value())) {
                if (g != null) {
                    read(g, out, offsets[i]);
                }
                if (defined != null) {
                    defined[i] = g != null;
                }
            }
        }
        return out;
    }

    /**
     * Sets the gradients of the parameters marked {@code defined} to {@code flat} (others are left as they are).
     * A parameter that has no gradient yet first gets one from a backward pass of {@code sum(p)}, so no gradient
     * collector may be open in this JVM during the call.
     */
    public void setGradients(float[] flat, boolean[] defined) {
        checkLength(flat);
        List<NDArray> missing = new ArrayList<>();
        for (int i = 0; i < parameters.size(); i++) {
            if (defined[i]) {
                try (NDArray g = AdamW.gradientOrNull(parameters.get(i).value())) {
                    if (g == null) {   // hasGradient() only says "requires grad"; the gradient may not exist yet
                        missing.add(parameters.get(i).value());
                    }
                }
            }
        }
        if (!missing.isEmpty()) {
            try (NDManager sm = missing.get(0).getManager().newSubManager();
                 GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = null;
                for (NDArray p : missing) {
                    NDArray s = p.sum();
                    sm.tempAttachAll(s);
                    loss = loss == null ? s : loss.add(s);
                    sm.tempAttachAll(loss);
                }
                gc.backward(loss);
            }
        }
        for (int i = 0; i < parameters.size(); i++) {
            if (defined[i]) {
                try (NDArray g = AdamW.gradientOrNull(parameters.get(i).value())) {
                    write(g, flat, offsets[i]);   // the handle shares storage with the parameter's gradient
                }
            }
        }
    }

    /** Zeroes every gradient in place (a parameter keeps having a defined gradient once it had one). */
    public void zeroGradients() {
        for (Parameter p : parameters) {
            AdamW.zeroGradient(p.value());
        }
    }

    private void checkLength(float[] flat) {
        if (flat.length != size) {
            throw new IllegalArgumentException("flat parameter array has " + flat.length + " elements, the "
                    + parameters.size() + " parameters have " + size);
        }
    }

    private static void read(NDArray a, float[] out, int offset) {
        float[] v = a.getDataType() == DataType.FLOAT32 ? a.toFloatArray() : convert(a);
        System.arraycopy(v, 0, out, offset, v.length);
    }

    private static float[] convert(NDArray a) {
        try (NDArray f = a.toType(DataType.FLOAT32, true)) {
            return f.toFloatArray();
        }
    }

    private static void write(NDArray target, float[] flat, int offset) {
        int n = Math.toIntExact(target.getShape().size());
        float[] part = Arrays.copyOfRange(flat, offset, offset + n);
        if (target.getDataType() == DataType.FLOAT32) {
            target.set(part);   // copies into the existing storage (a gradient handle shares it with the parameter)
        } else {
            try (NDManager tmp = target.getManager().newSubManager()) {
                NDArray src = tmp.create(part, target.getShape()).toType(target.getDataType(), false);
                target.set(src.toByteBuffer());
            }
        }
    }
}
