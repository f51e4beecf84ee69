package io.peft4j.core.plugin;

import com.google.inject.CreationException;
import com.google.inject.ConfigurationException;
import com.google.inject.ProvisionException;
import com.google.inject.spi.Message;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.pf4j.ExtensionPoint;
import org.pf4j.PluginWrapper;

/**
 * Builds the {@link InstalledExtensions} registry: creates each extension class of each started plugin once,
 * reads its id and description, and rejects duplicates. Every failure is recorded as a {@link PluginProblem}
 * and costs only that extension.
 *
 * <p>Order (decides who keeps a contested id): the platform's own classpath first, then started plugins by
 * ascending plugin id; within one plugin, PF4J's extension order (ordinal, then class name).
 */
final class ExtensionRegistrar {

    private final PeftPluginManager manager;
    private final GuiceExtensionFactory factory;
    private final Map<ExtensionKind<?>, Map<String, InstalledExtension<?>>> byKind = new LinkedHashMap<>();
    /** Per plugin id (null = platform): the extensions it registered, for the report. */
    private final Map<String, List<InstalledExtension<?>>> byPlugin = new LinkedHashMap<>();

    ExtensionRegistrar(PeftPluginManager manager, GuiceExtensionFactory factory) {
        this.manager = manager;
        this.factory = factory;
    }

    InstalledExtensions register() {
        List<String> contributors = new ArrayList<>();
        contributors.add(null); // platform classpath
        manager.getStartedPlugins().stream().map(PluginWrapper::getPluginId).sorted(Comparator.naturalOrder())
                .forEach(contributors::add);
        for (ExtensionKind<?> kind : ExtensionKind.ALL) {
            byKind.put(kind, new LinkedHashMap<>());
        }
        for (String pluginId : contributors) {
            if (pluginId != null && !ensureInjector(pluginId)) {
                continue;
            }
            for (ExtensionKind<?> kind : ExtensionKind.ALL) {
                registerAll(kind, pluginId);
            }
        }
        return new InstalledExtensions(byKind);
    }

    /** The extensions registered for a plugin (empty list if none). */
    List<InstalledExtension<?>> registeredBy(String pluginId) {
        return byPlugin.getOrDefault(pluginId, List.of());
    }

    private boolean ensureInjector(String pluginId) {
        try {
            factory.injectorFor(pluginId);
            return true;
        } catch (RuntimeException | LinkageError e) {
            addProblem(PluginProblem.Kind.EXTENSION_FAILED, pluginId,
                    "cannot create the plugin's Guice injector, so none of its extensions are available: "
                            + guiceReason(e));
            return false;
        }
    }

    private <T extends ExtensionPoint> void registerAll(ExtensionKind<T> kind, String pluginId) {
        List<Class<? extends T>> classes;
        try {
            classes = manager.getExtensionClasses(kind.type(), pluginId);
        } catch (RuntimeException | LinkageError e) {
            addProblem(PluginProblem.Kind.EXTENSION_FAILED, subject(pluginId),
                    "cannot list its " + kind.label() + " extensions: " + Reasons.describe(e));
            return;
        }
        for (Class<? extends T> c : classes) {
            register(kind, pluginId, c);
        }
    }

    private <T extends ExtensionPoint> void register(ExtensionKind<T> kind, String pluginId, Class<? extends T> c) {
        T instance;
        String id;
        String description;
        try {
            instance = factory.create(c);
        } catch (RuntimeException | LinkageError e) {
            addProblem(PluginProblem.Kind.EXTENSION_FAILED, subject(pluginId),
                    kind.label() + " " + c.getName() + " could not be created: " + guiceReason(e));
            return;
        }
        try {
            id = kind.idOf(instance);
            description = kind.describe(instance);
        } catch (RuntimeException | LinkageError e) {
            addProblem(PluginProblem.Kind.EXTENSION_FAILED, subject(pluginId),
                    kind.label() + " " + c.getName() + " failed to report its id/description: " + Reasons.describe(e));
            return;
        }
        if (id == null || id.isBlank()) {
            addProblem(PluginProblem.Kind.EXTENSION_FAILED, subject(pluginId),
                    kind.label() + " " + c.getName() + " has an empty id; it is ignored");
            return;
        }
        Map<String, InstalledExtension<?>> registered = byKind.get(kind);
        InstalledExtension<?> existing = registered.get(id);
        if (existing != null) {
            addProblem(PluginProblem.Kind.DUPLICATE_EXTENSION_ID, subject(pluginId),
                    kind.label() + " id '" + id + "' (" + c.getName() + ") is already provided by "
                            + describeContributor(existing.pluginId()) + " (" + existing.extension().getClass().getName()
                            + "); the one from " + describeContributor(pluginId) + " is rejected");
            return;
        }
        InstalledExtension<T> installed = new InstalledExtension<>(kind, id, instance, pluginId,
                description == null ? "" : description);
        registered.put(id, installed);
        byPlugin.computeIfAbsent(pluginId, k -> new ArrayList<>()).add(installed);
    }

    private void addProblem(PluginProblem.Kind kind, String subject, String reason) {
        PluginWrapper w = subject == null ? null : manager.getPlugin(subject);
        manager.addProblem(new PluginProblem(kind, subject, w == null ? null : w.getPluginPath(), reason));
    }

    private static String subject(String pluginId) {
        return pluginId == null ? InstalledExtension.PLATFORM : pluginId;
    }

    private static String describeContributor(String pluginId) {
        return pluginId == null ? "the platform classpath" : "plugin '" + pluginId + "'";
    }

    /** Guice messages are long multi-line texts; keep the first error message of each. */
    private static String guiceReason(Throwable e) {
        java.util.Collection<Message> messages = null;
        if (e instanceof ProvisionException p) {
            messages = p.getErrorMessages();
        } else if (e instanceof ConfigurationException c) {
            messages = c.getErrorMessages();
        } else if (e instanceof CreationException c) {
            messages = c.getErrorMessages();
        }
        if (messages == null || messages.isEmpty()) {
            return Reasons.describe(e);
        }
        Message first = messages.iterator().next();
        String text = first.getMessage().strip().lines().findFirst().orElse("");
        Throwable cause = first.getCause();
        return text + (cause == null ? "" : " (" + Reasons.describe(cause) + ")")
                + (messages.size() > 1 ? " [and " + (messages.size() - 1) + " more Guice errors]" : "");
    }
}
