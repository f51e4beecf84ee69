package io.peft4j.serve.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.peft4j.serve.engine.ServeException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The fields of a {@code /v1/completions} or {@code /v1/chat/completions} body that the server reads, checked as
 * OpenAI documents them. Fields that would change the result in a way the server does not implement ({@code n > 1},
 * {@code echo}, {@code logprobs}, {@code best_of > 1}, tools) are refused rather than ignored; other fields (user,
 * metadata, ...) are ignored.
 *
 * @param maxTokens null when the body gives none
 */
record GenerationParams(String model, Integer maxTokens, double temperature, double topP, long seed,
                        List<String> stop, boolean stream, boolean includeUsage) {

    /** OpenAI allows at most this many stop sequences. */
    static final int MAX_STOPS = 4;

    static GenerationParams parse(JsonNode body, boolean chat) {
        if (!body.isObject()) {
            throw ServeException.invalid(null, "the request body must be a JSON object");
        }
        JsonNode model = body.path("model");
        if (!model.isTextual()) {
            throw ServeException.invalid("model", "you must provide a model parameter (a string: \"base\", an "
                    + "adapter name or several joined with '+')");
        }
        Integer maxTokens = optionalInt(body, chat && body.hasNonNull("max_completion_tokens")
                ? "max_completion_tokens" : "max_tokens", 1);
        double temperature = number(body, "temperature", 1.0, 0, 2);
        double topP = number(body, "top_p", 1.0, 0, 1);
        if (topP <= 0) {
            throw ServeException.invalid("top_p", "must be > 0 and <= 1, got " + topP);
        }
        long seed;
        JsonNode s = body.path("seed");
        if (s.isMissingNode() || s.isNull()) {
            seed = ThreadLocalRandom.current().nextLong();
        } else if (s.canConvertToLong() && s.isIntegralNumber()) {
            seed = s.asLong();
        } else {
            throw ServeException.invalid("seed", "must be an integer, got " + s);
        }
        Integer n = optionalInt(body, "n", 1);
        if (n != null && n != 1) {
            throw ServeException.invalid("n", "only n = 1 is supported, got " + n);
        }
        if (body.path("echo").asBoolean(false)) {
            throw ServeException.invalid("echo", "echo is not supported");
        }
        JsonNode lp = body.path("logprobs");
        if (!lp.isMissingNode() && !lp.isNull() && !(lp.isBoolean() && !lp.asBoolean())) {
            throw ServeException.invalid("logprobs", "logprobs are not supported");
        }
        Integer bestOf = optionalInt(body, "best_of", 1);
        if (bestOf != null && bestOf != 1) {
            throw ServeException.invalid("best_of", "only best_of = 1 is supported, got " + bestOf);
        }
        if (body.hasNonNull("tools") && body.path("tools").size() > 0) {
            throw ServeException.invalid("tools", "tool calling is not supported");
        }
        JsonNode rf = body.path("response_format");
        if (rf.isObject() && !"text".equals(rf.path("type").asText("text"))) {
            throw ServeException.invalid("response_format", "only {\"type\": \"text\"} is supported");
        }
        List<String> stop = new ArrayList<>();
        JsonNode st = body.path("stop");
        if (st.isTextual()) {
            stop.add(st.asText());
        } else if (st.isArray()) {
            for (JsonNode e : st) {
                if (!e.isTextual()) {
                    throw ServeException.invalid("stop", "must be a string or an array of strings, got " + st);
                }
                stop.add(e.asText());
            }
        } else if (!st.isMissingNode() && !st.isNull()) {
            throw ServeException.invalid("stop", "must be a string or an array of strings, got " + st);
        }
        if (stop.size() > MAX_STOPS) {
            throw ServeException.invalid("stop", "at most " + MAX_STOPS + " stop sequences, got " + stop.size());
        }
        JsonNode streamNode = body.path("stream");
        if (!streamNode.isMissingNode() && !streamNode.isNull() && !streamNode.isBoolean()) {
            throw ServeException.invalid("stream", "must be true or false, got " + streamNode);
        }
        boolean stream = streamNode.asBoolean(false);
        boolean usage = body.path("stream_options").path("include_usage").asBoolean(false);
        return new GenerationParams(model.asText(), maxTokens, temperature, topP, seed, List.copyOf(stop), stream,
                usage);
    }

    private static Integer optionalInt(JsonNode body, String field, int min) {
        JsonNode v = body.path(field);
        if (v.isMissingNode() || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ServeException.invalid(field, "must be an integer, got " + v);
        }
        if (v.asInt() < min) {
            throw ServeException.invalid(field, "must be >= " + min + ", got " + v.asInt());
        }
        return v.asInt();
    }

    private static double number(JsonNode body, String field, double dflt, double min, double max) {
        JsonNode v = body.path(field);
        if (v.isMissingNode() || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber()) {
            throw ServeException.invalid(field, "must be a number, got " + v);
        }
        double d = v.asDouble();
        if (!(d >= min && d <= max)) {
            throw ServeException.invalid(field, "must be between " + min + " and " + max + ", got " + d);
        }
        return d;
    }

    /** The prompt of a completions body: a string, or one list of token ids (a single-element array of either). */
    static Object completionPrompt(JsonNode body) {
        JsonNode p = body.path("prompt");
        if (p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
            p = p.get(0);
        }
        if (p.isTextual()) {
            return p.asText();
        }
        if (p.isArray() && p.size() > 0) {
            long[] ids = new long[p.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!p.get(i).isIntegralNumber()) {
                    throw ServeException.invalid("prompt", "must be a string, an array of token ids, or a "
                            + "one-element array of either (batched prompts are not supported)");
                }
                ids[i] = p.get(i).asLong();
            }
            return ids;
        }
        throw ServeException.invalid("prompt", "required: a string, an array of token ids, or a one-element array "
                + "of either (batched prompts are not supported)");
    }

    /** The messages of a chat body; content may be a string or an array of text parts. */
    static List<ChatFormat.Message> messages(JsonNode body) {
        JsonNode ms = body.path("messages");
        if (!ms.isArray() || ms.isEmpty()) {
            throw ServeException.invalid("messages", "required: a non-empty array of {role, content} objects");
        }
        List<ChatFormat.Message> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String field = "messages[" + i + "]";
            if (!m.path("role").isTextual()) {
                throw ServeException.invalid(field + ".role", "required: a string such as \"system\", \"user\" or "
                        + "\"assistant\"");
            }
            JsonNode c = m.path("content");
            String content;
            if (c.isTextual()) {
                content = c.asText();
            } else if (c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (JsonNode part : c) {
                    if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                        throw ServeException.invalid(field + ".content", "only text parts ({\"type\": \"text\", "
                                + "\"text\": ...}) are supported, got " + part.path("type"));
                    }
                    sb.append(part.path("text").asText());
                }
                content = sb.toString();
            } else if (c.isNull() || c.isMissingNode()) {
                content = "";
            } else {
                throw ServeException.invalid(field + ".content", "must be a string or an array of text parts");
            }
            out.add(new ChatFormat.Message(m.path("role").asText(), content));
        }
        return out;
    }
}
