package io.peft4j.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DeviceTest {

    @Test
    void parsesEveryAcceptedForm() {
        assertThat(Device.parse("cpu")).isEqualTo(Device.CPU);
        assertThat(Device.parse(" CPU ")).isEqualTo(Device.CPU);
        assertThat(Device.parse("auto")).isEqualTo(Device.AUTO);
        assertThat(Device.parse("cuda")).isEqualTo(Device.cuda(0));
        assertThat(Device.parse("cuda:0")).isEqualTo(Device.cuda(0));
        assertThat(Device.parse("CUDA:3")).isEqualTo(Device.cuda(3));
        assertThat(Device.parse("cuda:3").kind()).isEqualTo(Device.Kind.CUDA);
        assertThat(Device.parse("cuda:3").index()).isEqualTo(3);
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "auto", "cuda:0", "cuda:7"})
    void canonicalFormRoundTrips(String text) {
        assertThat(Device.parse(text).toString()).isEqualTo(text);
        assertThat(Device.parse(Device.parse(text).toString())).isEqualTo(Device.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "cuda0", "mps", "cuda:99999"})
    void rejectsAnythingElseNamingValueAndAcceptedForms(String text) {
        assertThatThrownBy(() -> Device.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'" + text + "'")
                .hasMessageContaining(Device.ACCEPTED);
    }

    @Test
    void rejectsEmpty() {
        assertThatThrownBy(() -> Device.parse(" ")).hasMessageContaining("empty").hasMessageContaining(Device.ACCEPTED);
        assertThatThrownBy(() -> Device.parse(null)).hasMessageContaining("empty");
    }

    @Test
    void constructorKeepsIndexConsistentWithKind() {
        assertThatThrownBy(() -> Device.cuda(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Device(Device.Kind.CPU, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
