package io.peft4j.plugins.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * The golden cases one plugin answers for, as its jar declares them in {@value #RESOURCE_DIR}{@code <plugin-id>.properties}:
 * <pre>
 * case.lora_forward = linear.forward      # case family (a case name, or a prefix ending before "_") = check id
 * case.lora_merge   = linear.merge
 * adapter = lora                          # free parameters the checks read (here: the Adapter id)
 * </pre>
 * A case belongs to the longest family that its name equals or extends with {@code _suffix}
 * ({@code lora_forward_rslora} is a {@code lora_forward} case), so other vector sets add cases of a known family
 * under their own names. The plugin's unit tests run its cases against its classes ({@link GoldenSuite}); the
 * integration tests read the same file from the installed jar and run each case through the PF4J-loaded extension
 * with the named check. A new method therefore declares its cases here and nowhere else.
 */
public final class GoldenClaims {
    /** Folder of the descriptor inside a plugin jar; the file name is the plugin id. */
    public static final String RESOURCE_DIR = "META-INF/peft4j-golden/";
    private static final String CASE_PREFIX = "case.";

    private final String pluginId;
    private final Map<String, String> checks;
    private final Map<String, String> params;

    private GoldenClaims(String pluginId, Map<String, String> checks, Map<String, String> params) {
        this.pluginId = pluginId;
        this.checks = Collections.unmodifiableMap(checks);
        this.params = Collections.unmodifiableMap(params);
    }

    /** Parses a descriptor; {@code source} names it in errors. At least one {@code case.*} entry is required. */
    public static GoldenClaims parse(String pluginId, InputStream in, String source) {
        Properties p = new Properties();
        try {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read golden descriptor " + source, e);
        }
        Map<String, String> checks = new LinkedHashMap<>();
        Map<String, String> params = new LinkedHashMap<>();
        for (String k : p.stringPropertyNames()) {
            String v = p.getProperty(k).trim();
            if (k.startsWith(CASE_PREFIX)) {
                if (v.isEmpty()) {
                    throw new IllegalArgumentException(source + ": " + k + " names no check (expected a check id)");
                }
                checks.put(k.substring(CASE_PREFIX.length()), v);
            } else {
                params.put(k, v);
            }
        }
        if (checks.isEmpty()) {
            throw new IllegalArgumentException(source + ": no 'case.<family> = <check>' entry");
        }
        return new GoldenClaims(pluginId, checks, params);
    }

    /** The descriptor of plugin {@code pluginId} on the class path (its own module's resources in a unit test). */
    public static GoldenClaims ofPlugin(String pluginId) {
        String res = RESOURCE_DIR + pluginId + ".properties";
        try (InputStream in = GoldenClaims.class.getClassLoader().getResourceAsStream(res)) {
            if (in == null) {
                throw new IllegalStateException("plugin " + pluginId + " declares no golden cases: " + res
                        + " is not on the class path");
            }
            return parse(pluginId, in, res);
        } catch (IOException e) {
            throw new UncheckedIOException(res, e);
        }
    }

    public String pluginId() {
        return pluginId;
    }

    /** Family to check id, in no particular order. */
    public Map<String, String> checks() {
        return checks;
    }

    /** A free parameter of the descriptor; fails naming the plugin and key when it is absent. */
    public String param(String key) {
        String v = params.get(key);
        if (v == null) {
            throw new IllegalArgumentException("golden descriptor of plugin " + pluginId + " has no '" + key + "'");
        }
        return v;
    }

    /**
     * The {@code tensors = input:saved_key, ...} parameter of linear methods: golden input name to the PEFT saved
     * key suffix ({@code lora_A:lora_A.weight}), in the order given.
     */
    public Map<String, String> tensorKeys() {
        Map<String, String> out = new LinkedHashMap<>();
        for (String pair : param("tensors").split(",")) {
            String[] kv = pair.trim().split(":", 2);
            if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
                throw new IllegalArgumentException("golden descriptor of plugin " + pluginId + ": tensors entry '"
                        + pair.trim() + "' is not input:saved_key");
            }
            out.put(kv[0].trim(), kv[1].trim());
        }
        return out;
    }

    /** The family {@code caseName} belongs to here (longest match), or empty when this plugin does not claim it. */
    public Optional<String> familyOf(String caseName) {
        String best = null;
        for (String f : checks.keySet()) {
            if ((caseName.equals(f) || caseName.startsWith(f + "_")) && (best == null || f.length() > best.length())) {
                best = f;
            }
        }
        return Optional.ofNullable(best);
    }

    /** The case files of a vector directory: every {@code *.json} but {@code index.json}, sorted by name. */
    public static List<Path> caseFiles(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("golden directory " + dir.toAbsolutePath() + " does not exist (set -D"
                    + GoldenCase.DIR_PROPERTY + ")");
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> out = new ArrayList<>(s.filter(p -> p.getFileName().toString().endsWith(".json"))
                    .filter(p -> !p.getFileName().toString().equals("index.json")).sorted().toList());
            if (out.isEmpty()) {
                throw new IllegalStateException("golden directory " + dir.toAbsolutePath() + " holds no case file");
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list golden directory " + dir, e);
        }
    }

    /**
     * The vector directories every level runs: {@link GoldenCase#dir()} and, when
     * {@value #EXTRA_DIR_PROPERTY} is set, that second set too.
     */
    public static List<Path> dirs() {
        List<Path> out = new ArrayList<>(List.of(GoldenCase.dir()));
        String extra = System.getProperty(EXTRA_DIR_PROPERTY);
        if (extra != null && !extra.isBlank()) {
            out.add(Path.of(extra));
        }
        return out;
    }

    /** System property naming a second vector set (the PEFT-generated edge cases kept in integration-tests). */
    public static final String EXTRA_DIR_PROPERTY = "peft4j.golden.extra.dir";
}
