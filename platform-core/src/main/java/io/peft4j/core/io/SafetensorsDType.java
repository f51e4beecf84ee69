package io.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.Optional;

/**
 * The safetensors element types this platform reads and writes, with their size in bytes and the DJL type an array
 * of that kind is loaded as. {@code BF16} is loaded as {@link DataType#FLOAT32} (widened in Java) because any bf16
 * array aborts the JVM under DJL 0.32's PyTorch engine.
 */
public enum SafetensorsDType {
    F64(8, DataType.FLOAT64),
    F32(4, DataType.FLOAT32),
    F16(2, DataType.FLOAT16),
    BF16(2, DataType.FLOAT32),
    I64(8, DataType.INT64),
    I32(4, DataType.INT32),
    I8(1, DataType.INT8),
    U8(1, DataType.UINT8),
    BOOL(1, DataType.BOOLEAN);

    private final int bytes;
    private final DataType loadedAs;

    SafetensorsDType(int bytes, DataType loadedAs) {
        this.bytes = bytes;
        this.loadedAs = loadedAs;
    }

    /** Bytes per element in the file. */
    public int bytes() {
        return bytes;
    }

    /** The DJL type of the array this dtype is read into. */
    public DataType loadedAs() {
        return loadedAs;
    }

    /** The safetensors name, e.g. {@code "F32"}; empty when the name is not supported. */
    public static Optional<SafetensorsDType> fromName(String name) {
        return Arrays.stream(values()).filter(d -> d.name().equals(name)).findFirst();
    }

    /** The safetensors dtype an NDArray of this DJL type is written as. */
    public static SafetensorsDType forDataType(DataType type) {
        switch (type) {
            case FLOAT64: return F64;
            case FLOAT32: return F32;
            case FLOAT16: return F16;
            case INT64: return I64;
            case INT32: return I32;
            case INT8: return I8;
            case UINT8: return U8;
            case BOOLEAN: return BOOL;
            default:
                throw new IllegalArgumentException("no safetensors dtype for DJL data type " + type);
        }
    }

    /** All supported names, for error messages. */
    public static String supportedNames() {
        return Arrays.toString(values());
    }
}
