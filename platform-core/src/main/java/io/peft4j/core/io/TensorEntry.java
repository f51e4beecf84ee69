package io.peft4j.core.io;

import ai.djl.ndarray.types.Shape;

/**
 * One tensor of a safetensors header.
 *
 * @param name  tensor name
 * @param dtype element type
 * @param shape dimensions (row-major)
 * @param begin start offset in bytes, relative to the start of the data section
 * @param end   end offset (exclusive), relative to the start of the data section
 */
public record TensorEntry(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {

    public long byteLength() {
        return end - begin;
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public Shape djlShape() {
        return new Shape(shape);
    }
}
