package io.peft4j.plugins.milora;

import io.peft4j.plugins.testkit.GoldenSuite;
import io.peft4j.plugins.testkit.GoldenSvdInitChecks;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** milora_init (META-INF/peft4j-golden/milora.properties) against the initializer itself; integration-tests runs it through the installed jar. */
class MiloraGoldenTest {
    @TestFactory
    Stream<DynamicTest> golden() {
        return GoldenSuite.of("milora").on("milora_init", GoldenSvdInitChecks.init(new MiloraInitializer())).tests();
    }
}
