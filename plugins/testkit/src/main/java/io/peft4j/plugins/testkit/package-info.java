/**
 * Test support shared by the method plugins' unit tests (test scope only; never part of a plugin or the
 * distribution). Plugins may not depend on platform-core, so these are small stand-ins for the platform side of
 * the SPI: {@link io.peft4j.plugins.testkit.TestLinearBase}, {@link io.peft4j.plugins.testkit.TestAdapterContext},
 * {@link io.peft4j.plugins.testkit.TestForwardContext}, {@link io.peft4j.plugins.testkit.TestLowRankSite}; plus
 * the golden-vector reader {@link io.peft4j.plugins.testkit.GoldenCase}, a plugin's golden descriptor
 * {@link io.peft4j.plugins.testkit.GoldenClaims} and the runner of its cases {@link io.peft4j.plugins.testkit.GoldenSuite}
 * (with {@link io.peft4j.plugins.testkit.GoldenLinearChecks} for linear methods), tensor helpers
 * {@link io.peft4j.plugins.testkit.TestTensors} and the per-test manager base
 * {@link io.peft4j.plugins.testkit.ManagedTensorTest}.
 */
package io.peft4j.plugins.testkit;
