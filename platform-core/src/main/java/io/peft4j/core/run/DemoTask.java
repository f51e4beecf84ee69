package io.peft4j.core.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.model.GenerationOptions;
import io.peft4j.core.model.Generator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The bundled demo task: "A story about NAME:" must be continued by a story featuring NAME. The task score is the
 * share of eval prompts whose greedy continuation (48 tokens) mentions the name given in the prompt - a measurable
 * behaviour the base stories260K does not have (it writes about Lily, Tim or Ben instead).
 */
public final class DemoTask {
    private static final Pattern NAME = Pattern.compile("A story about (\\w+):");
    private static final int NEW_TOKENS = 48;

    private DemoTask() {
    }

    /** Score and a few samples. */
    public record Score(double fraction, int hits, int total, List<String> samples) {
    }

    /** The eval prompts of a JSONL file with {@code prompt} fields. */
    public static List<String> prompts(Path jsonl) {
        List<String> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        try {
            for (String line : Files.readAllLines(jsonl)) {
                if (!line.isBlank()) {
                    JsonNode n = json.readTree(line);
                    out.add(n.get("prompt").asText());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    public static Score score(TuningSession s, List<String> prompts, int samples) {
        Set<Long> stops = Set.of((long) Math.max(s.tokenizer().eosId(), 2), (long) s.tokenizer().bosId());
        List<Generator.Result> results = s.generate(prompts,
                GenerationOptions.greedy(NEW_TOKENS).withStopTokenIds(stops));
        int hits = 0;
        List<String> shown = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Matcher m = NAME.matcher(prompts.get(i));
            String name = m.find() ? m.group(1) : null;
            String text = results.get(i).text();
            if (name != null && Pattern.compile("\\b" + Pattern.quote(name) + "\\b").matcher(text).find()) {
                hits++;
            }
            if (shown.size() < samples) {
                shown.add(prompts.get(i) + text);
            }
        }
        return new Score(prompts.isEmpty() ? 0 : (double) hits / prompts.size(), hits, prompts.size(), shown);
    }
}
