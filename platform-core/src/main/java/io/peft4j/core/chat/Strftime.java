package io.peft4j.core.chat;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** Python's {@code datetime.strftime} directives (C locale) over {@code java.time}, for {@code strftime_now}. */
final class Strftime {
    private Strftime() {
    }

    static String format(LocalDateTime t, String format) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                out.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'd' -> out.append(String.format(Locale.ROOT, "%02d", t.getDayOfMonth()));
                case 'm' -> out.append(String.format(Locale.ROOT, "%02d", t.getMonthValue()));
                case 'Y' -> out.append(t.getYear());
                case 'y' -> out.append(String.format(Locale.ROOT, "%02d", t.getYear() % 100));
                case 'H' -> out.append(String.format(Locale.ROOT, "%02d", t.getHour()));
                case 'I' -> out.append(String.format(Locale.ROOT, "%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> out.append(String.format(Locale.ROOT, "%02d", t.getMinute()));
                case 'S' -> out.append(String.format(Locale.ROOT, "%02d", t.getSecond()));
                case 'j' -> out.append(String.format(Locale.ROOT, "%03d", t.getDayOfYear()));
                case 'p' -> out.append(t.getHour() < 12 ? "AM" : "PM");
                case 'b' -> out.append(DateTimeFormatter.ofPattern("MMM", Locale.ENGLISH).format(t));
                case 'B' -> out.append(DateTimeFormatter.ofPattern("MMMM", Locale.ENGLISH).format(t));
                case 'a' -> out.append(DateTimeFormatter.ofPattern("EEE", Locale.ENGLISH).format(t));
                case 'A' -> out.append(DateTimeFormatter.ofPattern("EEEE", Locale.ENGLISH).format(t));
                case '%' -> out.append('%');
                default -> out.append('%').append(d);
            }
        }
        return out.toString();
    }
}
