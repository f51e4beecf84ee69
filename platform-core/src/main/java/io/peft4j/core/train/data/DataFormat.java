package io.peft4j.core.train.data;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The shape of a training file's rows ({@code data.format}); detected per file when not given.
 *
 * <ul>
 *   <li>{@code text}: {@code {"text": ...}}, language modelling, every token is a label;</li>
 *   <li>{@code prompt_completion}: {@code {"prompt": ..., "completion": ...}}, loss on the completion only (TRL);</li>
 *   <li>{@code messages}: {@code {"messages": [{"role": ..., "content": ...}, ...]}}, rendered with the model's chat
 *       template; loss on the assistant turns only unless {@code data.assistant_only_loss: false};</li>
 *   <li>{@code alpaca}: {@code {"instruction": ..., "input": ..., "output": ...}}, the instruction and input filled
 *       into a prompt template (the Stanford Alpaca one by default), loss on the output;</li>
 *   <li>{@code plain_text}: a {@code .txt} file, tokenized line by line and cut into blocks of
 *       {@code training.max_seq_len} tokens (Hugging Face's {@code run_clm} {@code group_texts}).</li>
 * </ul>
 */
public enum DataFormat {
    TEXT, PROMPT_COMPLETION, MESSAGES, ALPACA, PLAIN_TEXT;

    /** The name used in configurations ({@code prompt_completion}). */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static List<String> configNames() {
        return Arrays.stream(values()).map(DataFormat::configName).toList();
    }

    /** The format named {@code name}, or null when it names none. */
    public static DataFormat fromConfig(String name) {
        for (DataFormat f : values()) {
            if (f.configName().equals(name)) {
                return f;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return configName();
    }
}
