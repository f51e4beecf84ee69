package io.peft4j.plugins.pissa;

import io.peft4j.plugins.testkit.GoldenSuite;
import io.peft4j.plugins.testkit.GoldenSvdInitChecks;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * PiSSA's golden cases (META-INF/peft4j-golden/pissa.properties) against the initializer itself; integration-tests
 * runs them through the installed jar.
 */
class PissaGoldenTest {
    @TestFactory
    Stream<DynamicTest> golden() {
        PissaInitializer pissa = new PissaInitializer();
        return GoldenSuite.of("pissa")
                .on("pissa_init", GoldenSvdInitChecks.init(pissa))
                .on("pissa_niter_init", GoldenSvdInitChecks.init(pissa))
                .installedOnly("pissa_to_lora_conversion", "the case loads the trained factors into an installed LoRA adapter (the lora plugin); the conversion rules themselves are unit-tested in OriginalBaseConversionTest")
                .tests();
    }
}
