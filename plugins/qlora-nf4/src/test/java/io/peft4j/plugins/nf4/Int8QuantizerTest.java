package io.peft4j.plugins.nf4;

import static io.peft4j.plugins.testkit.TestTensors.gaussian;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ConfigException;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The blockwise 8-bit quantizer: math against the Java reference, error bound, size, save/load, errors. */
class Int8QuantizerTest extends ManagedTensorTest {
    private static final String P = "model.layers.0.mlp.up_proj.";
    private final Int8Quantizer quantizer = new Int8Quantizer();

    @ParameterizedTest
    @CsvSource({"7,13,256", "64,64,256", "33,65,32", "3,1000,4096", "1,1,64"})
    void dequantizationEqualsTheBlockwiseReferenceAndIsClose(int rows, int cols, int bs) {
        float[] x = gaussian(rows * cols, rows * 7L + cols, 0.05);
        NDArray w = m.create(x, new Shape(rows, cols));
        try (Int8Weight q = quantizer.quantize(w, new Int8Options(bs))) {
            BlockwiseQuantization.Blockwise8 ref = BlockwiseQuantization.quantize8(x, bs);
            float[] expected = BlockwiseQuantization.dequantize8(ref, 0f, Nf4Codes.DYNAMIC_8BIT);
            float[] got;
            try (NDArray d = q.dequantize(m)) {
                assertThat(d.getShape()).isEqualTo(new Shape(rows, cols));
                got = d.toFloatArray();
            }
            assertThat(got).containsExactly(expected);
            // The dynamic map's largest gap is ~1/64 of absmax near |t| = 1 (its linear segment of 1/128 steps,
            // halved), so no value moves by more than absmax/64.
            float[] absmax = ref.absmax();
            for (int i = 0; i < x.length; i++) {
                assertThat(Math.abs(got[i] - x[i])).isLessThanOrEqualTo(absmax[i / bs] / 64f + 1e-7f);
            }
            assertThat(q.storageBytes()).isEqualTo((long) rows * cols + 4L * absmax.length);
        }
    }

    @Test
    void eightPointOneTwoFiveBitsPerParameterAtBlocksize256() {
        try (Int8Weight q = quantizer.quantize(m.create(gaussian(256 * 64, 1, 0.05), new Shape(256, 64)), Int8Options.defaults())) {
            assertThat(q.bitsPerParameter()).isEqualTo(8.125);
        }
    }

    @Test
    void stateDictRoundTripsAndIsRecognisedByInt8NotNf4() {
        float[] x = gaussian(40 * 50, 3, 0.05);
        try (Int8Weight q = quantizer.quantize(m.create(x, new Shape(40, 50)), Int8Options.defaults())) {
            Map<String, NDArray> sd = q.stateDict(P);
            assertThat(sd).containsOnlyKeys(P + "weight", P + "weight.absmax", P + "weight.quant_map",
                    P + "weight.quant_state.peft4j__int8");
            assertThat(quantizer.recognizes(P, sd)).isTrue();
            assertThat(new Nf4Quantizer().recognizes(P, sd)).isFalse();
            try (QuantizedWeight back = quantizer.load(P, sd); NDArray a = q.dequantize(m);
                 NDArray b = back.dequantize(m)) {
                assertThat(b.toFloatArray()).containsExactly(a.toFloatArray());
            }
        }
    }

    @Test
    void absmaxLengthMismatchNamesTheKey() {
        try (Int8Weight q = quantizer.quantize(m.create(gaussian(600, 4, 0.05), new Shape(2, 300)), Int8Options.defaults())) {
            Map<String, NDArray> sd = new HashMap<>(q.stateDict(P));
            sd.put(P + "weight.absmax", m.create(new float[] {1f}));
            assertThatThrownBy(() -> quantizer.load(P, sd)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(P + "weight.absmax").hasMessageContaining("ceil(600 / 256) = 3");
        }
    }

    @Test
    void badInput() {
        assertThatThrownBy(() -> quantizer.quantize(m.create(new float[0], new Shape(0, 4)), Int8Options.defaults()))
                .hasMessageContaining("0 elements");
        assertThatThrownBy(() -> new Int8Options(100).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("blocksize:");
        assertThatThrownBy(() -> quantizer.quantize(m.create(new float[16], new Shape(4, 4)), new Int8Options(100)))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("blocksize:");
        assertThat(Int8Options.defaults().blocksize()).isEqualTo(256);
    }
}
