package io.peft4j.plugins.nf4;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The non-tensor part of a bitsandbytes {@code QuantState}, stored as UTF-8 JSON in a uint8 tensor
 * ({@code weight.quant_state.bitsandbytes__nf4}, bnb {@code pack_dict_to_tensor}):
 * <pre>{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [out, in],
 *  "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.987...}</pre>
 * The nested fields are present only with double quantization. Written with Python's {@code json.dumps}
 * separators; read by a small strict parser (objects, arrays, strings, numbers, true/false/null) so that the plugin
 * bundles no JSON library.
 */
final class QuantStateJson {

    /** Parsed fields. {@code nestedBlocksize}/{@code nestedOffset} are null without double quantization. */
    record State(String quantType, int blocksize, String dtype, long[] shape, Integer nestedBlocksize,
                 String nestedDtype, Float nestedOffset) {
    }

    private QuantStateJson() {
    }

    static byte[] write(State s) {
        StringBuilder b = new StringBuilder("{");
        b.append("\"quant_type\": \"").append(s.quantType()).append('"');
        b.append(", \"blocksize\": ").append(s.blocksize());
        b.append(", \"dtype\": \"").append(s.dtype()).append('"');
        b.append(", \"shape\": [");
        for (int i = 0; i < s.shape().length; i++) {
            b.append(i == 0 ? "" : ", ").append(s.shape()[i]);
        }
        b.append(']');
        if (s.nestedBlocksize() != null) {
            b.append(", \"nested_blocksize\": ").append(s.nestedBlocksize());
            b.append(", \"nested_dtype\": \"").append(s.nestedDtype()).append('"');
            // The double of the float32 offset, as Python's offset.item() gives; parsing back is exact.
            b.append(", \"nested_offset\": ").append(Double.toString(s.nestedOffset()));
        }
        return b.append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Parses and checks types of the fields.
     *
     * @throws IllegalArgumentException describing what is malformed (the caller adds the tensor key)
     */
    static State read(byte[] utf8) {
        Object root = new Parser(new String(utf8, StandardCharsets.UTF_8)).parseDocument();
        if (!(root instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("expected a JSON object");
        }
        String quantType = string(m, "quant_type", true);
        int blocksize = (int) integer(m, "blocksize");
        String dtype = string(m, "dtype", false);
        Object shapeV = m.get("shape");
        if (!(shapeV instanceof List<?> sl)) {
            throw new IllegalArgumentException("\"shape\" must be a list of integers, got " + shapeV);
        }
        long[] shape = new long[sl.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(sl.get(i) instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
                    || n.doubleValue() < 0) {
                throw new IllegalArgumentException("\"shape\" must be a list of non-negative integers, got " + sl);
            }
            shape[i] = n.longValue();
        }
        boolean nested = m.containsKey("nested_blocksize") || m.containsKey("nested_offset");
        Integer nb = null;
        Float off = null;
        String ndt = null;
        if (nested) {
            nb = (int) integer(m, "nested_blocksize");
            Object o = m.get("nested_offset");
            if (!(o instanceof Number on)) {
                throw new IllegalArgumentException("\"nested_offset\" must be a number, got " + o);
            }
            off = on.floatValue();
            ndt = string(m, "nested_dtype", false);
        }
        return new State(quantType, blocksize, dtype == null ? "float32" : dtype, shape, nb,
                ndt == null && nested ? "float32" : ndt, off);
    }

    private static String string(Map<?, ?> m, String key, boolean required) {
        Object v = m.get(key);
        if (v == null && !required) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException("\"" + key + "\" must be a string, got " + v);
        }
        return s;
    }

    private static long integer(Map<?, ?> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw new IllegalArgumentException("\"" + key + "\" must be an integer, got " + v);
        }
        return n.longValue();
    }

    /** Strict JSON parser producing Map / List / String / Double / Long / Boolean / null. */
    private static final class Parser {
        private final String s;
        private int pos;

        Parser(String s) {
            this.s = s;
        }

        Object parseDocument() {
            Object v = value();
            ws();
            if (pos != s.length()) {
                throw error("unexpected trailing characters");
            }
            return v;
        }

        private Object value() {
            ws();
            if (pos >= s.length()) {
                throw error("unexpected end of input");
            }
            char c = s.charAt(pos);
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> number();
            };
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            pos++;
            ws();
            if (peek() == '}') {
                pos++;
                return m;
            }
            while (true) {
                ws();
                if (peek() != '"') {
                    throw error("expected a string key");
                }
                String k = string();
                ws();
                expect(':');
                m.put(k, value());
                ws();
                char c = next();
                if (c == '}') {
                    return m;
                }
                if (c != ',') {
                    throw error("expected ',' or '}'");
                }
            }
        }

        private List<Object> array() {
            List<Object> l = new ArrayList<>();
            pos++;
            ws();
            if (peek() == ']') {
                pos++;
                return l;
            }
            while (true) {
                l.add(value());
                ws();
                char c = next();
                if (c == ']') {
                    return l;
                }
                if (c != ',') {
                    throw error("expected ',' or ']'");
                }
            }
        }

        private String string() {
            pos++;
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') {
                    return b.toString();
                }
                if (c == '\\') {
                    char e = next();
                    switch (e) {
                        case '"', '\\', '/' -> b.append(e);
                        case 'b' -> b.append('\b');
                        case 'f' -> b.append('\f');
                        case 'n' -> b.append('\n');
                        case 'r' -> b.append('\r');
                        case 't' -> b.append('\t');
                        case 'u' -> {
                            if (pos + 4 > s.length()) {
                                throw error("bad \\u escape");
                            }
                            try {
                                b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                            } catch (NumberFormatException ex) {
                                throw error("bad \\u escape");
                            }
                            pos += 4;
                        }
                        default -> throw error("bad escape \\" + e);
                    }
                } else if (c < 0x20) {
                    throw error("control character in string");
                } else {
                    b.append(c);
                }
            }
        }

        private Object number() {
            int start = pos;
            while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0) {
                pos++;
            }
            String t = s.substring(start, pos);
            if (t.isEmpty() || !t.matches("-?(0|[1-9]\\d*)(\\.\\d+)?([eE][+-]?\\d+)?")) {
                pos = start;
                throw error("expected a value");
            }
            if (t.matches("-?\\d+") && t.length() < 19) {
                return Long.parseLong(t);
            }
            return Double.parseDouble(t);
        }

        private Object literal(String word, Object v) {
            if (!s.startsWith(word, pos)) {
                throw error("expected a value");
            }
            pos += word.length();
            return v;
        }

        private void ws() {
            while (pos < s.length() && " \t\r\n".indexOf(s.charAt(pos)) >= 0) {
                pos++;
            }
        }

        private char peek() {
            if (pos >= s.length()) {
                throw error("unexpected end of input");
            }
            return s.charAt(pos);
        }

        private char next() {
            char c = peek();
            pos++;
            return c;
        }

        private void expect(char c) {
            if (next() != c) {
                pos--;
                throw error("expected '" + c + "'");
            }
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("malformed JSON at character " + pos + ": " + what);
        }
    }
}
