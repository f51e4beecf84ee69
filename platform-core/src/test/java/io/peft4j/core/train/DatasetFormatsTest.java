package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.chat.ChatMessage;
import io.peft4j.core.chat.ChatTemplate;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.train.data.AlpacaTemplate;
import io.peft4j.core.train.data.ChatMasking;
import io.peft4j.core.train.data.DataFormat;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.DataSpec;
import io.peft4j.core.train.data.DatasetException;
import io.peft4j.core.train.data.Datasets;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.LoadedDataset;
import io.peft4j.core.train.data.Tokenization;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dataset formats with stories260K's real tokenizer: loss masks, column mapping, file kinds, errors. */
class DatasetFormatsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TextTokenizer tokenizer;
    private static Tokenization tok;
    private static JsonNode golden;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = TextTokenizer.load(BundledModel.stories260K());
        tok = Tokenization.of(tokenizer);
        try (InputStream in = DatasetFormatsTest.class.getResourceAsStream("/chat-templates/golden.json")) {
            golden = JSON.readTree(in);
        }
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static DataOptions opts(int max) {
        return new DataOptions(max, true, true, true, tokenizer.eosId(), 0);
    }

    private static ChatTemplate real(String name) {
        JsonNode t = golden.get("templates").get(name);
        return ChatTemplate.of(t.get("chat_template").asText(), Map.of("bos_token", "<s>", "eos_token", "</s>"),
                name);
    }

    private static List<String> spanTexts(ChatMasking.Masked m) {
        return m.spans().stream().map(s -> m.text().substring(s[0], s[1])).toList();
    }

    private static final List<ChatMessage> CONV = List.of(ChatMessage.system("Be kind."),
            ChatMessage.user("What is 2+2?"), ChatMessage.assistant("4."), ChatMessage.user("Thanks!"),
            ChatMessage.assistant("You're welcome."));

    @Test
    void assistantTurnsCarryTheLossWithTheirEndOfTurnText() {
        ChatMasking.Masked m = ChatMasking.encode(real("llama3"), CONV, tok, true);
        assertThat(spanTexts(m)).containsExactly("4.<|eot_id|>", "You're welcome.<|eot_id|>");
        ChatMasking.Masked q = ChatMasking.encode(real("qwen2_5"), CONV, tok, true);
        assertThat(spanTexts(q)).containsExactly("4.<|im_end|>\n", "You're welcome.<|im_end|>\n");
        // Mistral Nemo puts the system prompt into the user turn when it is the last message (and drops it
        // otherwise, as transformers renders it too), so rendered prefixes are not prefixes of the whole
        // conversation: the turns are located instead, each with the eos_token after it
        ChatMasking.Masked n = ChatMasking.encode(real("mistral_nemo"), CONV, tok, true);
        assertThat(real("mistral_nemo").render(CONV.subList(0, 2), true)).isEqualTo("<s>[INST]Be kind.\n\n"
                + "What is 2+2?[/INST]");
        assertThat(n.text()).isEqualTo("<s>[INST]What is 2+2?[/INST]4.</s>[INST]Thanks![/INST]You're welcome.</s>");
        assertThat(spanTexts(n)).containsExactly("4.</s>", "You're welcome.</s>");
        // token level: the labelled tokens spell the spans
        for (ChatMasking.Masked x : List.of(m, q, n)) {
            var t = tokenizer.encodeWithOffsets(x.text());
            assertThat(x.ids()).containsExactly(t.ids());
            StringBuilder labelled = new StringBuilder();
            for (int i = 0; i < x.ids().length; i++) {
                if (x.labels()[i] != Example.IGNORE_INDEX) {
                    assertThat(x.labels()[i]).isEqualTo(x.ids()[i]);
                    labelled.append(x.text(), t.starts()[i], t.ends()[i]);
                }
            }
            assertThat(labelled.toString().replace(" ", "")).isEqualTo(String.join("", spanTexts(x))
                    .replace(" ", ""));
        }
        ChatMasking.Masked all = ChatMasking.encode(real("llama3"), CONV, tok, false);
        assertThat(all.labels()).containsExactly(all.ids());
    }

    @Test
    void messagesFileUsesTheTemplateAndNoExtraBosOrEos() throws Exception {
        Path f = dir.resolve("chat.jsonl");
        Files.writeString(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, "
                + "{\"role\": \"assistant\", \"content\": \"Hello there\"}], \"id\": 1}\n");
        DataSpec spec = new DataSpec(null, Map.of(), () -> real("llama3"), true, null, opts(256));
        LoadedDataset ds = Datasets.read(f, spec, tok);
        assertThat(ds.format()).isEqualTo(DataFormat.MESSAGES);
        Example e = ds.examples().get(0);
        String rendered = real("llama3").render(List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello there")),
                false);
        assertThat(e.inputIds()).containsExactly(tokenizer.encode(rendered, false));
        assertThat(e.inputIds()[0]).as("the template's <s>, tokenized as the BOS id").isEqualTo(tokenizer.bosId());
    }

    @Test
    void alpacaRowsUseTheStanfordPromptAndLearnTheOutput() throws Exception {
        Path f = dir.resolve("alpaca.json");
        Files.writeString(f, """
                [
                    {"instruction": "Say hi.", "input": "", "output": "Hi!"},
                    {"instruction": "Name it.", "input": "A red fruit.", "output": "Apple"}
                ]
                """);
        LoadedDataset ds = Datasets.read(f, DataSpec.of(opts(256)), tok);
        assertThat(ds.format()).isEqualTo(DataFormat.ALPACA);
        Example e = ds.examples().get(1);
        String prompt = AlpacaTemplate.STANFORD.prompt("Name it.", "A red fruit.");
        assertThat(prompt).contains("### Input:\nA red fruit.\n\n### Response:\n");
        long[] expected = tokenizer.encode(prompt + "Apple", true);
        assertThat(Arrays.copyOf(e.inputIds(), expected.length)).containsExactly(expected);
        int promptLen = tokenizer.encode(prompt, true).length;
        assertThat(Arrays.copyOf(e.labels(), promptLen)).containsOnly(Example.IGNORE_INDEX);
        assertThat(e.labels()[e.length() - 1]).isEqualTo(tokenizer.eosId());
        assertThat(e.source()).isEqualTo(f + ":3");
        assertThat(AlpacaTemplate.STANFORD.prompt("Say hi.", "")).doesNotContain("### Input");
    }

    @Test
    void csvWithColumnMappingAndRowNumbersInErrors() throws Exception {
        Path f = dir.resolve("qa.csv");
        Files.writeString(f, "question,answer\n\"Q, one\",\" A1\"\nQ2,\" A2\"\n");
        DataSpec mapped = new DataSpec(null, Map.of("prompt", "question", "completion", "answer"), null, true, null,
                opts(64));
        LoadedDataset ds = Datasets.read(f, mapped, tok);
        assertThat(ds.format()).isEqualTo(DataFormat.PROMPT_COMPLETION);
        assertThat(ds.examples()).hasSize(2);
        assertThat(ds.examples().get(0).inputIds()).startsWith(tokenizer.encode("Q, one A1", true));
        assertThat(ds.examples().get(1).source()).isEqualTo(f + " row 2");
        DataSpec explicit = new DataSpec(DataFormat.PROMPT_COMPLETION, Map.of("prompt", "question"), null, true, null,
                opts(64));
        assertThatThrownBy(() -> Datasets.read(f, explicit, tok)).isInstanceOf(DatasetException.class)
                .hasMessage(f + " row 1: missing field \"completion\" of the \"prompt_completion\" format");
    }

    @Test
    void parquetMixingFormatsIsRejectedAtTheRow() throws Exception {
        Path p = dir.resolve("mixed.parquet");
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT * FROM (VALUES ('a story', NULL, NULL), (NULL, 'Q', ' A')) t(text, prompt, "
                    + "completion)) TO '" + p + "' (FORMAT parquet)");
        }
        assertThatThrownBy(() -> Datasets.read(p, DataSpec.of(opts(64)), tok)).isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(p + " row 2: a \"prompt_completion\" row in a file whose first row (" + p
                        + " row 1) is \"text\"");
    }

    @Test
    void emptyAssistantTurnsEverywhereAreRejected() throws Exception {
        Path f = dir.resolve("empty.jsonl");
        String row = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", "
                + "\"content\": \"\"}]}\n";
        Files.writeString(f, row + row);
        DataSpec spec = new DataSpec(null, Map.of(), () -> real("llama3"), true, null, opts(256));
        assertThatThrownBy(() -> Datasets.read(f, spec, tok)).isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(f + ":1: every assistant turn in " + f + " is empty");
    }

    @Test
    void badJsonArrayElementNamesItsLine() throws Exception {
        Path f = dir.resolve("bad.json");
        Files.writeString(f, "[\n  {\"text\": \"ok\"},\n  {\"text\": 3}\n]\n");
        assertThatThrownBy(() -> Datasets.read(f, DataSpec.of(opts(64)), tok))
                .hasMessage(f + ":3: field \"text\" must be a string, got number");
    }

    @Test
    void plainTextIsCutIntoFullBlocks() throws Exception {
        Path f = dir.resolve("book.txt");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            lines.add("Once upon a time there was a cat number " + i + ".");
        }
        Files.write(f, lines);
        LoadedDataset ds = Datasets.read(f, DataSpec.of(opts(32)), tok);
        assertThat(ds.format()).isEqualTo(DataFormat.PLAIN_TEXT);
        assertThat(ds.rows()).isEqualTo(20);
        List<Example> ex = ds.examples();
        assertThat(ex.subList(0, ex.size() - 1)).allSatisfy(e -> assertThat(e.length()).isEqualTo(32));
        long[] all = ex.stream().flatMapToLong(e -> Arrays.stream(e.inputIds())).toArray();
        List<Long> expected = new ArrayList<>(List.of((long) tokenizer.bosId()));
        for (int i = 0; i < lines.size(); i++) {
            for (long id : tokenizer.encode(lines.get(i) + (i < lines.size() - 1 ? "\n" : ""), false)) {
                expected.add(id);
            }
        }
        expected.add((long) tokenizer.eosId());
        assertThat(Arrays.stream(all).boxed().collect(Collectors.toList())).isEqualTo(expected);
        assertThat(ex).allSatisfy(e -> assertThat(e.labels()).containsExactly(e.inputIds()));
    }
}
