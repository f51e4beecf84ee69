package io.peft4j.plugins.lora;

import io.peft4j.plugins.testkit.GoldenClaims;
import io.peft4j.plugins.testkit.GoldenLinearChecks;
import io.peft4j.plugins.testkit.GoldenSuite;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * LoRA's golden cases (those its descriptor META-INF/peft4j-golden/lora.properties claims: lora_forward*,
 * lora_merge*, peft_state_dict_keys) against the plugin's own classes; integration-tests runs the same cases
 * through the installed jar.
 */
class LoraGoldenTest {
    private final LoraAdapter lora = new LoraAdapter();
    private final GoldenClaims claims = GoldenClaims.ofPlugin("lora");

    @TestFactory
    Stream<DynamicTest> golden() {
        return GoldenSuite.of("lora")
                .on("lora_forward", GoldenLinearChecks.forward(lora, claims))
                .on("lora_merge", GoldenLinearChecks.merge(lora, claims))
                .on("peft_state_dict_keys", (c, m) -> {
                    GoldenLinearChecks.stateDictKeys(lora, "lora", Map.of("r", 4)).run(c, m);
                    GoldenLinearChecks.stateDictKeys(lora, "lora_with_lora_bias", Map.of("r", 4, "lora_bias", true))
                            .run(c, m);
                })
                .tests();
    }
}
