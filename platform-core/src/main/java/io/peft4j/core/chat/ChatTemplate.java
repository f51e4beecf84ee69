package io.peft4j.core.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model's chat template: the Jinja template of its {@code tokenizer_config.json} ({@code chat_template}), rendered
 * the way transformers' {@code tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)}
 * renders it.
 *
 * <p>What transformers does, and this class does too: the template sees {@code messages} (a list of
 * {@code {role, content, ...}} maps), {@code add_generation_prompt}, {@code tools} and {@code documents} (none unless
 * given), every special token of the tokenizer config by name ({@code bos_token}, {@code eos_token},
 * {@code unk_token}, {@code pad_token}, ..., {@code additional_special_tokens}), the functions
 * {@code raise_exception(message)} and {@code strftime_now(format)} and its own {@code tojson} filter (no HTML
 * escaping; {@code indent} supported); blocks are trimmed ({@code trim_blocks}, {@code lstrip_blocks}),
 * {@code break}/{@code continue} work (loop controls). Special tokens are placed by the template only: nothing is
 * added around its output (tokenize the result without adding BOS, as transformers tokenizes it with
 * {@code add_special_tokens=False}).
 *
 * <p>The engine is Jinjava with its Jinja-compatibility options on ({@link JinjaEnvironment}). Known differences
 * from Jinja: a variable bound to null (such as {@code tools}) is not {@code defined}, and {@code none} prints as
 * nothing rather than {@code None}; the templates of the golden tests (Llama 3, Llama 3.2, Qwen2.5, Mistral Nemo,
 * Gemma) do not depend on either. Rendering is thread-safe. Errors are {@link ChatTemplateException}s naming the
 * template's source and line.
 */
public final class ChatTemplate {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Special-token attributes transformers passes to the template (its {@code SPECIAL_TOKENS_ATTRIBUTES}). */
    private static final List<String> SPECIAL_TOKEN_KEYS = List.of("bos_token", "eos_token", "unk_token", "sep_token",
            "pad_token", "cls_token", "mask_token");

    private final String template;
    /** The template as Jinja lexes it: one trailing newline dropped (Jinja's default, keep_trailing_newline=False). */
    private final String body;
    private final Map<String, Object> specialTokens;
    private final String source;
    private final Jinjava jinjava;

    private ChatTemplate(String template, Map<String, Object> specialTokens, String source) {
        this.template = template;
        this.body = withoutTrailingNewline(template);
        this.specialTokens = Map.copyOf(specialTokens);
        this.source = source;
        this.jinjava = JinjaEnvironment.create();
    }

    /**
     * A template from its text.
     *
     * @param template      the Jinja source, as the {@code chat_template} value of a tokenizer config
     * @param specialTokens template variables for the special tokens, e.g. {@code bos_token -> "<s>"}; entries with
     *                      null values are left out
     * @param source        where the template came from, for error messages (a file name)
     */
    public static ChatTemplate of(String template, Map<String, ?> specialTokens, String source) {
        Objects.requireNonNull(template, "template");
        Map<String, Object> tokens = new LinkedHashMap<>();
        specialTokens.forEach((k, v) -> {
            if (v != null) {
                tokens.put(k, v);
            }
        });
        ChatTemplate t = new ChatTemplate(template, tokens, source == null ? "chat template" : source);
        t.checkSyntax();
        return t;
    }

    /**
     * The chat template of a Hugging Face model directory: {@code chat_template} of its {@code tokenizer_config.json}
     * (the entry named {@code default} when it is a list of named templates), else a {@code chat_template.jinja}
     * file beside it; special tokens from the same tokenizer config.
     *
     * @throws ChatTemplateException when the directory has no chat template (the message says how to give one)
     */
    public static ChatTemplate fromModelDir(Path modelDir) {
        Path config = modelDir.resolve("tokenizer_config.json");
        JsonNode root = readConfig(config);
        JsonNode ct = root.path("chat_template");
        String template = null;
        String source = config.toString();
        if (ct.isTextual()) {
            template = ct.textValue();
        } else if (ct.isArray()) {
            for (JsonNode named : ct) {
                if ("default".equals(named.path("name").asText())) {
                    template = named.path("template").asText();
                }
            }
            if (template == null) {
                throw new ChatTemplateException(config + ": chat_template is a list of named templates without one "
                        + "named \"default\"", -1);
            }
            source = config + " (chat_template \"default\")";
        }
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        if (template == null && Files.isRegularFile(jinjaFile)) {
            try {
                template = Files.readString(jinjaFile, StandardCharsets.UTF_8);
                source = jinjaFile.toString();
            } catch (IOException e) {
                throw new ChatTemplateException(jinjaFile + ": cannot read: " + e.getMessage(), -1, e);
            }
        }
        if (template == null) {
            throw new ChatTemplateException(modelDir + " has no chat template (no \"chat_template\" in "
                    + "tokenizer_config.json and no chat_template.jinja); give one with data.chat_template", -1);
        }
        return of(template, specialTokens(root, config), source);
    }

    /**
     * Special tokens of a tokenizer config as template variables ({@code bos_token} ... as strings,
     * {@code additional_special_tokens} as a list); absent or null ones are left out.
     */
    public static Map<String, Object> specialTokensOf(Path tokenizerConfig) {
        if (!Files.isRegularFile(tokenizerConfig)) {
            return Map.of();
        }
        return specialTokens(readConfig(tokenizerConfig), tokenizerConfig);
    }

