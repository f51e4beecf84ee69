package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.cli.Main;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.plugin.PlatformVersion;
import io.peft4j.it.support.Dist;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line behaves like the tools users know: standard help/version options on every command, a shell
 * completion script, quiet output (no GPU-probe warnings without a GPU request, no PF4J stack traces unless debug,
 * no device line), the generated text joined to the prompt as the tokenizer decodes it, and training without eval
 * data plus {@code --resume}.
 */
class CliConventionsTest {
    static final List<String> COMMANDS = List.of("demo", "train", "eval", "generate", "merge", "inspect", "plugins",
            "compare", "bench", "completion");

    @TempDir
    Path tmp;

    /** Runs the CLI in this JVM: {exit code, stdout, stderr}. */
    private static Object[] cli(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int rc = Main.run(args);
            return new Object[] {rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** Runs the distribution's launcher in a fresh JVM: {exit code, stdout, stderr}. */
    private Object[] launcher(String javaOpts, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Dist.home().resolve("bin/peft4j").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(tmp.resolve("out.txt").toFile())
                .redirectError(tmp.resolve("err.txt").toFile());
        pb.environment().put("PEFT4J_JAVA_OPTS", "-Xmx1g" + (javaOpts.isEmpty() ? "" : " " + javaOpts));
        Process p = pb.start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("launcher finished").isTrue();
        return new Object[] {p.exitValue(), Files.readString(tmp.resolve("out.txt")),
                Files.readString(tmp.resolve("err.txt"))};
    }

    @Test
    void helpAndVersionOnEveryCommand() {
        for (String c : COMMANDS) {
            for (String h : List.of("--help", "-h")) {
                Object[] r = cli(c, h);
                assertThat(r[0]).as(c + " " + h + ": " + r[2]).isEqualTo(0);
                assertThat((String) r[1]).as(c + " " + h).contains("Usage: peft4j " + c);
            }
            Object[] v = cli(c, "--version");
            assertThat(v[0]).as(c + " --version: " + v[2]).isEqualTo(0);
            assertThat((String) v[1]).as(c).contains("peft4j " + PlatformVersion.buildVersion());
        }
        assertThat((String) cli("--version")[1]).contains("peft4j " + PlatformVersion.buildVersion());
    }

    @Test
    void completionScriptCoversTheCommands() {
        Object[] r = cli("completion");
        assertThat(r[0]).isEqualTo(0);
        String script = (String) r[1];
        assertThat(script).contains("complete -F").contains("_picocli_peft4j");
        for (String c : List.of("train", "inspect", "generate", "merge")) {
            assertThat(script).contains(c);
        }
        assertThat(script).contains("--resume", "--max-new-tokens");
    }

    /** golden_greedy.json of the real stories260K: the shared copy beside the checkout, else the bundled one. */
    private static Path modelDir() {
        Path shared = Dist.goldenDir().resolveSibling("models").resolve("stories260K");
        return Files.isRegularFile(shared.resolve("golden_greedy.json")) ? shared : BundledModel.stories260K();
    }

    @Test
    void generatePrintsThePromptJoinedToItsContinuationAsTheTokenizerDecodesThem() throws IOException {
        Path model = modelDir();
        JsonNode golden = new ObjectMapper().readTree(model.resolve("golden_greedy.json").toFile());
        // "Once" greedily continues with the golden prompt's remaining tokens ("upon a time"), then the golden ones.
        int tokens = golden.get("prompt_ids").size() - 2 + golden.get("new_ids").size();
        Object[] r = cli("generate", "--plugins=" + Dist.pluginsDir(), "--threads=1", "--model", model.toString(),
                "-p", "Once", "--temperature", "0", "--max-new-tokens", String.valueOf(tokens));
        assertThat(r[0]).as("stderr: " + r[2]).isEqualTo(0);
        assertThat(((String) r[1]).strip()).isEqualTo(golden.get("full_text").asText());
        assertThat((String) r[1]).startsWith("Once upon a time").doesNotContain("device");
    }

    @Test
    void trainsWithoutEvalDataThenResumesWithOneFlag() throws IOException {
        Path out = tmp.resolve("run");
        Path cfg = tmp.resolve("no-eval.yaml");
        Files.writeString(cfg, """
                model: bundled:stories260K
                adapters:
                  - {method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}
                optimizer: {lr: 0.005}
                training: {steps: 4, batch_size: 4, max_seq_len: 64, log_every: 2, checkpoint_every: 2, seed: 3}
                data: {train: "bundled:demo/train.jsonl", eval_fraction: 0}
                output: {dir: "%s"}
                """.formatted(out.toString().replace("\\", "/")));
        Object[] r = cli("train", "--plugins=" + Dist.pluginsDir(), "--threads=1", cfg.toString());
        assertThat(r[0]).as("stderr: " + r[2]).isEqualTo(0);
        String stdout = (String) r[1];
        assertThat(stdout).contains("trainable params: 4,480 || all params: 264,512 || trainable%: 1.6937")
                .contains("no eval data").contains("eval before and after skipped")
                .doesNotContain("Modules (").doesNotContain("device");
        // no terminal here: plain progress lines every log_every steps
        assertThat(stdout).contains("step 2/4  loss ").contains("step 4/4  loss ").contains("eta ");
        assertThat(out.resolve("adapter/adapter_model.safetensors")).isRegularFile();
        assertThat(out.resolve("checkpoints/step-4")).isDirectory();

        // the module table: inspect (and train/demo --verbose)
        Object[] inspect = cli("inspect", "--plugins=" + Dist.pluginsDir(), cfg.toString());
        assertThat((String) inspect[1]).contains("Modules (").contains("model.layers.0.self_attn.q_proj");

        // --resume with more steps continues at step 5 from the newest checkpoint
        Files.writeString(cfg, Files.readString(cfg).replace("steps: 4,", "steps: 6,"));
        Object[] resumed = cli("train", "--plugins=" + Dist.pluginsDir(), "--threads=1", cfg.toString(), "--resume");
        assertThat(resumed[0]).as("stderr: " + resumed[2]).isEqualTo(0);
        assertThat((String) resumed[1]).contains("resuming from " + out.resolve("checkpoints/step-4"))
                .contains("step 6/6").doesNotContain("step 2/6");
        List<Integer> steps = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            steps.add(new ObjectMapper().readTree(line).get("step").asInt());
        }
        assertThat(steps).containsExactly(2, 4, 6);
    }

    @Test
    void launcherOutputIsQuietAndBrokenPluginTracesAreDebugOnly() throws Exception {
        Path plugins = tmp.resolve("plugins");
        Files.createDirectories(plugins);
        try (var s = Files.list(Dist.pluginsDir())) {
            for (Path jar : s.filter(p -> p.getFileName().toString().startsWith("peft4j-plugin-lora-")).toList()) {
                Files.copy(jar, plugins.resolve(jar.getFileName()));
            }
        }
        Files.writeString(plugins.resolve("broken-1.0.jar"), "not a zip file");

        Object[] r = launcher("", "plugins", "--plugins", plugins.toString());
        String err = (String) r[2];
        assertThat(r[0]).as("a failed plugin is reported with exit code 1; stderr: " + err).isEqualTo(1);
        assertThat((String) r[1]).contains("broken-1.0.jar").contains("INVALID_DESCRIPTOR").contains("lora");
        assertThat(err).doesNotContain("Failed to detect GPU count").doesNotContain("\tat ")
                .doesNotContain("org.pf4j").doesNotContain("device");
        // peft4j's own one-line report stays
        assertThat(err.lines().filter(l -> l.contains("broken-1.0.jar")).toList()).singleElement()
                .satisfies(l -> assertThat(l).contains("PeftPluginManager", "invalid or missing plugin descriptor"));

        Object[] debug = launcher("-Dorg.slf4j.simpleLogger.defaultLogLevel=debug", "plugins", "--plugins",
                plugins.toString());
        assertThat((String) debug[2]).as("with debug logging PF4J's own trace is there").contains("at org.pf4j");
    }
}
