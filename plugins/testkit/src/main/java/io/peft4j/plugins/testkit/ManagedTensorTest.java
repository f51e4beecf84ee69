package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Base for tests that need a fresh {@link NDManager} per test method: {@link #m} is opened before each test
 * (before the subclass's own {@code @BeforeEach}) and closed after it, freeing every tensor the test made.
 */
public abstract class ManagedTensorTest {
    /** The per-test manager. */
    protected NDManager m;

    @BeforeEach
    protected final void openManager() {
        m = NDManager.newBaseManager();
    }

    @AfterEach
    protected final void closeManager() {
        m.close();
    }
}
