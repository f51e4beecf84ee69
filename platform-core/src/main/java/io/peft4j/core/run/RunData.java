package io.peft4j.core.run;

import io.peft4j.api.ConfigException;
import io.peft4j.core.chat.ChatTemplate;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.train.data.AlpacaTemplate;
import io.peft4j.core.train.data.DataFormat;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.DataSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/** The data settings of a run: {@link DataOptions} and {@link DataSpec} from the config's {@code data} section. */
public final class RunData {
    /** Token id used for padding; every padded position is masked out of attention and loss. */
    public static final long PAD_ID = 0;

    private RunData() {
    }

    public static DataOptions options(RunConfig cfg, TextTokenizer tokenizer) {
        RunConfig.TrainingSection t = cfg.training();
        return new DataOptions(t.maxSeqLen(), t.truncate(), cfg.data().addBos(), cfg.data().addEos(),
                tokenizer.eosId() < 0 ? 2 : tokenizer.eosId(), PAD_ID);
    }

    public static DataSpec spec(RunConfig cfg, Path modelDir, DataOptions options) {
        RunConfig.DataSection d = cfg.data();
        AlpacaTemplate alpaca = d.alpacaTemplate() == null ? AlpacaTemplate.STANFORD
                : new AlpacaTemplate(d.alpacaTemplate().promptInput(), d.alpacaTemplate().promptNoInput());
        return new DataSpec(d.format() == null ? null : DataFormat.fromConfig(d.format()), d.columns(),
                chatTemplate(d.chatTemplate(), modelDir), d.assistantOnlyLoss(), alpaca, options);
    }

    /**
     * The chat template: {@code data.chat_template} (Jinja text, or a file path) with the model's special tokens, or
     * the model's own; loaded when first asked for (only chat data needs one).
     */
    static Supplier<ChatTemplate> chatTemplate(String configured, Path modelDir) {
        return () -> {
            if (configured == null) {
                return ChatTemplate.fromModelDir(modelDir);
            }
            String text = configured;
            String source = "data.chat_template";
            boolean inline = configured.contains("{{") || configured.contains("{%");
            if (!inline) {
                Path p = Path.of(configured);
                if (!Files.isRegularFile(p)) {
                    throw new ConfigException("data.chat_template", "expected Jinja template text or the path of a "
                            + "template file; " + p.toAbsolutePath() + " does not exist");
                }
                try {
                    text = Files.readString(p, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException("data.chat_template: cannot read " + p + ": " + e.getMessage(), e);
                }
                source = p.toString();
            }
            return ChatTemplate.of(text, ChatTemplate.specialTokensOf(modelDir.resolve("tokenizer_config.json")),
                    source);
        };
    }
}
