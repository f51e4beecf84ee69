package io.peft4j.plugins.adalora;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.peft4j.plugins.testkit.GoldenCase;
import org.junit.jupiter.api.Test;

/** The cubic budget schedule against golden {@code adalora_budget_schedule} (bit-exact, int truncation). */
class BudgetScheduleTest {
    @Test
    void everyStepMatchesGolden() {
        GoldenCase g = GoldenCase.read("adalora_budget_schedule");
        int initR = g.config().get("init_r").asInt();
        int targetR = g.config().get("target_r").asInt();
        int n = g.config().get("num_adapted_matrices").asInt();
        BudgetSchedule s = new BudgetSchedule(initR * n, targetR * n, g.config().get("tinit").asInt(),
                g.config().get("tfinal").asInt(), g.config().get("total_step").asInt(),
                g.config().get("deltaT").asInt());
        assertThat(s.initBgt()).isEqualTo(g.expected().get("init_bgt").asInt());
        assertThat(s.targetBgt()).isEqualTo(g.expected().get("target_bgt").asInt());
        int checked = 0;
        for (JsonNode e : g.expected().get("schedule")) {
            BudgetSchedule.Decision d = s.at(e.get("step").asInt());
            String at = "step " + e.get("step").asInt();
            assertThat(d.budget()).as(at + " budget").isEqualTo(e.get("budget").asInt());
            assertThat(d.maskInd()).as(at + " mask_ind").isEqualTo(e.get("mask_ind").asBoolean());
            assertThat(d.action().label()).as(at + " action").isEqualTo(e.get("action").asText());
            checked++;
        }
        assertThat(checked).isEqualTo(102);
    }
}
