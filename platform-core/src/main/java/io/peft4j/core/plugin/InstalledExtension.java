package io.peft4j.core.plugin;

import java.util.Objects;
import java.util.Optional;
import org.pf4j.ExtensionPoint;

/**
 * One registered extension: the single cached instance the platform uses, and who contributed it.
 *
 * @param kind        the extension point
 * @param id          its id, unique within {@code kind}
 * @param extension   the instance (created once by Guice; reused for the runtime's lifetime)
 * @param pluginId    the contributing plugin, or {@code null} for an extension found on the platform's own classpath
 * @param description its one-line description
 * @param <T>         the extension point interface
 */
public record InstalledExtension<T extends ExtensionPoint>(ExtensionKind<T> kind, String id, T extension,
                                                          String pluginId, String description) {

    /** Shown instead of a plugin id for extensions on the platform's own classpath. */
    public static final String PLATFORM = "(platform)";

    public InstalledExtension {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(extension, "extension");
        Objects.requireNonNull(description, "description");
    }

    /** The contributing plugin id; empty for platform classpath extensions. */
    public Optional<String> plugin() {
        return Optional.ofNullable(pluginId);
    }

    /** The plugin id, or {@value #PLATFORM}. */
    public String contributor() {
        return pluginId == null ? PLATFORM : pluginId;
    }
}
