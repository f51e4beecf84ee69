package io.peft4j.core.train.data;

import java.nio.file.Path;
import java.util.List;

/**
 * The tokenized examples of one file.
 *
 * @param file     the file
 * @param format   its format (detected or configured)
 * @param examples the examples in file order (for {@code plain_text}: the blocks)
 * @param rows     rows read (lines for {@code plain_text})
 */
public record LoadedDataset(Path file, DataFormat format, List<Example> examples, long rows) {
    public LoadedDataset {
        examples = List.copyOf(examples);
    }
}
