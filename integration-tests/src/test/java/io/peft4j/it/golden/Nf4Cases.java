package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.Quantizer;
import io.peft4j.core.plugin.Configured;
import io.peft4j.core.model.AdaptableLinear;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import static org.assertj.core.api.Assertions.assertThat;
import io.peft4j.plugins.testkit.TestForwardContext;

/**
 * Golden cases of NF4 / QLoRA, run through the {@link Quantizer} SPI only: quantize, then read the
 * bitsandbytes-layout state dict ({@code weight}, {@code weight.absmax}, {@code weight.nested_absmax},
 * {@code weight.quant_map}, {@code weight.nested_quant_map}, {@code weight.quant_state.bitsandbytes__nf4}) and the
 * dequantized weight, and compare. Integer tensors must match exactly; floats within the case tolerance.
 */
final class Nf4Cases {
    static final String PREFIX = "model.layers.0.mlp.down_proj.";
    private static final String W = PREFIX + "weight";
    private static final String STATE = W + ".quant_state.bitsandbytes__nf4";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Nf4Cases() {
    }

    /** Quantizer options from the case config (missing keys take the quantizer's defaults). */
    static Map<String, Object> options(GoldenCase c) {
        Map<String, Object> o = new LinkedHashMap<>();
        if (c.config().has("blocksize")) {
            o.put("blocksize", c.config().get("blocksize").asInt());
        }
        if (c.config().has("double_quant")) {
            o.put("double_quant", c.config().get("double_quant").asBoolean());
        }
        if (c.config().has("quant_type")) {
            o.put("quant_type", c.config().get("quant_type").asText());
        }
        if (c.config().has("compute_dtype")) {
            o.put("compute_dtype", c.config().get("compute_dtype").asText());
        }
        return o;
    }

    /** Quantizes with the options map parsed as the platform parses {@code quantization.options}. */
    private static QuantizedWeight quantize(Quantizer<?> q, NDArray weight, Map<String, Object> options) {
        return Configured.quantization(q, options, "quantization.options").quantize(weight);
    }

    /**
     * nf4_code_tables: the stored {@code quant_map} / {@code nested_quant_map} are the golden tables (and their
     * float32 bit patterns); quantizing the 16 code values themselves (absmax 1) gives the indices 0..15.
     */
    static void codeTables(GoldenCase c, Quantizer<?> q, NDManager m) {
        NDArray code = c.expected(m, "nf4_code");
        try (QuantizedWeight w = quantize(q, code.reshape(1, 16), Map.of("double_quant", true))) {
            Map<String, NDArray> sd = w.stateDict(PREFIX);
            c.assertClose("weight.quant_map", sd.get(W + ".quant_map"), code);
            c.assertClose("weight.nested_quant_map", sd.get(W + ".nested_quant_map"),
                    c.expected(m, "dynamic_8bit_code"));
            float[] qm = sd.get(W + ".quant_map").toFloatArray();
            JsonNode bits = c.expected().get("nf4_code_float32_bits");
            for (int i = 0; i < 16; i++) {
                assertThat(Integer.toUnsignedLong(Float.floatToRawIntBits(qm[i]))).as(c.name() + ": quant_map[" + i + "] bits")
                        .isEqualTo(Long.parseLong(bits.get(i).asText().substring(2), 16));
            }
            byte[] packed = sd.get(W).toByteArray();
            byte[] expected = new byte[8];
            for (int k = 0; k < 8; k++) {
                expected[k] = (byte) ((2 * k) << 4 | (2 * k + 1));
            }
            assertThat(packed).as(c.name() + ": code values quantize to their own indices").isEqualTo(expected);
            c.assertClose("dequantized code values", w.dequantize(m).reshape(16), code);
        }
    }

    /** nf4_quantize: packed bytes, float absmax, dequantized weight (no double quantization). */
    static void nf4Quantize(GoldenCase c, Quantizer<?> q, NDManager m) {
        try (QuantizedWeight w = quantize(q, c.input(m, "weight"), options(c))) {
            Map<String, NDArray> sd = w.stateDict(PREFIX);
            assertExact(c, "packed (weight)", sd.get(W), c.expected(m, "packed"));
            assertThat(sd.get(W + ".absmax").getDataType()).as(c.name() + ": absmax dtype").isEqualTo(DataType.FLOAT32);
            c.assertClose("absmax", sd.get(W + ".absmax"), c.expected(m, "absmax"));
            assertThat(sd).as(c.name() + ": no nested keys").doesNotContainKey(W + ".nested_absmax");
            assertThat(quantState(sd).get("shape").toString()).isEqualTo(c.config().get("shape").toString());
            c.assertClose("dequantized", w.dequantize(m), c.expected(m, "dequantized"));
        }
    }

