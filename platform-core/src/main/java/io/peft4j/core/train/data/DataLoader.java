package io.peft4j.core.train.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Turns examples into batches, deterministically: batch {@code index} of epoch {@code epoch} depends only on the
 * examples, the options and the seed, so a resumed run can continue at any position.
 *
 * <ul>
 *   <li>Without packing a row is one example, right-padded with {@code padId} to the longest row of its batch
 *       (attention mask 0, label {@link Example#IGNORE_INDEX}).</li>
 *   <li>With packing the examples, in file order, are concatenated (ids and labels) and cut into rows of exactly
 *       {@code rowLength} tokens; the last partial row is padded. Attention crosses example boundaries (plain
 *       packing, as TRL's {@code ConstantLengthDataset}); the EOS token separates examples when appended.</li>
 *   <li>With shuffling the rows are permuted once per epoch by a Fisher-Yates shuffle driven by
 *       {@code java.util.Random(seed * 1_000_003 + epoch)} (the algorithm of {@code Random} is fixed by its spec, so
 *       the order is the same on every JVM).</li>
 *   <li>The last batch of an epoch may be smaller (no drop-last).</li>
 * </ul>
 */
public final class DataLoader {
    private final List<Example> rows;
    private final int batchSize;
    private final long padId;
    private final boolean shuffle;
    private final long seed;
    private int cachedEpoch = -1;
    private int[] cachedOrder;

    /**
     * @param examples  the examples (not empty)
     * @param batchSize rows per batch, &gt;= 1
     * @param packing   whether to pack examples into rows of {@code rowLength} tokens
     * @param rowLength packed row length (the model context); ignored without packing
     */
    public DataLoader(List<Example> examples, int batchSize, boolean packing, int rowLength, long padId,
                      boolean shuffle, long seed) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("no examples to batch");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        this.rows = packing ? pack(examples, rowLength, padId) : List.copyOf(examples);
        this.batchSize = batchSize;
        this.padId = padId;
        this.shuffle = shuffle;
        this.seed = seed;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Number of rows (examples, or packed rows). */
    public int rows() {
        return rows.size();
    }

    public int batchesPerEpoch() {
        return (rows.size() + batchSize - 1) / batchSize;
    }

    /** Batch {@code index} (0-based, {@code < batchesPerEpoch()}) of epoch {@code epoch} (0-based). */
    public Batch batch(int epoch, int index) {
        if (index < 0 || index >= batchesPerEpoch()) {
            throw new IndexOutOfBoundsException("batch " + index + " of " + batchesPerEpoch());
        }
        int[] order = order(epoch);
        int from = index * batchSize;
        int to = Math.min(rows.size(), from + batchSize);
        List<Example> picked = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            picked.add(rows.get(order[i]));
        }
        return collate(picked, padId);
    }

    /** Right-pads the examples to the longest one. */
    public static Batch collate(List<Example> examples, long padId) {
        int b = examples.size();
        int t = 0;
        for (Example e : examples) {
            t = Math.max(t, e.length());
        }
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        long[] labels = new long[b * t];
        Arrays.fill(ids, padId);
        Arrays.fill(labels, Example.IGNORE_INDEX);
        for (int i = 0; i < b; i++) {
            Example e = examples.get(i);
            System.arraycopy(e.inputIds(), 0, ids, i * t, e.length());
            System.arraycopy(e.labels(), 0, labels, i * t, e.length());
            Arrays.fill(mask, i * t, i * t + e.length(), 1L);
        }
        return new Batch(b, t, ids, mask, labels);
    }

    private int[] order(int epoch) {
        if (epoch != cachedEpoch) {
            int n = rows.size();
            int[] o = new int[n];
            for (int i = 0; i < n; i++) {
                o[i] = i;
            }
            if (shuffle) {
                Random r = new Random(seed * 1_000_003L + epoch);
                for (int i = n - 1; i > 0; i--) {
                    int j = r.nextInt(i + 1);
                    int tmp = o[i];
                    o[i] = o[j];
                    o[j] = tmp;
                }
            }
            cachedOrder = o;
            cachedEpoch = epoch;
        }
        return cachedOrder;
    }

    /** Concatenates the examples and cuts rows of {@code rowLength}; the last partial row stays shorter (padded later). */
    static List<Example> pack(List<Example> examples, int rowLength, long padId) {
        if (rowLength < 2) {
            throw new IllegalArgumentException("packed row length must be >= 2, got " + rowLength);
        }
        long total = 0;
        for (Example e : examples) {
            total += e.length();
        }
        long[] ids = new long[Math.toIntExact(total)];
        long[] labels = new long[ids.length];
        int pos = 0;
        for (Example e : examples) {
            System.arraycopy(e.inputIds(), 0, ids, pos, e.length());
            System.arraycopy(e.labels(), 0, labels, pos, e.length());
            pos += e.length();
        }
        List<Example> rows = new ArrayList<>();
        for (int from = 0; from < ids.length; from += rowLength) {
            int to = Math.min(ids.length, from + rowLength);
            rows.add(new Example(Arrays.copyOfRange(ids, from, to), Arrays.copyOfRange(labels, from, to),
                    "packed row " + rows.size()));
        }
        return List.copyOf(rows);
    }
}
