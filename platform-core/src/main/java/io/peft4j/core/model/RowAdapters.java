package io.peft4j.core.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A mixed batch: which adapter each row of the batch uses (Hugging Face PEFT's {@code adapter_names} argument);
 * {@code null} means the base model for that row. While a forward pass carries one (through
 * {@link PlatformForwardContext#rowAdapters()}), it replaces the model's active-adapter list: each linear layer adds
 * every adapter's contribution to that adapter's rows only. Rows whose adapter has no module at a layer get the base
 * output there.
 *
 * <p>Build it with {@code PeftModel.rowAdapters}, which checks that every name is loaded and usable in a mixed batch.
 */
public final class RowAdapters {
    private final List<String> perRow;
    private final Map<String, long[]> rowsByAdapter;
    private final LowRankStacks stacks;

    /** @param perRow one adapter name per batch row, {@code null} for no adapter */
    public RowAdapters(List<String> perRow) {
        this(perRow, null);
    }

    /**
     * A mixed batch that runs plain low-rank adapters through {@code stacks} (one batched gather per layer instead
     * of one pass per adapter); null {@code stacks}: the general path only.
     */
    public RowAdapters(List<String> perRow, LowRankStacks stacks) {
        this.stacks = stacks;
        if (perRow.isEmpty()) {
            throw new IllegalArgumentException("a mixed batch needs at least one row");
        }
        this.perRow = Collections.unmodifiableList(new ArrayList<>(perRow));
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < perRow.size(); i++) {
            if (perRow.get(i) != null) {
                groups.computeIfAbsent(perRow.get(i), k -> new ArrayList<>()).add(i);
            }
        }
        Map<String, long[]> byAdapter = new LinkedHashMap<>();
        groups.forEach((name, rows) -> byAdapter.put(name, rows.stream().mapToLong(Integer::longValue).toArray()));
        this.rowsByAdapter = Collections.unmodifiableMap(byAdapter);
    }

    /** The stacked low-rank path of this batch, or null. */
    LowRankStacks lowRankStacks() {
        return stacks;
    }

    /** The adapter of every row ({@code null}: base model). */
    public List<String> perRow() {
        return perRow;
    }

    public int batchSize() {
        return perRow.size();
    }

    /** Row indices per adapter, adapters in order of first appearance; rows without adapter are absent. */
    public Map<String, long[]> rowsByAdapter() {
        return rowsByAdapter;
    }

    /** Checks that a tensor's leading (batch) dimension matches the number of rows. */
    void checkBatch(long batch, String where) {
        if (batch != perRow.size()) {
            throw new IllegalArgumentException(where + ": the batch has " + batch + " rows but " + perRow.size()
                    + " per-row adapters were given");
        }
    }
}
