package io.peft4j.core.train.data;

import io.peft4j.core.chat.ChatTemplate;
import java.util.Map;
import java.util.function.Supplier;

/**
 * How dataset files are read and tokenized.
 *
 * @param format            the rows' format, or null to detect it per file (from the first row's fields; {@code .txt}
 *                          files are {@link DataFormat#PLAIN_TEXT})
 * @param columns           canonical field name to the file's column name, e.g. {@code prompt -> question}
 *                          (canonical names: text, prompt, completion, messages, instruction, input, output)
 * @param chatTemplate      the chat template for {@code messages} rows (asked for only when such rows are read)
 * @param assistantOnlyLoss {@code messages}: loss on the assistant turns only (true) or on every token (false)
 * @param alpaca            the prompt template of {@code alpaca} rows
 * @param options           tokenization options (context length, truncation, BOS/EOS)
 */
public record DataSpec(DataFormat format, Map<String, String> columns, Supplier<ChatTemplate> chatTemplate,
                       boolean assistantOnlyLoss, AlpacaTemplate alpaca, DataOptions options) {
    public DataSpec {
        columns = columns == null ? Map.of() : Map.copyOf(columns);
        alpaca = alpaca == null ? AlpacaTemplate.STANFORD : alpaca;
    }

    /** Auto-detected formats, no column mapping, no chat template, Alpaca's prompt. */
    public static DataSpec of(DataOptions options) {
        return new DataSpec(null, Map.of(), null, true, AlpacaTemplate.STANFORD, options);
    }

    /** The file's column for canonical field {@code field}. */
    public String column(String field) {
        return columns.getOrDefault(field, field);
    }
}
