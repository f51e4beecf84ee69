package io.peft4j.core.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Turns Jackson's binding errors into the configuration's own words: what the field expects and what was given
 * ("expected a whole number, got the text \"many\""), never a Java class name or Jackson's phrasing.
 */
public final class ConfigWording {
    private ConfigWording() {
    }

    /** The field path of a binding error, e.g. {@code training.steps} or {@code optimizer.betas[1]}. */
    public static String path(JsonMappingException e) {
        return e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
    }

    /**
     * The reason of a binding error: expected vs given. {@code given} is the value at the error's path (a
     * {@link JsonNode}, or the plain Java value of a parsed map), or null when unknown.
     */
    public static String reason(JsonMappingException e, Object given) {
        if (e instanceof ValueInstantiationException v && v.getCause() != null && v.getCause().getMessage() != null) {
            return v.getCause().getMessage();
        }
        Class<?> target = e instanceof MismatchedInputException m ? m.getTargetType() : null;
        Object value = e instanceof InvalidFormatException f && given == null ? f.getValue() : given;
        return (target != null ? "expected " + expected(target) + ", got " : "invalid value: ") + given(value);
    }

    /** The value at a binding error's path inside {@code root} (a JsonNode or nested Java maps/lists), or null. */
    public static Object at(Object root, JsonMappingException e) {
        Object cur = root;
        for (JsonMappingException.Reference r : e.getPath()) {
            if (cur instanceof JsonNode n) {
                cur = r.getFieldName() != null ? n.get(r.getFieldName()) : n.get(r.getIndex());
            } else if (cur instanceof Map<?, ?> m && r.getFieldName() != null) {
                cur = m.get(r.getFieldName());
            } else if (cur instanceof List<?> l && r.getIndex() >= 0 && r.getIndex() < l.size()) {
                cur = l.get(r.getIndex());
            } else {
                return null;
            }
            if (cur == null) {
                return null;
            }
        }
        return cur;
    }

    /** What a Java type accepts, in configuration terms. */
    public static String expected(Class<?> type) {
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class
                || type == Short.class || type == short.class) {
            return "a whole number";
        }
        if (type == Double.class || type == double.class || type == Float.class || type == float.class
                || Number.class.isAssignableFrom(type)) {
            return "a number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type == String.class || CharSequence.class.isAssignableFrom(type)) {
            return "a text value";
        }
        if (type.isArray() || Collection.class.isAssignableFrom(type)) {
            return "a list";
        }
        if (Map.class.isAssignableFrom(type)) {
            return "a mapping (key: value)";
        }
        if (type.isEnum()) {
            return "one of " + Arrays.stream(type.getEnumConstants()).map(String::valueOf).toList();
        }
        if (type.isRecord()) {
            List<String> keys = new ArrayList<>();
            for (RecordComponent c : type.getRecordComponents()) {
                // @JsonProperty has no RECORD_COMPONENT target: Java puts it on the accessor (and field).
                JsonProperty p = c.getAccessor().getAnnotation(JsonProperty.class);
                keys.add(p != null && !p.value().isEmpty() ? p.value() : c.getName());
            }
            return "a mapping with keys " + keys;
        }
        return "a mapping";
    }

    /** A given value as the user wrote it. */
    public static String given(Object value) {
        if (value instanceof JsonNode n) {
            if (n.isNull() || n.isMissingNode()) {
                return "nothing (null)";
            }
            if (n.isTextual()) {
                return "the text \"" + n.asText() + "\"";
            }
            if (n.isArray()) {
                return "a list " + abbreviate(n.toString());
            }
            if (n.isObject()) {
                return "a mapping " + abbreviate(n.toString());
            }
            return n.asText();
        }
        if (value == null) {
            return "nothing (null)";
        }
        if (value instanceof CharSequence s) {
            return "the text \"" + s + "\"";
        }
        if (value instanceof Collection<?> c) {
            return "a list " + abbreviate(String.valueOf(c));
        }
        if (value instanceof Map<?, ?> m) {
            return "a mapping " + abbreviate(String.valueOf(m));
        }
        return String.valueOf(value);
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
