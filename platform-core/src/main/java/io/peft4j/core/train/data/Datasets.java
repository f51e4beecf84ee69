package io.peft4j.core.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.core.chat.ChatMessage;
import io.peft4j.core.chat.ChatTemplate;
import io.peft4j.core.chat.ChatTemplateException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a dataset file (JSONL, JSON, CSV, TSV, Parquet or plain text, see {@link RecordSource}) into tokenized
 * examples, per {@link DataSpec}. Rows are streamed; every error names the file and the line or row.
 *
 * <p>One file holds one format: with {@code data.format} unset it is taken from the first row, and a later row of
 * another format is an error naming its line. A file in which every text (or completion, alpaca output, assistant
 * turn) is empty is an error naming the first such line: there would be nothing to learn.
 *
 * <p>Tokenization per format: {@code text} is encoded whole (BOS per {@link DataOptions#addBos()});
 * {@code prompt_completion} and {@code alpaca} as {@code prompt + completion} in one piece with the prompt's tokens
 * masked (as TRL); EOS appended per {@link DataOptions#appendEos()}. {@code messages} are rendered by the chat
 * template and tokenized without added special tokens (the template places BOS/EOS, as transformers'
 * {@code apply_chat_template(tokenize=True)}); see {@link ChatMasking} for the assistant-only loss mask.
 */
public final class Datasets {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Datasets() {
    }

    public static LoadedDataset read(Path file, DataSpec spec, Tokenization tok) {
        if (spec.format() == DataFormat.PLAIN_TEXT || (spec.format() == null
                && RecordSource.kindOf(file) == RecordSource.Kind.TXT)) {
            return PlainTextDataset.read(file, tok, spec.options());
        }
        if (RecordSource.kindOf(file) == RecordSource.Kind.TXT) {
            throw new DatasetException(file + ": a .txt file is plain text, but data.format is "
                    + spec.format() + "; use data.format: plain_text or a JSONL/Parquet/CSV file");
        }
        Reader r = new Reader(file, spec, tok);
        RecordSource.forEach(file, rec -> r.accept(rec));
        return r.finish();
    }

    /** Tokenizes one row on its own (its format detected unless {@code spec} sets one). */
    public static Example encode(DataRecord row, DataSpec spec, Tokenization tok) {
        return new Reader(null, spec, tok).accept(row);
    }

    /** Format of one row from its fields, or an error naming the row. */
    static DataFormat detect(ObjectNode row, DataSpec spec, String where) {
        // A null value counts as absent: Parquet and CSV rows carry every column of the file, null where unset.
        List<DataFormat> found = new ArrayList<>();
        if (present(row, spec, "messages")) {
            found.add(DataFormat.MESSAGES);
        }
        if (present(row, spec, "instruction") || present(row, spec, "output")) {
            found.add(DataFormat.ALPACA);
        }
        if (present(row, spec, "prompt") || present(row, spec, "completion")) {
            found.add(DataFormat.PROMPT_COMPLETION);
        }
        if (present(row, spec, "text")) {
            found.add(DataFormat.TEXT);
        }
        if (found.isEmpty()) {
            List<String> names = new ArrayList<>();
            row.fieldNames().forEachRemaining(names::add);
            throw new DatasetException(where + ": cannot tell the format from the fields " + names + "; expected "
                    + "\"" + spec.column("text") + "\" (text), \"" + spec.column("prompt") + "\" + \""
                    + spec.column("completion") + "\" (prompt_completion), \"" + spec.column("messages")
                    + "\" (messages) or \"" + spec.column("instruction") + "\" + \"" + spec.column("output")
                    + "\" (alpaca); map other column names with data.columns, or set data.format");
        }
        if (found.size() > 1) {
            throw new DatasetException(where + ": has the fields of several formats " + found + "; use one, or "
                    + "set data.format");
        }
        return found.get(0);
    }

    private static boolean present(ObjectNode row, DataSpec spec, String field) {
        JsonNode v = row.get(spec.column(field));
        return v != null && !v.isNull();
    }

    /** Reads the rows of one file in order. */
    private static final class Reader {
        private final Path file;
        private final DataSpec spec;
        private final Tokenization tok;
        private final List<Example> examples = new ArrayList<>();
        private DataFormat format;
        private String formatWhere;
        private long rows;
        private boolean anyLearnable;
        private String firstEmpty;
        private ChatTemplate template;

        Reader(Path file, DataSpec spec, Tokenization tok) {
            this.file = file;
            this.spec = spec;
            this.tok = tok;
            this.format = spec.format();
        }

        Example accept(DataRecord rec) {
            rows++;
            DataFormat f = spec.format() != null ? spec.format() : detect(rec.fields(), spec, rec.where());
            if (format == null) {
                format = f;
                formatWhere = rec.where();
            } else if (f != format) {
                throw new DatasetException(rec.where() + ": a \"" + f + "\" row in a file whose first row ("
                        + formatWhere + ") is \"" + format + "\"; a file holds one format (split the file)");
            }
            Example e = switch (format) {
                case TEXT -> text(rec);
                case PROMPT_COMPLETION -> promptCompletion(rec, null, null);
                case ALPACA -> alpaca(rec);
                case MESSAGES -> messages(rec);
                case PLAIN_TEXT -> throw new IllegalStateException();
            };
            examples.add(e);
            return e;
        }

        LoadedDataset finish() {
            if (rows == 0) {
                throw new DatasetException(file + ": no examples (the file is empty or has only blank lines)");
            }
            if (!anyLearnable) {
                String what = switch (format) {
                    case TEXT -> "text";
                    case PROMPT_COMPLETION -> "completion";
                    case ALPACA -> "output";
                    case MESSAGES -> spec.assistantOnlyLoss() ? "assistant turn" : "message";
                    case PLAIN_TEXT -> "line";
                };
                throw new DatasetException(firstEmpty + ": every " + what + " in " + file + " is empty (this is "
                        + "the first); there is nothing to train on");
            }
            if (examples.stream().noneMatch(Datasets::hasLoss)) {
                throw new DatasetException(examples.get(0).source() + ": no token of any example in " + file
                        + " carries loss after cutting to training.max_seq_len = " + spec.options().maxLength()
                        + " (the prompts are longer than that); raise training.max_seq_len");
            }
            return new LoadedDataset(file, format, examples, rows);
        }

        private void learnable(boolean nonEmpty, String where) {
            if (nonEmpty) {
                anyLearnable = true;
            } else if (firstEmpty == null) {
                firstEmpty = where;
            }
        }

        private Example text(DataRecord rec) {
            String text = string(rec, "text", true);
            learnable(!text.isBlank(), rec.where());
            long[] ids = tok.encode(text, spec.options().addBos());
            return finish(ids, ids.clone(), rec.where(), true);
        }

        private Example alpaca(DataRecord rec) {
            String instruction = string(rec, "instruction", true);
            String input = string(rec, "input", false);
            String output = string(rec, "output", true);
            String prompt = spec.alpaca().prompt(instruction, input == null ? "" : input);
            return promptCompletion(rec, prompt, output);
        }

        /** A prompt/completion example; null arguments are read from the row's prompt and completion fields. */
        private Example promptCompletion(DataRecord rec, String prompt, String completion) {
            if (prompt == null) {
                prompt = string(rec, "prompt", true);
            }
            if (completion == null) {
                completion = string(rec, "completion", true);
            }
            learnable(!completion.isBlank(), rec.where());
            DataOptions o = spec.options();
            // As TRL's SFTTrainer: tokenize prompt + completion together (tokenizers merge across the seam) and
            // mask as many leading tokens as the prompt alone encodes to.
            int promptLen = tok.encode(prompt, o.addBos()).length;
            long[] ids = tok.encode(prompt + completion, o.addBos());
            long[] labels = ids.clone();
            Arrays.fill(labels, 0, Math.min(promptLen, ids.length), Example.IGNORE_INDEX);
            return finish(ids, labels, rec.where(), true);
        }

        private Example messages(DataRecord rec) {
            JsonNode list = rec.fields().get(spec.column("messages"));
            if (list == null || !list.isArray()) {
                throw new DatasetException(rec.where() + ": \"" + spec.column("messages") + "\" must be a list of "
                        + "{\"role\": ..., \"content\": ...} objects, got " + kind(list));
            }
            List<ChatMessage> msgs = new ArrayList<>();
            boolean any = false;
            for (int i = 0; i < list.size(); i++) {
                JsonNode m = list.get(i);
                String at = rec.where() + ": " + spec.column("messages") + "[" + i + "]";
                if (!m.isObject()) {
                    throw new DatasetException(at + " must be an object with \"role\" and \"content\", got " + kind(m));
                }
                JsonNode role = m.get("role");
                JsonNode content = m.get("content");
                if (role == null || !role.isTextual()) {
                    throw new DatasetException(at + ".role must be a string (system, user, assistant, ...), got "
                            + kind(role));
                }
                if (content == null || !content.isTextual()) {
                    throw new DatasetException(at + ".content must be a string, got " + kind(content));
                }
                Map<String, Object> extra = new LinkedHashMap<>();
                m.fields().forEachRemaining(f -> {
                    if (!f.getKey().equals("role") && !f.getKey().equals("content") && !f.getValue().isNull()) {
                        extra.put(f.getKey(), JSON.convertValue(f.getValue(), Object.class));
                    }
                });
                msgs.add(new ChatMessage(role.textValue(), content.textValue(), extra));
                if (!content.textValue().isBlank()
                        && (!spec.assistantOnlyLoss() || "assistant".equals(role.textValue()))) {
                    any = true;
                }
            }
            if (msgs.isEmpty()) {
                throw new DatasetException(rec.where() + ": \"" + spec.column("messages") + "\" is empty");
            }
            learnable(any, rec.where());
            if (template == null) {
                if (spec.chatTemplate() == null) {
                    throw new DatasetException(rec.where() + ": a \"messages\" row needs a chat template; the model "
                            + "has none and data.chat_template is not set");
                }
                try {
                    template = spec.chatTemplate().get();
                } catch (ChatTemplateException e) {
                    throw new DatasetException(rec.where() + ": " + e.getMessage(), e);
                }
            }
            ChatMasking.Masked masked;
            try {
                masked = ChatMasking.encode(template, msgs, tok, spec.assistantOnlyLoss());
            } catch (ChatTemplateException e) {
                throw new DatasetException(rec.where() + ": " + e.getMessage(), e);
            } catch (DatasetException e) {
                throw new DatasetException(rec.where() + ": " + e.getMessage(), e);
            }
            return finish(masked.ids(), masked.labels(), rec.where(), false);
        }

        /** Appends EOS (when asked and {@code eosAllowed}) and applies the context length. */
        private Example finish(long[] ids, long[] labels, String where, boolean eosAllowed) {
            DataOptions o = spec.options();
            if (eosAllowed && o.appendEos()) {
                ids = Arrays.copyOf(ids, ids.length + 1);
                labels = Arrays.copyOf(labels, labels.length + 1);
                ids[ids.length - 1] = o.eosId();
                labels[labels.length - 1] = o.eosId();
            }
            if (ids.length == 0) {
                throw new DatasetException(where + ": encodes to no tokens");
            }
            if (ids.length > o.maxLength()) {
                if (!o.truncate()) {
                    throw new DatasetException(where + ": " + ids.length + " tokens, longer than the context of "
                            + o.maxLength() + "; shorten it or set truncate: true");
                }
                ids = Arrays.copyOf(ids, o.maxLength());
                labels = Arrays.copyOf(labels, o.maxLength());
            }
            return new Example(ids, labels, where);
        }

        /** The row's canonical field {@code field} (mapped by data.columns) as a string; null when absent. */
        private String string(DataRecord rec, String field, boolean required) {
            String col = spec.column(field);
            JsonNode v = rec.fields().get(col);
            if (v == null || v.isNull()) {
                if (required) {
                    throw new DatasetException(rec.where() + ": missing field \"" + col + "\""
                            + (col.equals(field) ? "" : " (data.columns maps " + field + " to it)")
                            + " of the \"" + format + "\" format");
                }
                return null;
            }
            if (!v.isTextual()) {
                throw new DatasetException(rec.where() + ": field \"" + col + "\" must be a string, got " + kind(v));
            }
            return v.textValue();
        }
    }

    /** Whether any label of {@code e} counts in the loss. */
    public static boolean hasLoss(Example e) {
        for (long l : e.labels()) {
            if (l != Example.IGNORE_INDEX) {
                return true;
            }
        }
        return false;
    }

    private static String kind(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "nothing";
        }
        return n.getNodeType().name().toLowerCase(Locale.ROOT);
    }
}
