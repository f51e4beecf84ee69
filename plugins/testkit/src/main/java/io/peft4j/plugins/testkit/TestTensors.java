package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.util.Random;

/** Small tensor helpers shared by plugin tests. */
public final class TestTensors {
    private TestTensors() {
    }

    /** {@code max |x - y|} over all elements. */
    public static double maxAbsDiff(NDArray x, NDArray y) {
        return x.sub(y).abs().max().getFloat();
    }

    /** {@code n} draws of {@code N(0, std²)} from {@code java.util.Random(seed)}: reproducible across runs. */
    public static float[] gaussian(int n, long seed, double std) {
        Random r = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (r.nextGaussian() * std);
        }
        return f;
    }

    /** A uint8 tensor of the given bytes and shape. */
    public static NDArray uint8(NDManager m, byte[] b, long... shape) {
        return m.create(ByteBuffer.wrap(b), new Shape(shape), DataType.UINT8);
    }
}
