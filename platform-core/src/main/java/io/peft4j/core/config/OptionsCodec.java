package io.peft4j.core.config;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ExtensionOptions;
import io.peft4j.core.util.Suggestions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The one codec between configuration maps and the typed records plugins declare: a method's
 * {@link io.peft4j.api.AdapterConfig} (through {@link io.peft4j.core.peft.AdapterConfigCodec}) and the
 * {@link ExtensionOptions} of quantizers, rank allocators, optimizer policies and mergers. The user's configuration
 * is read strictly (unknown keys are errors naming the nearest valid key, wrong types name the field and what was
 * expected); saved files are read leniently (unknown keys ignored, for forward compatibility).
 */
public final class OptionsCodec {
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();
    private static final ObjectMapper LENIENT = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();
    private static final ObjectMapper WRITER = JsonMapper.builder()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .build();

    private OptionsCodec() {
    }

    /**
     * Parses an extension's options from the user's configuration (null: none given, the record's defaults) and
     * validates them.
     *
     * @param field prefix of error fields, e.g. {@code quantization.options}
     * @param owner who the options belong to, for messages, e.g. {@code quantizer 'nf4'}
     */
    public static <O extends ExtensionOptions> O parse(Class<O> type, Map<String, ?> options, String field,
                                                       String owner) {
        return readStrict(type, options, field, owner, ExtensionOptions::validate);
    }

    /** As {@link #parse}, leniently: for options read back from a file this platform (or a later one) wrote. */
    public static <O extends ExtensionOptions> O parseSaved(Class<O> type, Map<String, ?> options, String file,
                                                            String owner) {
        return read(LENIENT, type, options, file, owner, ExtensionOptions::validate);
    }

    /** Strict parse into any record type, then {@code validate}; errors prefixed with {@code field}. */
    public static <T> T readStrict(Class<T> type, Map<String, ?> settings, String field, String owner,
                                   Consumer<? super T> validate) {
        return read(STRICT, type, settings, field, owner, validate);
    }

    /** Lenient parse into any record type (unknown keys ignored), then {@code validate}. */
    public static <T> T readLenient(Class<T> type, Map<String, ?> settings, String field, String owner,
                                    Consumer<? super T> validate) {
        return read(LENIENT, type, settings, field, owner, validate);
    }

    /** A record as a JSON map (every property, also defaults; map entries sorted by key). */
    public static Map<String, Object> toMap(Object record) {
        return WRITER.convertValue(record, new TypeReference<LinkedHashMap<String, Object>>() { });
    }

    /** Property names {@code type} accepts, sorted. */
    public static List<String> knownKeys(Class<?> type) {
        return STRICT.getSerializationConfig().introspect(STRICT.constructType(type))
                .findProperties().stream().map(p -> p.getName()).sorted().collect(Collectors.toList());
    }

    private static <T> T read(ObjectMapper mapper, Class<T> type, Map<String, ?> settings, String field,
                              String owner, Consumer<? super T> validate) {
        Map<String, ?> given = settings == null ? Map.of() : settings;
        try {
            T c = mapper.convertValue(given, type);
            validate.accept(c);
            return c;
        } catch (IllegalArgumentException e) {
            throw translate(e, owner, field, given);
        } catch (ConfigException e) {
            throw new ConfigException(join(field, e.field()), e.reason());
        }
    }

    private static ConfigException translate(IllegalArgumentException e, String owner, String field,
                                             Map<String, ?> given) {
        Throwable cause = e.getCause();
        if (cause instanceof UnrecognizedPropertyException u) {
            List<String> known = u.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
            String near = Suggestions.nearest(u.getPropertyName(), known);
            return new ConfigException(join(field, u.getPropertyName()), "unknown option for " + owner
                    + (near != null ? "; did you mean '" + near + "'?" : "") + " Valid options: " + known);
        }
        if (cause instanceof JsonMappingException j) {
            return new ConfigException(join(field, ConfigWording.path(j)),
                    ConfigWording.reason(j, ConfigWording.at(given, j)));
        }
        return new ConfigException(field, e.getMessage());
    }

    /** {@code a.b}, or whichever of the two is non-empty. */
    public static String join(String a, String b) {
        if (a == null || a.isEmpty()) {
            return b;
        }
        return b == null || b.isEmpty() ? a : a + "." + b;
    }
}
