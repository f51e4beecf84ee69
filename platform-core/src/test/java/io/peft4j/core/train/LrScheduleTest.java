package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.peft4j.core.train.optim.LrSchedule;
import io.peft4j.core.train.optim.LrSchedule.Kind;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void linearWarmupThenDecayToZero() {
        LrSchedule s = LrSchedule.of(Kind.LINEAR, 10, 110);
        assertThat(s.factor(0)).isEqualTo(0.0);
        assertThat(s.factor(5)).isEqualTo(0.5);
        assertThat(s.factor(10)).isEqualTo(1.0);
        assertThat(s.factor(60)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(110)).isEqualTo(0.0);
        assertThat(s.factor(200)).isEqualTo(0.0);
    }

    @Test
    void cosineWarmupThenHalfCosineToZero() {
        LrSchedule s = LrSchedule.of(Kind.COSINE, 4, 104);
        assertThat(s.factor(1)).isEqualTo(0.25);
        assertThat(s.factor(4)).isCloseTo(1.0, within(1e-12));
        assertThat(s.factor(54)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(29)).isCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.25)), within(1e-12));
        assertThat(s.factor(104)).isCloseTo(0.0, within(1e-12));
    }

    @Test
    void constantWithAndWithoutWarmup() {
        assertThat(LrSchedule.of(Kind.CONSTANT, 0, 0).factor(0)).isEqualTo(1.0);
        LrSchedule w = LrSchedule.of(Kind.CONSTANT, 4, 0);
        assertThat(w.factor(0)).isEqualTo(0.0);
        assertThat(w.factor(2)).isEqualTo(0.5);
        assertThat(w.factor(1000)).isEqualTo(1.0);
        assertThat(Kind.parse("Cosine")).isEqualTo(Kind.COSINE);
        assertThatThrownBy(() -> Kind.parse("step")).hasMessageContaining("constant, linear, cosine");
    }
}
