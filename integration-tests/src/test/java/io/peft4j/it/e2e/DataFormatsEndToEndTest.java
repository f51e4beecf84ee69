package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunData;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.core.train.data.DataFormat;
import io.peft4j.core.train.data.Datasets;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.LoadedDataset;
import io.peft4j.core.train.data.Tokenization;
import io.peft4j.it.support.Dist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every data format trains end to end on the real stories260K (platform started from the distribution's plugins
 * directory), from files written the way the Python ecosystem writes them ({@code tools/interop/
 * generate_dataset_fixtures.py}: pandas as Hugging Face datasets' {@code to_json}/{@code to_csv}, Stanford Alpaca's
 * {@code json.dump(indent=4)}, a plain text file); the Parquet file is written here by DuckDB (pyarrow, which
 * datasets' {@code to_parquet} uses, is not installable on this machine). Each run detects the expected format, and
 * its eval loss falls after a few steps.
 */
class DataFormatsEndToEndTest {
    /** ChatML, for the messages files: stories260K ships no chat template. */
    private static final String CHATML = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] "
            + "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
            + "{% endif %}";
    private static Path fixtures;
    private static Path work;
    private static PluginRuntime runtime;

    @BeforeAll
    static void setUp() throws Exception {
        fixtures = Path.of(DataFormatsEndToEndTest.class.getResource("/datasets/text.jsonl").toURI()).getParent();
        work = Files.createTempDirectory("peft4j-data-e2e");
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT * FROM read_json('" + fixtures.resolve("messages.jsonl") + "')) TO '"
                    + work.resolve("messages.parquet") + "' (FORMAT parquet)");
        }
        runtime = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void tearDown() {
        runtime.close();
    }

    static Stream<Arguments> files() {
        return Stream.of(
                Arguments.of("text.jsonl", DataFormat.TEXT, ""),
                Arguments.of("prompt_completion.json", DataFormat.PROMPT_COMPLETION, ""),
                Arguments.of("messages.jsonl", DataFormat.MESSAGES, "chat_template: \"" + escape(CHATML) + "\""),
                Arguments.of("messages.parquet", DataFormat.MESSAGES, "chat_template: \"" + escape(CHATML) + "\""),
                Arguments.of("alpaca_data.json", DataFormat.ALPACA, ""),
                Arguments.of("qa.csv", DataFormat.PROMPT_COMPLETION, "columns: {prompt: question, completion: answer}"),
                Arguments.of("stories.txt", DataFormat.PLAIN_TEXT, ""));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("files")
    void trainsOnStories260K(String file, DataFormat expected, String extraData) throws Exception {
        Path data = Files.exists(fixtures.resolve(file)) ? fixtures.resolve(file) : work.resolve(file);
        Path out = work.resolve("run-" + file.replace('.', '-'));
        RunConfig cfg = RunConfigParser.parse("""
                model: {path: "bundled:stories260K"}
                adapters:
                  - {method: lora, r: 8, lora_alpha: 16, target_modules: all-linear}
                optimizer: {lr: 0.01}
                training: {steps: 6, batch_size: 4, max_seq_len: 192, warmup_steps: 1, log_every: 1, seed: 3,
                           progress_bar: false}
                data:
                  train: "%s"
                  eval_fraction: 0.15
                  %s
                output: {dir: "%s"}
                """.formatted(data, extraData, out), true);
        RunPlan plan = RunConfigValidator.validate(cfg, runtime.extensions());
        try (TextTokenizer tok = TextTokenizer.load(plan.modelDir().resolve("tokenizer.json"))) {
            LoadedDataset ds = Datasets.read(data, RunData.spec(cfg, plan.modelDir(), RunData.options(cfg, tok)),
                    Tokenization.of(tok));
            assertThat(ds.format()).isEqualTo(expected);
            assertThat(ds.examples()).hasSizeGreaterThanOrEqualTo(10);
            long loss = ds.examples().stream().mapToLong(DataFormatsEndToEndTest::lossTokens).sum();
            long all = ds.examples().stream().mapToLong(Example::length).sum();
            assertThat(loss).isPositive();
            if (expected == DataFormat.TEXT || expected == DataFormat.PLAIN_TEXT) {
                assertThat(loss).isEqualTo(all);
            } else {
                assertThat(loss).as("prompts / non-assistant turns carry no loss").isLessThan(all);
            }
        }
        try (TuningSession s = TuningSession.open(plan, runtime.extensions())) {
            TuningSession.Outcome o = s.train();
            System.out.printf("data e2e %s: eval loss %.4f -> %.4f%n", file, o.evalBefore().loss(),
                    o.evalAfter().loss());
            assertThat(o.training().losses()).hasSize(6).allSatisfy(l -> assertThat(l).isFinite());
            assertThat(o.evalAfter().loss()).as("eval loss falls").isLessThan(o.evalBefore().loss());
            assertThat(o.adapterDir().resolve("adapter_model.safetensors")).isRegularFile();
        }
    }

    private static long lossTokens(Example e) {
        long n = 0;
        for (long l : e.labels()) {
            n += l == Example.IGNORE_INDEX ? 0 : 1;
        }
        return n;
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
