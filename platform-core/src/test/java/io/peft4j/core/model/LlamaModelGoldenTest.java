package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The bundled stories260K against its golden files (produced by an independent reference implementation). */
class LlamaModelGoldenTest {
    static NDManager root;
    static LlamaModel model;
    static TextTokenizer tokenizer;
    static JsonNode golden;

    @BeforeAll
    static void load() throws Exception {
        root = NDManager.newBaseManager();
        Path dir = BundledModel.stories260K();
        model = LlamaModel.load(dir, root);
        tokenizer = TextTokenizer.load(dir.resolve("tokenizer.json"));
        golden = new ObjectMapper().readTree(dir.resolve("golden_greedy.json").toFile());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
        model.close();
        root.close();
    }

    static long[] longs(JsonNode arr) {
        long[] a = new long[arr.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = arr.get(i).asLong();
        }
        return a;
    }

    @Test
    void greedyReproducesGolden() {
        long[] promptIds = longs(golden.get("prompt_ids"));
        assertThat(tokenizer.encode(golden.get("prompt").asText(), true)).containsExactly(promptIds);
        long[] expected = longs(golden.get("new_ids"));
        Generator.Result r = new Generator(model, tokenizer).generate(golden.get("prompt").asText(),
                GenerationOptions.greedy(expected.length));
        assertThat(r.newIds()).containsExactly(expected);
        assertThat(r.text()).isEqualTo(golden.get("new_text").asText());
        assertThat(r.reason()).isEqualTo(Generator.StopReason.MAX_TOKENS);
    }

    /**
     * "Once" continues greedily with the golden prompt's next tokens and then the golden continuation, so prompt +
     * generated text must be the golden full text: the space of the first new token's word-start marker is kept
     * (decoded alone, "▁upon" loses it and the join reads "Onceupon").
     */
    @Test
    void continuationTextKeepsTheSpaceAtTheJoin() {
        long[] promptIds = longs(golden.get("prompt_ids"));
        long[] goldenNew = longs(golden.get("new_ids"));
        long[] expected = new long[promptIds.length - 2 + goldenNew.length];
        System.arraycopy(promptIds, 2, expected, 0, promptIds.length - 2);
        System.arraycopy(goldenNew, 0, expected, promptIds.length - 2, goldenNew.length);
        Generator.Result r = new Generator(model, tokenizer).generate("Once",
                GenerationOptions.greedy(expected.length));
        assertThat(r.promptIds()).containsExactly(promptIds[0], promptIds[1]);
        assertThat(r.newIds()).containsExactly(expected);
        assertThat("Once" + r.text()).isEqualTo(golden.get("full_text").asText());
        assertThat(tokenizer.decode(new long[] {expected[0]})).as("the marker alone decodes without its space")
                .isEqualTo("upon");
    }

    @Test
    void firstStepTop5Logits() {
        long[] promptIds = longs(golden.get("prompt_ids"));
        long[] topIds = longs(golden.get("first_step_top5_ids"));
        JsonNode topLogits = golden.get("first_step_top5_logits");
        try (NDManager m = root.newSubManager()) {
            NDArray ids = m.create(promptIds, new Shape(1, promptIds.length));
            NDArray logits = model.forward(ids, null, null, PlatformForwardContext.eval(m));
            assertThat(logits.getShape()).isEqualTo(new Shape(1, promptIds.length, 512));
            float[] last = logits.get(new NDIndex("0, -1, :")).toFloatArray();
            Integer[] order = new Integer[last.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Float.compare(last[b], last[a]));
            for (int i = 0; i < 5; i++) {
                assertThat((long) order[i]).isEqualTo(topIds[i]);
                assertThat((double) last[order[i]]).isCloseTo(topLogits.get(i).asDouble(),
                        org.assertj.core.api.Assertions.within(1e-3));
            }
        }
    }

    @Test
    void kvCacheMatchesFullRecompute() {
        long[] prompt = longs(golden.get("prompt_ids"));
        long[] cont = Arrays.copyOf(longs(golden.get("new_ids")), 12);
        long[] all = new long[prompt.length + cont.length];
        System.arraycopy(prompt, 0, all, 0, prompt.length);
        System.arraycopy(cont, 0, all, prompt.length, cont.length);
        try (NDManager m = root.newSubManager(); KvCache cache = model.newCache()) {
            PlatformForwardContext ctx = PlatformForwardContext.eval(m);
            float[] full = model.forward(m.create(all, new Shape(1, all.length)), null, null, ctx).toFloatArray();
            List<Float> inc = new ArrayList<>();
            float[] pre = model.forward(m.create(prompt, new Shape(1, prompt.length)), null, cache, ctx).toFloatArray();
            for (float f : pre) {
                inc.add(f);
            }
            // Steps of 1 and one step of 3 tokens at once.
            int pos = prompt.length;
            while (pos < all.length) {
                int n = pos == prompt.length + 4 ? 3 : 1;
                long[] chunk = Arrays.copyOfRange(all, pos, pos + n);
                float[] out = model.forward(m.create(chunk, new Shape(1, n)), null, cache, ctx).toFloatArray();
                for (float f : out) {
                    inc.add(f);
                }
                pos += n;
            }
            assertThat(cache.length()).isEqualTo(all.length);
            assertThat(inc).hasSize(full.length);
            for (int i = 0; i < full.length; i++) {
                assertThat((double) inc.get(i)).as("logit %d", i)
                        .isCloseTo(full[i], org.assertj.core.api.Assertions.within(1e-4));
            }
        }
    }

