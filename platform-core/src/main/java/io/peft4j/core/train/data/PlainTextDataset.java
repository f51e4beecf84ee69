package io.peft4j.core.train.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain {@code .txt} file as language-modelling blocks, as Hugging Face's {@code run_clm.py} does with the
 * {@code text} loader ({@code keep_linebreaks}) and {@code group_texts}: each line (with its line break) is tokenized,
 * the tokens are concatenated (BOS first and EOS last per {@link DataOptions}) and cut into blocks of
 * {@link DataOptions#maxLength()} tokens; every token is a label. The last block may be shorter (it is kept when it
 * has at least two tokens, where {@code run_clm} drops it). The file is read line by line.
 */
public final class PlainTextDataset {
    private PlainTextDataset() {
    }

    public static LoadedDataset read(Path file, TextEncoder enc, DataOptions options) {
        int block = options.maxLength();
        List<Example> out = new ArrayList<>();
        long[] buf = new long[block];
        int fill = 0;
        int blockStartLine = 1;
        long lines = 0;
        boolean anyText = false;
        if (options.addBos()) {
            long[] bos = enc.encode("", true);
            for (long id : bos) {
                buf[fill++] = id;
            }
        }
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            String next = r.readLine();
            while ((line = next) != null) {
                next = r.readLine();
                lines++;
                anyText |= !line.isBlank();
                long[] ids = enc.encode(next != null ? line + "\n" : line, false);
                for (long id : ids) {
                    if (fill == block) {
                        out.add(new Example(buf.clone(), buf.clone(), file + " block " + (out.size() + 1)
                                + " (from line " + blockStartLine + ")"));
                        fill = 0;
                        blockStartLine = (int) lines;
                    }
                    buf[fill++] = id;
                }
            }
        } catch (CharacterCodingException e) {
            throw new DatasetException(file + ": not valid UTF-8 text", e);
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (!anyText) {
            throw new DatasetException(file + (lines == 0 ? ": the file is empty" : ":1: every line is empty")
                    + "; there is nothing to train on");
        }
        if (options.appendEos()) {
            if (fill == block) {
                out.add(new Example(buf.clone(), buf.clone(), file + " block " + (out.size() + 1) + " (from line "
                        + blockStartLine + ")"));
                fill = 0;
            }
            buf[fill++] = options.eosId();
        }
        if (fill >= 2) {
            long[] last = Arrays.copyOf(buf, fill);
            out.add(new Example(last, last.clone(), file + " block " + (out.size() + 1) + " (from line "
                    + blockStartLine + ")"));
        }
        if (out.isEmpty()) {
            throw new DatasetException(file + ": encodes to fewer than two tokens; nothing to train on");
        }
        return new LoadedDataset(file, DataFormat.PLAIN_TEXT, out, lines);
    }
}