    /**
     * nf4_quantize_double_quant: packed, quantized_absmax (uint8 {@code weight.absmax}), nested_absmax, offset
     * ({@code nested_offset} in the quant-state JSON), absmax before and after double quantization, dequantized.
     */
    static void nf4QuantizeDoubleQuant(GoldenCase c, Quantizer<?> q, NDManager m) {
        NDArray weight = c.input(m, "weight");
        try (QuantizedWeight w = quantize(q, weight, options(c))) {
            Map<String, NDArray> sd = w.stateDict(PREFIX);
            checkDoubleQuant(c, sd, m, "quantized_absmax", "nested_absmax", "offset");
            c.assertClose("absmax_dequantized", absmaxFromStateDict(sd, m), c.expected(m, "absmax_dequantized"));
            c.assertClose("dequantized", w.dequantize(m), c.expected(m, "dequantized"));
        }
        // The float absmax before double quantization is what the same quantizer stores without it.
        Map<String, Object> plain = new LinkedHashMap<>(options(c));
        plain.put("double_quant", false);
        try (QuantizedWeight w = quantize(q, weight, plain)) {
            c.assertClose("absmax", w.stateDict(PREFIX).get(W + ".absmax"), c.expected(m, "absmax"));
        }
    }

    /**
     * blockwise8_dynamic_absmax_quant: the SPI has no entry point for the 8-bit quantizer alone, so the case runs
     * through NF4 double quantization: a weight of 300 blocks of 64 where block j is {@code [v_j, 0, ..., 0]}
     * (v_j > 0) has absmax {@code v_j}, so its double-quantized statistics are exactly the case's
     * {@code blockwise8(v, 256)}: {@code weight.absmax} = quantized, {@code nested_absmax}, {@code nested_offset} =
     * offset; and the dequantized element {@code [j, 0]} is {@code NF4[15] · absmax'[j] = absmax'[j]}.
     */
    static void blockwise8DynamicAbsmaxQuant(GoldenCase c, Quantizer<?> q, NDManager m) {
        assertThat(c.config().get("blocksize").asInt()).as(c.name() + ": nested block size").isEqualTo(256);
        float[] v = c.input(m, "absmax_values").toFloatArray();
        int bs = 64;
        float[] x = new float[v.length * bs];
        for (int j = 0; j < v.length; j++) {
            assertThat(v[j]).as(c.name() + ": absmax values are positive").isPositive();
            x[j * bs] = v[j];
        }
        try (QuantizedWeight w = quantize(q, m.create(x, new Shape(v.length, bs)),
                Map.of("blocksize", bs, "double_quant", true))) {
            Map<String, NDArray> sd = w.stateDict(PREFIX);
            checkDoubleQuant(c, sd, m, "quantized", "nested_absmax", "offset");
            NDArray dq = w.dequantize(m);
            c.assertClose("dequantized", dq.get(new NDIndex(":, 0")), c.expected(m, "dequantized"));
            assertThat(dq.get(new NDIndex(":, 1:")).abs().max().getFloat()).as(c.name() + ": zeros stay zero")
                    .isZero();
        }
    }

    /** nf4_zero_block (platform convention): all-zero blocks pack to 0x77 with absmax 0 and dequantize to 0. */
    static void nf4ZeroBlock(GoldenCase c, Quantizer<?> q, NDManager m) {
        try (QuantizedWeight w = quantize(q, c.input(m, "weight"), options(c))) {
            Map<String, NDArray> sd = w.stateDict(PREFIX);
            assertExact(c, "packed (weight)", sd.get(W), c.expected(m, "packed"));
            c.assertClose("absmax", sd.get(W + ".absmax"), c.expected(m, "absmax"));
            c.assertClose("dequantized", w.dequantize(m), c.expected(m, "dequantized"));
        }
    }

