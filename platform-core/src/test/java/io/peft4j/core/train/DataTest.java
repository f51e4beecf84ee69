package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.core.train.data.Batch;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.DatasetException;
import io.peft4j.core.train.data.DatasetSplit;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.JsonlDataset;
import io.peft4j.core.train.data.TextEncoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataTest {
    static final long BOS = 1;
    static final long EOS = 2;
    static final long PAD = 0;
    /** One token per character: 3 + (c mod 21). */
    static final TextEncoder CHARS = (text, addBos) -> {
        long[] out = new long[text.length() + (addBos ? 1 : 0)];
        int i = 0;
        if (addBos) {
            out[i++] = BOS;
        }
        for (char c : text.toCharArray()) {
            out[i++] = 3 + (c % 21);
        }
        return out;
    };

    @TempDir
    Path dir;

    Path file(String... lines) throws IOException {
        Path f = dir.resolve("data.jsonl");
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    static DataOptions opts(int max, boolean truncate) {
        return new DataOptions(max, truncate, true, true, EOS, PAD);
    }

    @Test
    void readsTextAndPromptCompletionWithPromptLabelsIgnored() throws IOException {
        Path f = file("{\"text\": \"abc\"}", "");
        List<Example> ex = JsonlDataset.read(f, CHARS, opts(16, false));
        assertThat(ex).hasSize(1);
        long a = 3 + ('a' % 21);
        assertThat(ex.get(0).inputIds()).containsExactly(BOS, a, a + 1, a + 2, EOS);
        assertThat(ex.get(0).labels()).containsExactly(ex.get(0).inputIds());
        assertThat(ex.get(0).source()).endsWith("data.jsonl:1");
        Path g = file("", "{\"prompt\": \"xy\", \"completion\": \"z\", \"id\": 7}");
        Example pc = JsonlDataset.read(g, CHARS, opts(16, false)).get(0);
        long x = 3 + ('x' % 21);
        long y = 3 + ('y' % 21);
        long z = 3 + ('z' % 21);
        assertThat(pc.inputIds()).containsExactly(BOS, x, y, z, EOS);
        assertThat(pc.labels()).containsExactly(-100, -100, -100, z, EOS);
        assertThat(pc.source()).endsWith("data.jsonl:2");
    }

    @Test
    void fileMixingFormatsIsRejectedAtTheFirstOtherLine() throws IOException {
        Path f = file("{\"text\": \"abc\"}", "", "{\"prompt\": \"xy\", \"completion\": \"z\"}");
        assertThatThrownBy(() -> JsonlDataset.read(f, CHARS, opts(16, false)))
                .isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(f + ":3: a \"prompt_completion\" row")
                .hasMessageContaining("first row (" + f + ":1) is \"text\"");
    }

    @Test
    void fileWhoseTextsOrCompletionsAreAllEmptyIsRejected() throws IOException {
        Path t = file("", "{\"text\": \"\"}", "{\"text\": \"  \"}");
        assertThatThrownBy(() -> JsonlDataset.read(t, CHARS, opts(16, false)))
                .isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(t + ":2: every text in " + t + " is empty");
        Path c = file("{\"prompt\": \"a\", \"completion\": \"\"}", "{\"prompt\": \"b\", \"completion\": \"\"}");
        assertThatThrownBy(() -> JsonlDataset.read(c, CHARS, opts(16, false)))
                .hasMessageStartingWith(c + ":1: every completion in " + c + " is empty");
        // one empty completion among others is fine
        Path ok = file("{\"prompt\": \"a\", \"completion\": \"\"}", "{\"prompt\": \"b\", \"completion\": \"c\"}");
        assertThat(JsonlDataset.read(ok, CHARS, opts(16, false))).hasSize(2);
    }

    @Test
    void errorsNameFileAndLine() throws IOException {
        assertThatThrownBy(() -> JsonlDataset.read(file("{\"text\": \"a\"}", "{oops"), CHARS, opts(16, false)))
                .isInstanceOf(DatasetException.class).hasMessageContaining("data.jsonl:2").hasMessageContaining("JSON");
        assertThatThrownBy(() -> JsonlDataset.read(file("{\"prompt\": \"a\"}"), CHARS, opts(16, false)))
                .hasMessageContaining("data.jsonl:1").hasMessageContaining("missing field \"completion\"");
        assertThatThrownBy(() -> JsonlDataset.read(file("{\"txt\": \"a\"}"), CHARS, opts(16, false)))
                .hasMessageContaining("data.jsonl:1").hasMessageContaining("\"text\"");
        assertThatThrownBy(() -> JsonlDataset.read(file("{\"text\": 5}"), CHARS, opts(16, false)))
                .hasMessageContaining("data.jsonl:1").hasMessageContaining("must be a string, got number");
        assertThatThrownBy(() -> JsonlDataset.read(file("[1, 2]"), CHARS, opts(16, false)))
                .hasMessageContaining("data.jsonl:1").hasMessageContaining("expected a JSON object, got array");
        Path empty = dir.resolve("empty.jsonl");
        Files.writeString(empty, "\n  \n");
        assertThatThrownBy(() -> JsonlDataset.read(empty, CHARS, opts(16, false)))
                .hasMessageContaining("empty.jsonl").hasMessageContaining("no examples");
    }

    @Test
    void tooLongExampleErrorsOrIsTruncated() throws IOException {
        Path f = file("{\"text\": \"ab\"}", "{\"text\": \"abcdefghij\"}");
        assertThatThrownBy(() -> JsonlDataset.read(f, CHARS, opts(8, false)))
                .hasMessageContaining("data.jsonl:2").hasMessageContaining("12 tokens")
                .hasMessageContaining("context of 8").hasMessageContaining("truncate");
        List<Example> ex = JsonlDataset.read(f, CHARS, opts(8, true));
        assertThat(ex.get(1).length()).isEqualTo(8);
        assertThat(ex.get(1).inputIds()[0]).isEqualTo(BOS);
    }

    @Test
    void paddingBatchesHaveMasksAndIgnoredLabels() {
        Example e1 = new Example(new long[] {1, 5, 6}, new long[] {1, 5, 6}, "a");
        Example e2 = new Example(new long[] {1, 7, 8, 9, 2}, new long[] {-100, -100, 8, 9, 2}, "b");
        Batch b = DataLoader.collate(List.of(e1, e2), PAD);
        assertThat(b.seqLen()).isEqualTo(5);
        assertThat(b.inputIds()).containsExactly(1, 5, 6, 0, 0, 1, 7, 8, 9, 2);
        assertThat(b.attentionMask()).containsExactly(1, 1, 1, 0, 0, 1, 1, 1, 1, 1);
        assertThat(b.labels()).containsExactly(1, 5, 6, -100, -100, -100, -100, 8, 9, 2);
        assertThat(b.tokens()).isEqualTo(8);
        assertThat(b.countedTokens()).isEqualTo(2 + 3);
    }

    @Test
    void packingCutsFixedRowsAndKeepsEveryToken() {
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            long[] ids = {1, 10 + i, 2};
            ex.add(new Example(ids, ids.clone(), "e" + i));
        }
        DataLoader dl = new DataLoader(ex, 2, true, 4, PAD, false, 0);
        assertThat(dl.rows()).isEqualTo(4); // 15 tokens -> 4+4+4+3
        Batch b0 = dl.batch(0, 0);
        assertThat(b0.inputIds()).containsExactly(1, 10, 2, 1, 11, 2, 1, 12);
        Batch b1 = dl.batch(0, 1);
        assertThat(b1.inputIds()).containsExactly(2, 1, 13, 2, 1, 14, 2, 0);
        assertThat(b1.attentionMask()).containsExactly(1, 1, 1, 1, 1, 1, 1, 0);
    }

    @Test
    void shuffleIsSeededPerEpochAndCoversEveryRow() {
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ex.add(new Example(new long[] {i, i}, new long[] {i, i}, "e" + i));
        }
        DataLoader a = new DataLoader(ex, 3, false, 0, PAD, true, 7);
        DataLoader b = new DataLoader(ex, 3, false, 0, PAD, true, 7);
        List<Long> epoch0 = firsts(a, 0);
        assertThat(epoch0).containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
        assertThat(firsts(b, 0)).isEqualTo(epoch0);
        assertThat(firsts(a, 1)).isNotEqualTo(epoch0).containsExactlyInAnyOrderElementsOf(epoch0);
        assertThat(firsts(new DataLoader(ex, 3, false, 0, PAD, true, 8), 0)).isNotEqualTo(epoch0);
        assertThat(firsts(new DataLoader(ex, 3, false, 0, PAD, false, 7), 0))
                .containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
        assertThat(a.batchesPerEpoch()).isEqualTo(4);
        assertThat(a.batch(0, 3).batchSize()).isEqualTo(1);
    }

    private static List<Long> firsts(DataLoader d, int epoch) {
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < d.batchesPerEpoch(); i++) {
            Batch b = d.batch(epoch, i);
            for (int r = 0; r < b.batchSize(); r++) {
                out.add(b.inputIds()[r * b.seqLen()]);
            }
        }
        return out;
    }

    @Test
    void splitIsSeededAndDisjoint() {
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ex.add(new Example(new long[] {i}, new long[] {i}, "e" + i));
        }
        DatasetSplit s = DatasetSplit.split(ex, 0.2, 3);
        assertThat(s.eval()).hasSize(4);
        assertThat(s.train()).hasSize(16).doesNotContainAnyElementsOf(s.eval());
        assertThat(DatasetSplit.split(ex, 0.2, 3).eval()).isEqualTo(s.eval());
        assertThat(DatasetSplit.split(ex, 0.0, 3).eval()).isEmpty();
    }
}
