package io.peft4j.it.interop;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.core.io.SafetensorsReader;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.peft.LlamaAdapterHost;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.it.support.Dist;
import io.peft4j.it.support.ThirdPartyPluginBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/** What the interop tests share: the plugins directory (the distribution's plus the third-party IA3), forwards. */
final class InteropRuntime {
    private InteropRuntime() {
    }

    /**
     * A plugins directory holding the distribution's plugin jars and the third-party IA3 example (the one PEFT method
     * peft4j has only as an example), compiled against platform-api as {@code ThirdPartyMethodTest} does.
     */
    static Path pluginsWithIa3(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (Stream<Path> jars = Files.list(Dist.pluginsDir())) {
            for (Path j : jars.toList()) {
                Files.copy(j, dir.resolve(j.getFileName()));
            }
        }
        Path src = Path.of(System.getProperty("peft4j.repo.root"), "integration-tests/src/third-party-ia3/java");
        ThirdPartyPluginBuilder.build(src, Map.of("Plugin-Id", "ia3-example", "Plugin-Version", "1.0.0",
                "Plugin-Requires", ">=0.1.0", "Plugin-Provider", "example.org"), dir.resolve("ia3-example.jar"));
        return dir;
    }

    /** A PEFT model over {@code model}, with the installed initializers (PiSSA re-decomposes on load). */
    static PeftModel peft(LlamaModel model, TextTokenizer tokenizer, InstalledExtensions ext) {
        return new PeftModel(new LlamaAdapterHost(model, tokenizer), ext::initializerFor);
    }

    /** Eval-mode logits {@code [batch, seq, vocab]} as a flat array. */
    static float[] logits(LlamaModel model, InteropCase.Input in) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(flat(in.ids()), new Shape(in.ids().length, in.ids()[0].length));
            NDArray mask = in.mask() == null ? null
                    : m.create(flat(in.mask()), new Shape(in.mask().length, in.mask()[0].length));
            return model.forward(ids, mask, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }

    /** The reference logits of one input, checked to be {@code [batch, seq, vocab]} for that input. */
    static float[] expected(InteropCase c, InteropCase.Input in, long vocab) {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsReader r = SafetensorsReader.open(c.expected())) {
            NDArray a = r.readCopy(in.name(), m);
            Shape want = new Shape(in.ids().length, in.ids()[0].length, vocab);
            if (!a.getShape().equals(want)) {
                throw new IllegalStateException(c.expected() + ": " + in.name() + " has shape " + a.getShape()
                        + ", expected " + want);
            }
            return a.toFloatArray();
        }
    }

    /** Max |a - b| over the positions the input's attention mask keeps (all positions without a mask). */
    static double maxAbsDiff(float[] a, float[] b, InteropCase.Input in, int vocab) {
        if (a.length != b.length) {
            throw new IllegalStateException("logits have " + a.length + " values, reference " + b.length);
        }
        int seq = in.ids()[0].length;
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            int pos = i / vocab;
            if (in.mask() != null && in.mask()[pos / seq][pos % seq] == 0) {
                continue;
            }
            double d = Math.abs(a[i] - b[i]);
            if (!(d <= max)) {
                max = Double.isNaN(d) ? Double.NaN : d;
                if (Double.isNaN(d)) {
                    return d;
                }
            }
        }
        return max;
    }

    private static long[] flat(long[][] m) {
        return Stream.of(m).flatMapToLong(java.util.Arrays::stream).toArray();
    }
}
