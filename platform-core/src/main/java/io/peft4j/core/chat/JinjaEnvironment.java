package io.peft4j.core.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.time.LocalDateTime;
import java.util.Locale;
import java.util.Map;

/**
 * The Jinja environment transformers renders chat templates in, on Jinjava: {@code trim_blocks} and
 * {@code lstrip_blocks}, Jinja's semantics where Jinjava offers a choice, no re-interpretation of printed
 * {@code "{{"}, the functions {@code raise_exception(message)} and {@code strftime_now(format)}, and transformers'
 * {@code tojson} filter. The two functions are public only because Jinjava calls them by reflection.
 */
public final class JinjaEnvironment {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JinjaEnvironment() {
    }

    /** A Jinjava engine configured as transformers' Jinja environment (see the class doc). */
    static Jinjava create() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Output is text for a tokenizer: never re-interpret "{{" that a template prints (Qwen prints some).
                .withNestedInterpretationEnabled(false)
                // Jinja's semantics where Jinjava offers a choice (not LegacyOverrides.ALL: it also demands spaces
                // inside "{{ }}" and strips a trailing newline from the OUTPUT, which Jinja never does).
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withKeepNullableLoopValues(true)
                        .withHandleBackslashInQuotesOnly(true)
                        .build())
                .withLocale(Locale.ENGLISH)
                .build();
        Jinjava j = new Jinjava(config);
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", JinjaEnvironment.class,
                "raiseException", String.class));
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", JinjaEnvironment.class,
                "strftimeNow", String.class));
        j.getGlobalContext().registerFilter(new TojsonFilter());
        return j;
    }

    /** The template's {@code raise_exception(message)}: aborts rendering with the template's message. */
    public static String raiseException(String message) {
        throw new TemplateRaised(message);
    }

    /** The template's {@code strftime_now(format)}: the local time in Python {@code strftime} format. */
    public static String strftimeNow(String format) {
        return Strftime.format(LocalDateTime.now(), format);
    }

    /** Thrown by {@code raise_exception}; carries the template's own message. */
    static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message);
        }
    }

    /**
     * transformers' {@code tojson}: {@code json.dumps(x, ensure_ascii=False, indent=indent)} - Python's separators
     * ({@code ", "} and {@code ": "}), no HTML escaping, keys in insertion order.
     */
    static final class TojsonFilter implements com.hubspot.jinjava.lib.filter.Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, com.hubspot.jinjava.interpret.JinjavaInterpreter interpreter,
                             String... args) {
            Integer indent = null;
            if (args.length > 0 && args[0] != null && !args[0].isBlank()) {
                indent = Integer.parseInt(args[0].trim());
            }
            return PythonJson.dumps(var, indent);
        }

        @Override
        public Object filter(Object var, com.hubspot.jinjava.interpret.JinjavaInterpreter interpreter,
                             Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.get("indent");
            if (indent == null && args.length > 0) {
                indent = args[0];
            }
            return PythonJson.dumps(var, indent == null ? null : Integer.valueOf(String.valueOf(indent)));
        }
    }

    /** Python's {@code json.dumps} layout over Jackson. */
    static final class PythonJson {
        private PythonJson() {
        }

        static String dumps(Object value, Integer indent) {
            try {
                ObjectWriter w;
                if (indent == null) {
                    w = JSON.writer(new CompactPrinter());
                } else {
                    DefaultPrettyPrinter p = new DefaultPrettyPrinter()
                            .withObjectIndenter(new DefaultIndenter(" ".repeat(indent), "\n"))
                            .withArrayIndenter(new DefaultIndenter(" ".repeat(indent), "\n"))
                            .withSeparators(com.fasterxml.jackson.core.util.Separators.createDefaultInstance()
                                    .withObjectFieldValueSpacing(com.fasterxml.jackson.core.util.Separators.Spacing.AFTER));
                    w = JSON.writer(p);
                }
                return w.writeValueAsString(value);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("tojson: cannot serialise " + e.getOriginalMessage(), e);
            }
        }

        /** {@code ", "} between items and {@code ": "} after keys, all on one line. */
        private static final class CompactPrinter extends com.fasterxml.jackson.core.util.MinimalPrettyPrinter {
            @Override
            public void writeObjectFieldValueSeparator(com.fasterxml.jackson.core.JsonGenerator g) throws IOException {
                g.writeRaw(": ");
            }

            @Override
            public void writeObjectEntrySeparator(com.fasterxml.jackson.core.JsonGenerator g) throws IOException {
                g.writeRaw(", ");
            }

            @Override
            public void writeArrayValueSeparator(com.fasterxml.jackson.core.JsonGenerator g) throws IOException {
                g.writeRaw(", ");
            }
        }
    }
}
