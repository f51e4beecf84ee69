package io.peft4j.plugins.prompttuning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.EmbeddingSiteModule;
import io.peft4j.api.ModelShape;
import io.peft4j.api.ParamRole;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestForwardContext;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PromptTuningTest extends ManagedTensorTest {
    static final ModelShape SHAPE = new ModelShape(4, 1, 1, 1, 4, 10, 64);
    static final List<SiteInfo> SITES = List.of(new SiteInfo("model.embed_tokens", SiteKind.INPUT_EMBEDDING, 4, 4,
            -1, false));
    // A toy tokenizer: one token per word, id = word length.
    static final Function<String, long[]> WORDS = s -> java.util.Arrays.stream(s.trim().split("\\s+"))
            .mapToLong(String::length).toArray();
    NDArray table;
    final PromptTuningAdapter method = new PromptTuningAdapter();

    @BeforeEach
    void table() {
        table = m.arange(40f).reshape(10, 4);   // row i = [4i, 4i+1, 4i+2, 4i+3]
    }

    @Test
    void textInitRepeatsTheTokenEmbeddingsUpToTheLength() {
        AdapterInstance inst = method.create("default", PromptTuningConfig.text(5, "ab c"), SITES,
                new TestAdapterContext(m).withModelShape(SHAPE).withTokenizer(WORDS).withEmbeddings(table));
        // ids [2, 1] repeated to 5: [2, 1, 2, 1, 2]
        NDArray e = inst.stateDict().get("prompt_embeddings");
        assertThat(e.getShape()).isEqualTo(new Shape(5, 4));
        assertThat(e.get(new NDIndex("0")).toFloatArray()).containsExactly(8f, 9f, 10f, 11f);
        assertThat(e.get(new NDIndex("3")).toFloatArray()).containsExactly(4f, 5f, 6f, 7f);
        assertThat(e.get(new NDIndex("4")).toFloatArray()).containsExactly(8f, 9f, 10f, 11f);
        assertThat(inst.parameters()).singleElement().satisfies(p -> {
            assertThat(p.role()).isEqualTo(ParamRole.PROMPT);
            assertThat(p.name()).isEqualTo("prompt_encoder.default.embedding.weight");
        });
        // The table is a copy: training the prompt never touches the model's embeddings.
        e.set(new NDIndex("..."), 0f);
        assertThat(table.get(new NDIndex("2")).toFloatArray()).containsExactly(8f, 9f, 10f, 11f);
    }

    @Test
    void textLongerThanThePromptIsAnError() {
        assertThatThrownBy(() -> method.create("default", PromptTuningConfig.text(2, "a bb ccc"), SITES,
                new TestAdapterContext(m).withModelShape(SHAPE).withTokenizer(WORDS).withEmbeddings(table)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("prompt_tuning_init_text").hasMessageContaining("3 tokens")
                .hasMessageContaining("num_virtual_tokens = 2");
        assertThatThrownBy(() -> method.create("default", PromptTuningConfig.text(2, "a"), SITES,
                new TestAdapterContext(m).withModelShape(SHAPE).withEmbeddings(table)))
                .hasMessageContaining("tokenizer");
        assertThatThrownBy(() -> new PromptTuningConfig(3, null, null, null, null, "TEXT", null, null, null, null,
                null, null).validate()).hasMessageContaining("prompt_tuning_init_text");
        assertThatThrownBy(() -> new PromptTuningConfig(3, null, null, null, null, "SAMPLE", null, null, null, null,
                null, null).validate()).hasMessageContaining("prompt_tuning_init");
    }

    @Test
    void prependsThePromptToEverySequence() {
        AdapterInstance inst = method.create("default", PromptTuningConfig.random(3), SITES,
                new TestAdapterContext(m).withModelShape(SHAPE).withEmbeddings(table));
        assertThat(inst.config()).isInstanceOfSatisfying(PromptTuningConfig.class,
                c -> assertThat(c.tokenDim()).isEqualTo(4));
        EmbeddingSiteModule mod = (EmbeddingSiteModule) inst.modules().get("model.embed_tokens");
        NDArray x = m.ones(new Shape(2, 5, 4));
        NDArray y = mod.prepend(x, TestForwardContext.eval(m));
        assertThat(y.getShape()).isEqualTo(new Shape(2, 8, 4));
        float[] prompt = inst.stateDict().get("prompt_embeddings").toFloatArray();
        assertThat(y.get(new NDIndex("1, 0:3")).toFloatArray()).containsExactly(prompt);
        assertThat(y.get(new NDIndex("0, 3:")).toFloatArray()).containsOnly(1f);
        assertThatThrownBy(() -> inst.loadStateDict(Map.of("prompt_embeddings", m.zeros(new Shape(4, 4)))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("num_virtual_tokens = 3");
        assertThatThrownBy(() -> method.validate(new PromptTuningConfig(3, 8, null, null, null, null, null, null,
                null, null, null, null), SITES, SHAPE)).hasMessageContaining("token_dim");
    }
}
