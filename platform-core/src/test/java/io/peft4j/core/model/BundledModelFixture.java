package io.peft4j.core.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** Loading tests on the bundled stories260K: one engine manager for the class, a temp dir and a fixed prompt. */
abstract class BundledModelFixture {
    static final long[] IDS = {1, 403, 407, 261, 378};
    static NDManager root;
    static Path bundled;

    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        root = NDManager.newBaseManager();
        bundled = BundledModel.stories260K();
    }

    @AfterAll
    static void done() {
        root.close();
    }

    /** The eval-mode logits of {@link #IDS}. */
    static float[] logits(LlamaModel model) {
        try (NDManager m = root.newSubManager()) {
            return model.forward(m.create(IDS, new Shape(1, IDS.length)), null, null, PlatformForwardContext.eval(m))
                    .toFloatArray();
        }
    }
}
