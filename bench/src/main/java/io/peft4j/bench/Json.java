package io.peft4j.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;

/** One-line JSON records and number rounding as the peer writes them. */
final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {
    }

    static String line(Map<String, Object> rec) {
        try {
            return MAPPER.writeValueAsString(rec);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write bench record as JSON: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> parse(String line) {
        try {
            return MAPPER.readValue(line, Map.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a JSON bench record: " + line, e);
        }
    }

    /** {@code x} rounded to {@code digits} decimals (NaN and infinities unchanged). */
    static double round(double x, int digits) {
        if (!Double.isFinite(x)) {
            return x;
        }
        double f = Math.pow(10, digits);
        return Math.round(x * f) / f;
    }

    static List<Double> round(List<Double> xs, int digits) {
        return xs.stream().map(x -> round(x, digits)).toList();
    }
}
