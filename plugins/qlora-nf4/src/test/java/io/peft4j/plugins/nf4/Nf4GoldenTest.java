package io.peft4j.plugins.nf4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.peft4j.plugins.nf4.BlockwiseQuantization.DoubleQuantized;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.GoldenSuite;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Bit-exactness against the bitsandbytes golden vectors (shared/golden nf4_*, blockwise8_*, qlora_forward). */
class Nf4GoldenTest extends ManagedTensorTest {
    private static final String P = "model.layers.0.mlp.up_proj.";
    private final Nf4Quantizer quantizer = new Nf4Quantizer();

    static void assertBitExact(String what, float[] actual, float[] expected) {
        assertThat(actual.length).as(what + " length").isEqualTo(expected.length);
        for (int i = 0; i < actual.length; i++) {
            if (Float.floatToIntBits(actual[i]) != Float.floatToIntBits(expected[i])) {
                fail(what + " differs at " + i + ": got " + actual[i] + " (0x"
                        + Integer.toHexString(Float.floatToIntBits(actual[i])) + "), expected " + expected[i]
                        + " (0x" + Integer.toHexString(Float.floatToIntBits(expected[i])) + ")");
            }
        }
    }

    static void assertBytes(String what, byte[] actual, byte[] expected) {
        assertThat(actual.length).as(what + " length").isEqualTo(expected.length);
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] != expected[i]) {
                fail(what + " differs at byte " + i + ": got 0x" + Integer.toHexString(actual[i] & 0xff)
                        + ", expected 0x" + Integer.toHexString(expected[i] & 0xff));
            }
        }
    }

    /**
     * The golden cases META-INF/peft4j-golden/qlora-nf4.properties claims, from every vector set; each handler below uses
     * the test's manager {@code m}, which lives until the whole factory has run. integration-tests runs the same
     * cases through the installed jar.
     */
    @TestFactory
    Stream<DynamicTest> golden() {
        return GoldenSuite.of("qlora-nf4")
                .on("nf4_code_tables", (g, unused) -> codeTablesAreTheGoldenBitPatterns(g))
                .on("nf4_quantize", (g, unused) -> nf4QuantizeWithoutDoubleQuant(g))
                .on("nf4_quantize_double_quant", (g, unused) -> nf4QuantizeWithDoubleQuant(g))
                .on("blockwise8_dynamic_absmax_quant", (g, unused) -> blockwise8DynamicAbsmaxQuant(g))
                .on("nf4_zero_block", (g, unused) -> zeroBlockIsAllSevens(g))
                .on("qlora_forward", (g, unused) -> qloraForward(g))
                .tests();
    }

    private void codeTablesAreTheGoldenBitPatterns(GoldenCase g) {
        JsonNode bits = g.expected().get("nf4_code_float32_bits");
        float[] nf4 = Nf4Codes.nf4();
        for (int i = 0; i < 16; i++) {
            assertThat(Integer.toUnsignedLong(Float.floatToRawIntBits(nf4[i])))
                    .as("NF4[%d]", i).isEqualTo(Long.parseLong(bits.get(i).asText().substring(2), 16));
        }
        assertBitExact("nf4_code", nf4, g.expectedFloats("nf4_code"));
        assertBitExact("dynamic_8bit_code", Nf4Codes.dynamic8bit(), g.expectedFloats("dynamic_8bit_code"));
        assertThat(nf4[Nf4Codes.NF4_ZERO_INDEX]).isZero();
    }

    private void nf4QuantizeWithoutDoubleQuant(GoldenCase g) {
        try (Nf4Weight w = quantizer.quantize(g.input(m, "weight"),
                new Nf4Options(g.config().get("blocksize").asInt(), false, null, null, null))) {
            Map<String, NDArray> sd = w.stateDict(P);
            assertThat(sd.get(P + "weight").getShape()).isEqualTo(new Shape(g.expectedShape("packed")));
            assertBytes("packed", sd.get(P + "weight").toByteArray(), g.expectedBytes("packed"));
            assertThat(sd.get(P + "weight.absmax").getDataType()).isEqualTo(DataType.FLOAT32);
            assertBitExact("absmax", sd.get(P + "weight.absmax").toFloatArray(), g.expectedFloats("absmax"));
            assertThat(sd).doesNotContainKey(P + "weight.nested_absmax");
            NDArray dq = w.dequantize(m);
            assertThat(dq.getShape()).isEqualTo(new Shape(12, 16));
            assertBitExact("dequantized (tensor ops)", dq.toFloatArray(), g.expectedFloats("dequantized"));
            byte[] packed = sd.get(P + "weight").toByteArray();
            assertBitExact("dequantized (Java reference)", BlockwiseQuantization.dequantizeNf4(packed,
                    g.expectedFloats("absmax"), 64, 192, Nf4Codes.NF4), g.expectedFloats("dequantized"));
        }
    }

    private void nf4QuantizeWithDoubleQuant(GoldenCase g) {
        float[] x = g.inputFloats("weight");
        assertBitExact("absmax", BlockwiseQuantization.absmax(x, 64), g.expectedFloats("absmax"));
        try (Nf4Weight w = quantizer.quantize(g.input(m, "weight"), Nf4Options.defaults())) {   // defaults: 64, double quant
            Map<String, NDArray> sd = w.stateDict(P);
            assertBytes("packed", sd.get(P + "weight").toByteArray(), g.expectedBytes("packed"));
            assertThat(sd.get(P + "weight.absmax").getDataType()).isEqualTo(DataType.UINT8);
            assertBytes("quantized_absmax", sd.get(P + "weight.absmax").toByteArray(),
                    g.expectedBytes("quantized_absmax"));
            assertBitExact("nested_absmax", sd.get(P + "weight.nested_absmax").toFloatArray(),
                    g.expectedFloats("nested_absmax"));
            assertBitExact("offset", new float[] {w.offset()},
                    new float[] {(float) g.expected().get("offset").asDouble()});
            assertBitExact("absmax_dequantized", w.absmaxValues(), g.expectedFloats("absmax_dequantized"));
            assertBitExact("dequantized", w.dequantize(m).toFloatArray(), g.expectedFloats("dequantized"));
        }
    }

    private void blockwise8DynamicAbsmaxQuant(GoldenCase g) {
        DoubleQuantized dq = BlockwiseQuantization.doubleQuantize(g.inputFloats("absmax_values"),
                g.config().get("blocksize").asInt());
        assertBitExact("offset", new float[] {dq.offset()},
                new float[] {(float) g.expected().get("offset").asDouble()});
        assertBytes("quantized", dq.blocks().quantized(), g.expectedBytes("quantized"));
        assertBitExact("nested_absmax", dq.blocks().absmax(), g.expectedFloats("nested_absmax"));
        assertBitExact("dequantized", BlockwiseQuantization.dequantize8(dq.blocks(), dq.offset(),
                Nf4Codes.DYNAMIC_8BIT), g.expectedFloats("dequantized"));
    }

    private void zeroBlockIsAllSevens(GoldenCase g) {
        try (Nf4Weight w = quantizer.quantize(g.input(m, "weight"), new Nf4Options(null, false, null, null, null))) {
            Map<String, NDArray> sd = w.stateDict(P);
            assertBytes("packed", sd.get(P + "weight").toByteArray(), g.expectedBytes("packed"));
            assertBitExact("absmax", sd.get(P + "weight.absmax").toFloatArray(), g.expectedFloats("absmax"));
            assertBitExact("dequantized", w.dequantize(m).toFloatArray(), g.expectedFloats("dequantized"));
        }
        // and with double quantization the zero block still dequantizes to exact zeros
        try (Nf4Weight w = quantizer.quantize(g.input(m, "weight"), Nf4Options.defaults())) {
            assertBitExact("dequantized (double quant)", w.dequantize(m).toFloatArray(),
                    g.expectedFloats("dequantized"));
        }
    }

    private void qloraForward(GoldenCase g) {
        JsonNode cfg = g.config();
        try (Nf4Weight w = quantizer.quantize(g.input(m, "weight_fp32_before_quant"),
                new Nf4Options(cfg.get("blocksize").asInt(), cfg.get("double_quant").asBoolean(),
                        cfg.get("quant_type").asText(), cfg.get("compute_dtype").asText(), null))) {
            Map<String, NDArray> sd = w.stateDict(P);
            assertBytes("packed", sd.get(P + "weight").toByteArray(), g.expectedBytes("packed"));
            assertBytes("quantized_absmax", sd.get(P + "weight.absmax").toByteArray(),
                    g.expectedBytes("quantized_absmax"));
            assertBitExact("nested_absmax", sd.get(P + "weight.nested_absmax").toFloatArray(),
                    g.expectedFloats("nested_absmax"));
            assertBitExact("offset", new float[] {w.offset()},
                    new float[] {(float) g.expected().get("offset").asDouble()});
            NDArray wd = w.dequantize(m);
            assertBitExact("dequantized_weight", wd.toFloatArray(), g.expectedFloats("dequantized_weight"));

            NDArray x = g.input(m, "x");
            NDArray a = g.input(m, "lora_A");
            NDArray b = g.input(m, "lora_B");
            float s = (float) cfg.get("scaling").asDouble();
            NDArray y = x.matMul(wd.transpose()).add(g.input(m, "bias"))
                    .add(x.matMul(a.transpose()).matMul(b.transpose()).mul(s));
            float[] e = g.expectedFloats("y");
            float[] got = y.toFloatArray();
            assertThat(y.getShape()).isEqualTo(new Shape(g.expectedShape("y")));
            for (int i = 0; i < e.length; i++) {
                assertThat((double) Math.abs(got[i] - e[i])).as("y[%d] = %s, expected %s", i, got[i], e[i])
                        .isLessThanOrEqualTo(g.atol() + g.rtol() * Math.abs(e[i]));
            }
        }
    }
}
