package io.peft4j.it.multi;

import static io.peft4j.it.multi.TwoAdapters.ROWS;
import static io.peft4j.it.multi.TwoAdapters.logits;
import static io.peft4j.it.multi.TwoAdapters.maxAbs;
import static io.peft4j.it.multi.TwoAdapters.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.model.LowRankStacks;
import io.peft4j.core.model.RowAdapters;
import io.peft4j.core.peft.PlainLowRank;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stacked low-rank mixed batch (per-row gathered LoRA factors, padded to the largest rank, a zero slot for rows
 * and layers without adapter) gives each row what it gets alone, as the general mixed path does.
 */
class MixedBatchStacksTest {
    @TempDir
    Path tmp;

    @Test
    void stackedMixedBatchGivesEachRowItsOwnAdapter() {
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir()); TuningSession s = TwoAdapters.open(rt, tmp);
             LowRankStacks stacks = new LowRankStacks(s.model().manager())) {
            // The one stacking rule: both are plain LoRA (nothing but s·B A), as the server checks before declaring.
            assertThat(PlainLowRank.test(s.peft().adapter("a").instance())).isTrue();
            assertThat(PlainLowRank.test(s.peft().adapter("b").instance())).isTrue();
            stacks.reset(Set.of("a", "b"));
            // a: r 4 on q/v; b: r 2 on v/down (padded to 4 on v_proj, alone on down_proj).
            for (List<String> perRow : List.of(Arrays.asList("a", "b", null), Arrays.asList(null, "b", "a"),
                    Arrays.asList("b", "b", "a"))) {
                float[][] expected = new float[3][];
                for (int i = 0; i < 3; i++) {
                    s.peft().setActive(perRow.get(i) == null ? List.of() : List.of(perRow.get(i)));
                    expected[i] = logits(s, ROWS[i]);
                }
                s.peft().setActive(List.of());
                float[][] general = logits(s, ROWS, new RowAdapters(perRow));
                float[][] stacked = logits(s, ROWS, new RowAdapters(perRow, stacks));
                double tol = 1e-5 * Math.max(1, maxAbs(expected[0]));
                for (int i = 0; i < 3; i++) {
                    assertThat(maxAbsDiff(stacked[i], expected[i])).as(perRow + " row " + i).isLessThan(tol);
                    assertThat(maxAbsDiff(stacked[i], general[i])).isLessThan(tol);
                }
            }
            // An adapter the caller did not declare plain takes the general path: still right.
            stacks.reset(Set.of("a"));
            List<String> perRow = Arrays.asList("a", "b", null);
            s.peft().setActive(List.of("b"));
            float[] bAlone = logits(s, ROWS[1]);
            s.peft().setActive(List.of());
            float[][] mixed = logits(s, ROWS, new RowAdapters(perRow, stacks));
            assertThat(maxAbsDiff(mixed[1], bAlone)).isLessThan(1e-5 * Math.max(1, maxAbs(bAlone)));
        }
    }
}