    /**
     * qlora_forward: the quantized storage and dequantized weight, then {@code y = x Ŵ^T + b + s·(x A^T) B^T} with
     * the base through the platform's {@link AdaptableLinear} holding the quantized weight and the LoRA term in
     * plain tensor ops.
     */
    static void qloraForward(GoldenCase c, Quantizer<?> q, NDManager m) {
        QuantizedWeight w = quantize(q, c.input(m, "weight_fp32_before_quant"), options(c));
        Map<String, NDArray> sd = w.stateDict(PREFIX);
        assertExact(c, "packed (weight)", sd.get(W), c.expected(m, "packed"));
        checkDoubleQuant(c, sd, m, "quantized_absmax", "nested_absmax", "offset");
        c.assertClose("dequantized_weight", w.dequantize(m), c.expected(m, "dequantized_weight"));

        SingleLinearHost host = new SingleLinearHost(m);
        AdaptableLinear linear = host.add(PREFIX.substring(0, PREFIX.length() - 1),
                c.input(m, "weight_fp32_before_quant"), c.input(m, "bias"));
        linear.setQuantizedWeight(w);   // the linear owns and closes w from here on
        NDArray x = c.input(m, "x");
        NDArray base = linear.forward(x, List.of(), new TestForwardContext(false, m, null));
        float s = (float) c.config().get("scaling").asDouble();
        NDArray lora = x.matMul(c.input(m, "lora_A").transpose()).matMul(c.input(m, "lora_B").transpose()).mul(s);
        c.assertClose("y", base.add(lora), c.expected(m, "y"));
    }

    /** Double-quant statistics in the state dict against the case's expected keys. */
    private static void checkDoubleQuant(GoldenCase c, Map<String, NDArray> sd, NDManager m, String qKey,
                                         String nestedKey, String offsetKey) {
        assertThat(sd.get(W + ".absmax").getDataType()).as(c.name() + ": double-quantized absmax dtype")
                .isEqualTo(DataType.UINT8);
        assertExact(c, qKey + " (weight.absmax)", sd.get(W + ".absmax"), c.expected(m, qKey));
        c.assertClose(nestedKey, sd.get(W + ".nested_absmax"), c.expected(m, nestedKey));
        JsonNode state = quantState(sd);
        assertThat(state.path("quant_type").asText()).isEqualTo("nf4");
        assertThat(state.path("nested_blocksize").asInt()).isEqualTo(256);
        c.assertClose(offsetKey + " (nested_offset)", (float) state.get("nested_offset").asDouble(),
                (float) c.expected().get(offsetKey).asDouble());
    }

    /** {@code absmax'[j] = nested_quant_map[absmax[j]] · nested_absmax[j / 256] + nested_offset}, from saved data. */
    private static NDArray absmaxFromStateDict(Map<String, NDArray> sd, NDManager m) {
        JsonNode state = quantState(sd);
        int nbs = state.get("nested_blocksize").asInt();
        long[] idx = toLongs(sd.get(W + ".absmax").toByteArray());
        float[] code = sd.get(W + ".nested_quant_map").toFloatArray();
        float[] nested = sd.get(W + ".nested_absmax").toFloatArray();
        float offset = (float) state.get("nested_offset").asDouble();
        float[] out = new float[idx.length];
        for (int j = 0; j < idx.length; j++) {
            out[j] = code[(int) idx[j]] * nested[j / nbs] + offset;
        }
        return m.create(out);
    }

    private static long[] toLongs(byte[] b) {
        long[] l = new long[b.length];
        for (int i = 0; i < b.length; i++) {
            l[i] = b[i] & 0xff;
        }
        return l;
    }

    private static JsonNode quantState(Map<String, NDArray> sd) {
        NDArray t = sd.get(STATE);
        assertThat(t).as("state dict key " + STATE).isNotNull();
        try {
            return JSON.readTree(t.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(STATE + " is not valid JSON", e);
        }
    }

    /** Exact equality of an integer tensor: shape and every byte. */
    private static void assertExact(GoldenCase c, String what, NDArray actual, NDArray expected) {
        assertThat(actual).as(c.name() + ": " + what + " present").isNotNull();
        assertThat(actual.getShape()).as(c.name() + ": shape of " + what).isEqualTo(expected.getShape());
        assertThat(actual.getDataType()).as(c.name() + ": dtype of " + what).isEqualTo(expected.getDataType());
        byte[] a = actual.toByteArray();
        byte[] e = expected.toByteArray();
        if (!Arrays.equals(a, e)) {
            int i = Arrays.mismatch(a, e);
            throw new AssertionError(c.name() + ": " + what + " differs at byte " + i + ": got 0x"
                    + Integer.toHexString(a[i] & 0xff) + ", expected 0x" + Integer.toHexString(e[i] & 0xff));
        }
    }
}
