package io.peft4j.it.multi;

import static io.peft4j.it.multi.TwoAdapters.ROWS;
import static io.peft4j.it.multi.TwoAdapters.logits;
import static io.peft4j.it.multi.TwoAdapters.maxAbs;
import static io.peft4j.it.multi.TwoAdapters.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Cli;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code peft4j merge --combine} writes a new PEFT adapter; {@code peft4j generate --adapter-per-row} mixes a batch. */
class MergeGenerateCliTest {
    @TempDir
    Path tmp;

    /** Runs the CLI in-process and returns {exit code, stdout, stderr}. */
    private static Object[] cli(String... args) {
        Cli.Result r = Cli.run(args);
        return new Object[] {r.exitCode(), r.out(), r.err()};
    }

    @Test
    void combineToANewAdapterAndGenerateAMixedBatch() throws Exception {
        Path dirA = tmp.resolve("a");
        Path dirB = tmp.resolve("b");
        float[] both;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir()); TuningSession s = TwoAdapters.open(rt, tmp)) {
            AdapterFiles.saveOne(s.peft(), "a", dirA, "bundled:stories260K");
            AdapterFiles.saveOne(s.peft(), "b", dirB, "bundled:stories260K");
            s.peft().setActive(List.of("a", "b"));
            both = logits(s, ROWS[0]);
        }

        Path combined = tmp.resolve("ab");
        Object[] r = cli("merge", "--adapter", "a=" + dirA, "--adapter", "b=" + dirB, "--combine", "cat",
                "--weights", "1,1", "--out", combined.toString());
        assertThat(r[0]).as("stderr: " + r[2]).isEqualTo(0);
        JsonNode cfg = new ObjectMapper().readTree(combined.resolve("adapter_config.json").toFile());
        assertThat(cfg.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(cfg.get("r").asInt()).isEqualTo(6);
        assertThat(cfg.get("lora_alpha").asDouble()).isEqualTo(6.0);
        assertThat(combined.resolve("adapter_model.safetensors")).exists();
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir()); TuningSession s = TwoAdapters.open(rt, tmp)) {
            AdapterFiles.load(s.peft(), rt.extensions(), combined, "ab", 0);
            s.peft().setActive(List.of("ab"));
            assertThat(maxAbsDiff(logits(s, ROWS[0]), both)).isLessThan(1e-5 * Math.max(1, maxAbs(both)));
        }

        // Errors: exit 2 with a one-line message.
        Object[] ranks = cli("merge", "--adapter", "a=" + dirA, "--adapter", "b=" + dirB, "--combine", "linear",
                "--weights", "1,1", "--out", tmp.resolve("x").toString());
        assertThat(ranks[0]).isEqualTo(2);
        assertThat((String) ranks[2]).contains("linear needs equal ranks, got [4, 2]");
        Object[] count = cli("merge", "--adapter", "a=" + dirA, "--adapter", "b=" + dirB, "--combine", "cat",
                "--weights", "1", "--out", tmp.resolve("x").toString());
        assertThat(count[0]).isEqualTo(2);
        assertThat((String) count[2]).contains("got 1 weights for 2 adapters");
        Object[] density = cli("merge", "--adapter", "a=" + dirA, "--adapter", "b=" + dirB, "--combine", "ties_svd",
                "--weights=0.5,-0.5", "--density", "1.5", "--out", tmp.resolve("x").toString());
        assertThat(density[0]).isEqualTo(2);
        assertThat((String) density[2]).contains("density: must be in (0, 1]");

        // generate: one batch, adapters a, b, none; each prompt as generated alone with its adapter.
        String[] prompts = {"Once upon a time", "The cat", "A little girl"};
        Object[] mixed = cli("generate", "--adapter", "a=" + dirA, "--adapter", "b=" + dirB, "-p", prompts[0],
                "-p", prompts[1], "-p", prompts[2], "--adapter-per-row", "a,b,-", "--max-new-tokens", "8");
        assertThat(mixed[0]).as("stderr: " + mixed[2]).isEqualTo(0);
        String[] parts = ((String) mixed[1]).split("---\\R");
        assertThat(parts).hasSize(3);
        String[][] alone = {{"--adapter", "a=" + dirA}, {"--adapter", "b=" + dirB}, {}};
        for (int i = 0; i < 3; i++) {
            List<String> args = new ArrayList<>(List.of("generate", "-p", prompts[i], "--max-new-tokens", "8"));
            args.addAll(List.of(alone[i]));
            Object[] single = cli(args.toArray(String[]::new));
            assertThat(single[0]).isEqualTo(0);
            assertThat(parts[i].strip()).as("prompt " + i).isEqualTo(((String) single[1]).strip());
        }
        Object[] bad = cli("generate", "--adapter", "a=" + dirA, "-p", prompts[0], "-p", prompts[1],
                "--adapter-per-row", "a,nope", "--max-new-tokens", "2");
        assertThat(bad[0]).isEqualTo(2);
        assertThat((String) bad[2]).contains("\"nope\" is not loaded").contains("[a]");
        Object[] wrongCount = cli("generate", "--adapter", "a=" + dirA, "-p", prompts[0], "-p", prompts[1],
                "--adapter-per-row", "a", "--max-new-tokens", "2");
        assertThat(wrongCount[0]).isEqualTo(2);
        assertThat((String) wrongCount[2]).contains("--adapter-per-row").contains("1 entries for 2 prompts");
    }
}
