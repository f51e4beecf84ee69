package io.peft4j.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Median and minimum of timings. */
final class Stats {
    private Stats() {
    }

    /** The median (mean of the two middle values for an even count), as Python's statistics.median. */
    static double median(List<Double> xs) {
        if (xs.isEmpty()) {
            return Double.NaN;
        }
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    static double min(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }
}
