package io.peft4j.core.run;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.DataSpec;
import io.peft4j.core.train.data.Datasets;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.LoadedDataset;
import io.peft4j.core.train.data.Tokenization;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a run's data turns into before any training ({@code peft4j data preview}, like torchtune's {@code tune
 * validate} and axolotl's {@code preprocess --debug}): per file the format, rows, token counts and the share of
 * tokens with loss; for the first examples the text the model sees with the loss-carrying parts marked, and where
 * the loss mask starts and ends (token positions). Needs the model's tokenizer only, no weights or plugins.
 */
public final class DataPreview {
    /** Marks the start of text whose tokens carry loss. */
    public static final String LOSS_START = "«";
    /** Marks its end. */
    public static final String LOSS_END = "»";

    private DataPreview() {
    }

    /** The preview of {@code cfg}'s data, with {@code examples} examples of the training file shown. */
    public static String of(RunConfig cfg, int examples) {
        Path modelDir = Bundled.modelDir(cfg.model().path(), "model.path");
        Path train = cfg.data().train() == null ? null : Bundled.file(cfg.data().train(), "data.train");
        Path eval = cfg.data().eval() == null ? null : Bundled.file(cfg.data().eval(), "data.eval");
        if (train == null) {
            throw new io.peft4j.api.ConfigException("data.train", "required: the training file to preview");
        }
        StringBuilder out = new StringBuilder();
        try (TextTokenizer tokenizer = TextTokenizer.load(modelDir.resolve("tokenizer.json"))) {
            DataOptions opts = RunData.options(cfg, tokenizer);
            DataSpec spec = RunData.spec(cfg, modelDir, opts);
            Tokenization tok = Tokenization.of(tokenizer);
            LoadedDataset ds = Datasets.read(train, spec, tok);
            summary(out, "data.train", ds, spec, opts);
            if (eval != null) {
                summary(out, "data.eval", Datasets.read(eval, spec, tok), spec, opts);
            }
            out.append("\nloss is on the text between ").append(LOSS_START).append(" and ").append(LOSS_END)
                    .append(" (special tokens shown as text)\n");
            List<Example> ex = ds.examples();
            for (int i = 0; i < Math.min(examples, ex.size()); i++) {
                example(out, i + 1, ex.get(i), tokenizer);
            }
        }
        return out.toString();
    }

    private static void summary(StringBuilder out, String field, LoadedDataset ds, DataSpec spec, DataOptions o) {
        long tokens = 0;
        long loss = 0;
        int min = Integer.MAX_VALUE;
        int max = 0;
        int atLimit = 0;
        for (Example e : ds.examples()) {
            tokens += e.length();
            loss += lossTokens(e);
            min = Math.min(min, e.length());
            max = Math.max(max, e.length());
            atLimit += e.length() >= o.maxLength() ? 1 : 0;
        }
        int n = ds.examples().size();
        out.append(field).append(": ").append(ds.file()).append('\n');
        out.append(String.format(Locale.ROOT, "  format %s (%s), %d %s, %d examples%n", ds.format(),
                spec.format() == null ? "detected" : "data.format", ds.rows(),
                ds.format() == io.peft4j.core.train.data.DataFormat.PLAIN_TEXT ? "lines" : "rows", n));
        out.append(String.format(Locale.ROOT, "  tokens %d: per example min %d, mean %.1f, max %d "
                        + "(max_seq_len %d; %d at the limit%s)%n", tokens, min, (double) tokens / n, max,
                o.maxLength(), atLimit, o.truncate() ? ", cut there" : ""));
        long noLoss = ds.examples().stream().filter(e -> !Datasets.hasLoss(e)).count();
        out.append(String.format(Locale.ROOT, "  loss on %d tokens (%.1f %%)%s%n", loss, 100.0 * loss / tokens,
                noLoss == 0 ? "" : "; " + noLoss + " examples have none (cut before their completion: raise "
                        + "training.max_seq_len)"));
    }

    private static long lossTokens(Example e) {
        long n = 0;
        for (long l : e.labels()) {
            n += l == Example.IGNORE_INDEX ? 0 : 1;
        }
        return n;
    }

    private static void example(StringBuilder out, int number, Example e, TextTokenizer tokenizer) {
        List<int[]> runs = lossRuns(e);
        StringBuilder where = new StringBuilder();
        for (int[] r : runs) {
            where.append(where.length() == 0 ? "" : ", ").append(r[0]).append('-').append(r[1] - 1);
        }
        out.append(String.format(Locale.ROOT, "%nexample %d (%s): %d tokens, loss on %d: token%s %s%n", number,
                e.source(), e.length(), lossTokens(e), runs.size() == 1 && runs.get(0)[1] - runs.get(0)[0] == 1 ? ""
                        : "s", runs.isEmpty() ? "none" : where));
        out.append(marked(e, runs, tokenizer)).append('\n');
    }

    /** [start, end) token ranges whose labels carry loss. */
    static List<int[]> lossRuns(Example e) {
        List<int[]> runs = new ArrayList<>();
        long[] labels = e.labels();
        int i = 0;
        while (i < labels.length) {
            if (labels[i] == Example.IGNORE_INDEX) {
                i++;
                continue;
            }
            int s = i;
            while (i < labels.length && labels[i] != Example.IGNORE_INDEX) {
                i++;
            }
            runs.add(new int[] {s, i});
        }
        return runs;
    }

    /**
     * The decoded text with the loss runs marked. Pieces are cut from decodings of growing prefixes, so
     * SentencePiece's word-start spaces stay where they belong.
     */
    private static String marked(Example e, List<int[]> runs, TextTokenizer tokenizer) {
        List<Integer> cuts = new ArrayList<>();
        cuts.add(0);
        for (int[] r : runs) {
            cuts.add(r[0]);
            cuts.add(r[1]);
        }
        cuts.add(e.length());
        StringBuilder out = new StringBuilder();
        String prev = "";
        for (int c = 1; c < cuts.size(); c++) {
            int end = cuts.get(c);
            String text = tokenizer.decode(java.util.Arrays.copyOf(e.inputIds(), end), false);
            String piece = text.startsWith(prev) ? text.substring(prev.length())
                    : tokenizer.decode(java.util.Arrays.copyOfRange(e.inputIds(), cuts.get(c - 1), end), false);
            // pieces alternate: [0, r0.start) no loss, [r0.start, r0.end) loss, [r0.end, r1.start) no loss, ...
            boolean loss = c % 2 == 0;
            if (loss && !piece.isEmpty()) {
                out.append(LOSS_START).append(piece).append(LOSS_END);
            } else {
                out.append(piece);
            }
            prev = text;
        }
        return out.toString();
    }
}