    private static Map<String, Object> specialTokens(JsonNode root, Path config) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String key : SPECIAL_TOKEN_KEYS) {
            String v = tokenText(root.path(key));
            if (v != null) {
                out.put(key, v);
            }
        }
        JsonNode extra = root.path("additional_special_tokens");
        if (extra.isArray()) {
            List<String> list = new ArrayList<>();
            for (JsonNode t : extra) {
                String v = tokenText(t);
                if (v != null) {
                    list.add(v);
                }
            }
            out.put("additional_special_tokens", list);
        }
        return out;
    }

    /** A token written as a string or as an AddedToken object ({@code {"content": ..., ...}}). */
    private static String tokenText(JsonNode n) {
        if (n.isTextual()) {
            return n.textValue();
        }
        if (n.isObject() && n.path("content").isTextual()) {
            return n.path("content").textValue();
        }
        return null;
    }

    private static JsonNode readConfig(Path config) {
        if (!Files.isRegularFile(config)) {
            throw new ChatTemplateException(config + ": not found (a Hugging Face model directory has a "
                    + "tokenizer_config.json)", -1);
        }
        try {
            JsonNode root = JSON.readTree(config.toFile());
            if (root == null || !root.isObject()) {
                throw new ChatTemplateException(config + ": expected a JSON object", -1);
            }
            return root;
        } catch (IOException e) {
            throw new ChatTemplateException(config + ": not valid JSON: " + e.getMessage(), -1, e);
        }
    }

    /** Renders {@code messages}, with the assistant header after them when {@code addGenerationPrompt}. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders {@code messages} with further template variables (transformers' {@code **kwargs} of
     * {@code apply_chat_template}: {@code tools}, {@code documents}, {@code date_string}, ...), which override the
     * special tokens of the same name.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        List<Map<String, Object>> list = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            list.add(m.asTemplateValue());
        }
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("messages", list);
        vars.put("tools", null);
        vars.put("documents", null);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.putAll(specialTokens);
        vars.putAll(variables);
        return renderWith(vars);
    }

    private String renderWith(Map<String, Object> vars) {
        RenderResult result;
        try {
            result = jinjava.renderForResult(body, vars);
        } catch (JinjaEnvironment.TemplateRaised r) {
            throw new ChatTemplateException(source + ": the template raised an error: " + r.getMessage(), -1, r);
        } catch (RuntimeException e) {
            throw new ChatTemplateException(source + ": cannot render the chat template: " + e.getMessage(), -1, e);
        }
        for (TemplateError err : result.getErrors()) {
            JinjaEnvironment.TemplateRaised raised = raisedBy(err.getException());
            if (raised != null) {
                int line = lineOfRaise(raised.getMessage(), err.getLineno());
                throw new ChatTemplateException(source + ", template line " + line
                        + ": the template raised an error: " + raised.getMessage(), line, raised);
            }
        }
        for (TemplateError err : result.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) {
                // For errors inside a block Jinjava gives the block's first line ("in or after").
                throw new ChatTemplateException(source + ", template line " + err.getLineno() + " (or the block "
                        + "it opens): " + err.getMessage(), err.getLineno(), err.getException());
            }
        }
        return result.getOutput();
    }

    /**
     * The line of the {@code raise_exception} call that raised {@code message}: Jinjava reports errors inside a block
     * at the block's first line, so the message literal is looked up in the source (when it occurs once).
     */
    private int lineOfRaise(String message, int reported) {
        int at = message == null || message.isEmpty() ? -1 : body.indexOf(message);
        if (at < 0 || body.indexOf(message, at + 1) >= 0) {
            return reported;
        }
        int line = 1;
        for (int i = 0; i < at; i++) {
            if (body.charAt(i) == '\n') {
                line++;
            }
        }
        return line;
    }

    private static JinjaEnvironment.TemplateRaised raisedBy(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof JinjaEnvironment.TemplateRaised r) {
                return r;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return null;
    }

    /** Parses once so that a syntax error is reported when the template is loaded, not at the first example. */
    private void checkSyntax() {
        RenderResult r = jinjava.renderForResult("{% if false %}" + body + "{% endif %}", Map.of());
        for (TemplateError err : r.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL
                    && err.getReason() == TemplateError.ErrorReason.SYNTAX_ERROR) {
                throw new ChatTemplateException(source + ", template line " + err.getLineno() + ": "
                        + err.getMessage(), err.getLineno(), err.getException());
            }
        }
    }

    private static String withoutTrailingNewline(String t) {
        if (t.endsWith("\r\n")) {
            return t.substring(0, t.length() - 2);
        }
        return t.endsWith("\n") || t.endsWith("\r") ? t.substring(0, t.length() - 1) : t;
    }

    /** The template source text. */
    public String template() {
        return template;
    }

    /** Where the template came from (file), as named in errors. */
    public String source() {
        return source;
    }

    /** The special-token variables the template sees ({@code bos_token -> "<s>"}, ...). */
    public Map<String, Object> specialTokens() {
        return specialTokens;
    }

    /** The {@code bos_token} string, or null. */
    public String bosToken() {
        return specialTokens.get("bos_token") instanceof String s ? s : null;
    }

    /** The {@code eos_token} string, or null. */
    public String eosToken() {
        return specialTokens.get("eos_token") instanceof String s ? s : null;
    }
}