    @Test
    void leftPaddedBatchEqualsUnbatched() {
        List<String> prompts = List.of("Once upon a time", "Lily and Ben went to the park. They saw a big dog!",
                "Hello world", "The cat");
        GenerationOptions o = GenerationOptions.greedy(24).withStopTokenIds(Set.of());
        Generator g = new Generator(model, tokenizer);
        List<Generator.Result> batch = g.generate(prompts, o);
        for (int i = 0; i < prompts.size(); i++) {
            Generator.Result alone = g.generate(prompts.get(i), o);
            assertThat(batch.get(i).newIds()).as(prompts.get(i)).containsExactly(alone.newIds());
            assertThat(batch.get(i).text()).isEqualTo(alone.text());
        }
    }

    @Test
    void leftPaddedLogitsMatchUnpadded() {
        long[] p = longs(golden.get("prompt_ids"));
        int padN = 3;
        try (NDManager m = root.newSubManager()) {
            PlatformForwardContext ctx = PlatformForwardContext.eval(m);
            float[] alone = model.forward(m.create(p, new Shape(1, p.length)), null, null, ctx)
                    .get(new NDIndex("0, -1, :")).toFloatArray();
            long[] padded = new long[p.length + padN];
            long[] mask = new long[p.length + padN];
            Arrays.fill(padded, 0, padN, 2L);
            System.arraycopy(p, 0, padded, padN, p.length);
            Arrays.fill(mask, padN, mask.length, 1L);
            NDArray logits = model.forward(m.create(padded, new Shape(1, padded.length)),
                    m.create(mask, new Shape(1, mask.length)), null, ctx);
            float[] withPad = logits.get(new NDIndex("0, -1, :")).toFloatArray();
            for (int i = 0; i < alone.length; i++) {
                assertThat((double) withPad[i]).isCloseTo(alone[i], org.assertj.core.api.Assertions.within(1e-4));
            }
            assertThat(Float.isNaN(logits.sum().getFloat())).isFalse();
        }
    }

    @Test
    void sitesAndNames() {
        LlamaConfig c = model.config();
        assertThat(c.numKeyValueHeads()).isEqualTo(4);
        assertThat(model.sites()).hasSize(1 + 5 * 10 + 1);
        assertThat(model.linear("model.layers.0.self_attn.k_proj").site().outFeatures()).isEqualTo(32);
        assertThat(model.linear("lm_head").site().inFeatures()).isEqualTo(64);
        assertThat(model.tiedEmbeddings()).isTrue();
        assertThat(model.baseTensors()).hasSize(47).doesNotContainKey("lm_head.weight");
        assertThat(model.parameterCount()).isEqualTo(512 * 64 + 5 * (2 * 64 + 64 * 64 * 2 + 32 * 64 * 2
                + 3 * 172 * 64) + 64);
    }

    @Test
    void noArrayGrowthOver200Passes() {
        long[] p = longs(golden.get("prompt_ids"));
        try (NDManager m = root.newSubManager()) {
            NDArray ids = m.create(p, new Shape(1, p.length));
            PlatformForwardContext ctx = PlatformForwardContext.eval(m);
            int before = -1;
            for (int i = 0; i < 200; i++) {
                try (NDScope scope = new NDScope()) {
                    model.forward(ids, null, null, ctx).sum().getFloat();
                }
                if (i == 9) {
                    before = root.getManagedArrays().size();
                }
            }
            assertThat(root.getManagedArrays().size()).isEqualTo(before);
            // Without an enclosing scope the logits live in ctx.manager() only.
            int base = root.getManagedArrays().size();
            try (NDManager step = m.newSubManager()) {
                model.forward(ids, null, null, PlatformForwardContext.eval(step));
                assertThat(root.getManagedArrays().size()).isEqualTo(base + 1);
            }
            assertThat(root.getManagedArrays().size()).isEqualTo(base);
        }
    }

    @Test
    void samplingIsSeededAndStopsWork() {
        Generator g = new Generator(model, tokenizer);
        String prompt = golden.get("prompt").asText();
        GenerationOptions sample = GenerationOptions.sampling(30, 0.9, 40, 0.95, 42);
        assertThat(g.generate(prompt, sample).newIds()).containsExactly(g.generate(prompt, sample).newIds());
        long[] expected = longs(golden.get("new_ids"));
        // top-k 1 is greedy whatever the temperature.
        assertThat(g.generate(prompt, GenerationOptions.sampling(10, 1.5, 1, 1.0, 3)).newIds())
                .containsExactly(Arrays.copyOf(expected, 10));
        // Stop at the 4th golden token (excluded from the output).
        Generator.Result r = g.generate(prompt, GenerationOptions.greedy(40).withStopTokenIds(Set.of(expected[3])));
        assertThat(r.reason()).isEqualTo(Generator.StopReason.STOP_TOKEN);
        assertThat(r.newIds()).containsExactly(Arrays.copyOf(expected, 3));
        Generator.Result s = g.generate(prompt, GenerationOptions.greedy(40).withStopStrings(List.of(".")));
        assertThat(s.reason()).isEqualTo(Generator.StopReason.STOP_STRING);
        String full = golden.get("new_text").asText();
        assertThat(s.text()).isEqualTo(full.substring(0, full.indexOf('.')));
    }
}
