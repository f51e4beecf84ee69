package io.peft4j.serve.engine;

import io.peft4j.api.ConfigException;
import io.peft4j.core.model.Generator;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.LowRankStacks;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.serve.ServeMetrics;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous batching on one thread that alone touches the model. Between decode steps it runs queued commands
 * (adapter loads and deletes), frees deleted adapters nobody uses any more, drops cancelled and timed-out rows, and
 * admits waiting requests (each prefilled alone, then joining its group at the next step) up to
 * {@code maxBatchRows}. Then every group runs one decode step: the mixed group (base and single-adapter rows, one
 * forward pass with an adapter per row) and one group per other adapter set. A row leaves as soon as it is done.
 */
public final class BatchEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BatchEngine.class);
    private static final String MIXED = "";

    private final LlamaModel model;
    private final PeftModel peft;
    private final ServedModels models;
    private final ServeMetrics metrics;
    private final int maxBatchRows;
    private final BlockingQueue<GenerationRequest> queue;
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    private final Map<String, RowBatch> groups = new LinkedHashMap<>();
    private final LowRankStacks stacks;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile int activeRows;

    /**
     * @param maxBatchRows   rows decoded together at most (all groups)
     * @param queueCapacity  requests that may wait; more are refused with 429
     */
    public BatchEngine(LlamaModel model, PeftModel peft, ServedModels models, ServeMetrics metrics, int maxBatchRows,
                       int queueCapacity) {
        if (maxBatchRows < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("max batch rows and queue capacity must be >= 1");
        }
        this.model = model;
        this.peft = peft;
        this.models = models;
        this.metrics = metrics;
        this.maxBatchRows = maxBatchRows;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.stacks = new LowRankStacks(model.manager());
        this.thread = new Thread(this::loop, "peft4j-batch-engine");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    public ServedModels models() {
        return models;
    }

    /** Most positions a prompt plus its completion may take. */
    public int contextLength() {
        return model.shape().maxPositionEmbeddings();
    }

    /**
     * Queues a request.
     *
     * @throws ServeException 429 when the queue is full, 503 when the engine is stopping
     */
    public void submit(GenerationRequest r) {
        if (!running) {
            throw new ServeException(503, "server_error", "shutting_down", null, "the server is shutting down");
        }
        if (!queue.offer(r)) {
            throw new ServeException(429, "rate_limit_error", "queue_full", null, "the server is busy: "
                    + queue.size() + " requests are waiting and the queue holds no more; retry later");
        }
        metrics.occupancy(queue.size(), activeRows);
    }

    /** Requests waiting to join the batch. */
    public int queued() {
        return queue.size();
    }

    public int activeRows() {
        return activeRows;
    }

    /**
     * Runs {@code op} on the engine thread between two decode steps (the model is not in use then) and waits for
     * it. Exceptions it throws are rethrown here.
     */
    public <T> T onEngineThread(Callable<T> op) {
        if (Thread.currentThread() == thread) {
            try {
                return op.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        CompletableFuture<T> f = new CompletableFuture<>();
        commands.add(() -> {
            try {
                f.complete(op.call());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the engine", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The PEFT model, for {@link #onEngineThread} operations only. */
    public PeftModel peft() {
        return peft;
    }

    public LlamaModel model() {
        return model;
    }

    /** Registers a loaded adapter so requests may name it (engine thread). */
    public void register(ServedModels.Info info) {
        models.add(info);
    }

    /**
     * Hides an adapter from new requests; it is deleted from the model once the running requests using it end.
     *
     * @return false if no such adapter is served
     */
    public boolean unregister(String name) {
        return models.markRemoving(name);
    }

    private void loop() {
        // Torch's grad mode is per thread and on by default: inference here builds no autograd graph.
        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        while (running) {
            try {
                runCommands();
                freeRemoved();
                admit();
                countRows();
                if (activeRows == 0) {
                    GenerationRequest r = queue.poll(20, TimeUnit.MILLISECONDS);
                    if (r != null) {
                        start(r);
                        countRows();
                    }
                    continue;
                }
                for (Iterator<RowBatch> it = groups.values().iterator(); it.hasNext(); ) {
                    RowBatch g = it.next();
                    decode(g);
                    if (g.rows.isEmpty()) {
                        g.close();
                        it.remove();
                    }
                }
                countRows();
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException | Error e) {
                LOG.error("batch engine step failed; failing the running requests", e);
                for (RowBatch g : groups.values()) {
                    for (RowBatch.Row r : new ArrayList<>(g.rows)) {
                        fail(r.request, new ServeException(500, "server_error", null, null,
                                "generation failed: " + e.getMessage()));
                    }
                    g.close();
                }
                groups.clear();
                countRows();
            }
        }
        for (RowBatch g : groups.values()) {
            for (RowBatch.Row r : g.rows) {
                finish(r, FinishReason.CANCELLED);
            }
            g.close();
        }
        groups.clear();
        GenerationRequest r;
        while ((r = queue.poll()) != null) {
            fail(r, new ServeException(503, "server_error", "shutting_down", null, "the server is shutting down"));
        }
        runCommands();
        stacks.close();
    }

    private void runCommands() {
        Runnable c;
        boolean ran = false;
        while ((c = commands.poll()) != null) {
            c.run();
            ran = true;
        }
        if (ran) {
            stacks.reset(models.plainLowRank());   // adapters may have been added: restack on next use
        }
    }

    private void freeRemoved() {
        List<String> gone = models.takeRemovable();
        for (String name : gone) {
            peft.deleteAdapter(name);
            LOG.info("adapter {} deleted", name);
        }
        if (!gone.isEmpty()) {
            stacks.reset(models.plainLowRank());
        }
    }

    private void admit() {
        while (activeRows < maxBatchRows) {
            GenerationRequest r = queue.poll();
            if (r == null) {
                return;
            }
            start(r);
        }
    }

    /** Prefills a request alone and adds it to its group (or ends it at once). */
    private void start(GenerationRequest r) {
        long now = System.nanoTime();
        if (r.cancelled()) {
            end(r, FinishReason.CANCELLED, 0);
            return;
        }
        if (r.expired(now)) {
            end(r, FinishReason.TIMEOUT, 0);
            return;
        }
        ServedModels.Selection sel = r.selection();
        String key = sel.mixedBatch() ? MIXED : sel.groupKey();
        RowBatch g = groups.get(key);
        boolean created = g == null;
        if (created) {
            g = new RowBatch(model, stacks, sel.mixedBatch() ? null : sel.adapters());
        }
        RowBatch.Row row = new RowBatch.Row(r);
        float[] logits;
        try {
            logits = g.prefill(row, peft);
        } catch (ConfigException e) {
            if (created) {
                g.close();
            }
            fail(r, ServeException.invalid("model", e.getMessage()));
            return;
        } catch (RuntimeException e) {
            if (created) {
                g.close();
            }
            LOG.error("prefill failed", e);
            fail(r, new ServeException(500, "server_error", null, null, "prefill failed: " + e.getMessage()));
            return;
        }
        if (created) {
            groups.put(key, g);
        }
        metrics.admitted(sel.adapters().isEmpty() ? ServedModels.BASE : String.join("+", sel.adapters()),
                sel.model(), r.prompt().length, (now - r.createdNanos()) / 1e9);
        Set<RowBatch.Row> done = new HashSet<>();
        take(row, logits, 0, done);
        g.remove(done);
        if (g.rows.isEmpty()) {
            g.close();
            groups.remove(key);
        }
        countRows();
    }

    private void decode(RowBatch g) {
        long now = System.nanoTime();
        Set<RowBatch.Row> done = new HashSet<>();
        for (RowBatch.Row r : g.rows) {
            if (r.request.cancelled()) {
                finish(r, FinishReason.CANCELLED);
                done.add(r);
            } else if (r.request.expired(now)) {
                finish(r, FinishReason.TIMEOUT);
                done.add(r);
            }
        }
        g.remove(done);
        if (g.rows.isEmpty()) {
            return;
        }
        done.clear();
        metrics.decodeStep(g.rows.size());
        float[] logits = g.step(peft);
        int vocab = model.shape().vocabSize();
        for (int i = 0; i < g.rows.size(); i++) {
            take(g.rows.get(i), logits, i * vocab, done);
        }
        g.remove(done);
    }

    /** Picks a row's next token from its logits and hands it on; marks the row done when it ends. */
    private void take(RowBatch.Row r, float[] logits, int off, Set<RowBatch.Row> done) {
        int vocab = model.shape().vocabSize();
        long tok = Generator.pick(logits, off, vocab, r.request.sampling(), r.rng);
        if (!r.firstTokenSeen) {
            r.firstTokenSeen = true;
            metrics.firstToken((System.nanoTime() - r.request.createdNanos()) / 1e9);
        }
        if (r.request.stopTokens().contains(tok)) {
            finish(r, FinishReason.STOP);
            done.add(r);
            return;
        }
        r.generated++;
        boolean more;
        try {
            more = r.request.sink().onToken(tok);
        } catch (RuntimeException e) {
            LOG.warn("token sink failed; cancelling the request", e);
            more = false;
            r.request.cancel();
        }
        if (!more) {
            finish(r, r.request.cancelled() ? FinishReason.CANCELLED : FinishReason.STOP);
            done.add(r);
        } else if (r.generated >= r.request.maxTokens() || r.length + 1 > contextLength()) {
            finish(r, FinishReason.LENGTH);
            done.add(r);
        } else {
            r.next = tok;
        }
    }

    private void finish(RowBatch.Row r, FinishReason reason) {
        end(r.request, reason, r.generated);
    }

    private void end(GenerationRequest r, FinishReason reason, int generated) {
        models.release(r.selection());
        metrics.generated(r.selection().model(), generated);
        metrics.finished(reason.name().toLowerCase(java.util.Locale.ROOT));
        try {
            r.sink().onFinish(reason, r.prompt().length, generated);
        } catch (RuntimeException e) {
            LOG.warn("token sink failed at finish", e);
        }
    }

    private void fail(GenerationRequest r, ServeException e) {
        models.release(r.selection());
        metrics.finished("error");
        try {
            r.sink().onError(e);
        } catch (RuntimeException x) {
            LOG.warn("token sink failed at error", x);
        }
    }

    private void countRows() {
        int n = 0;
        for (RowBatch g : groups.values()) {
            n += g.rows.size();
        }
        activeRows = n;
        metrics.occupancy(queue.size(), n);
    }

    /** Rows now decoding, per group key ("" = the mixed group); for tests and /health. */
    public Map<String, Integer> groupSizes() {
        return onEngineThread(() -> {
            Map<String, Integer> m = new LinkedHashMap<>();
            groups.forEach((k, g) -> m.put(k.isEmpty() ? "mixed" : k, g.rows.size()));
            return m;
        });
    }

    /** Stops the engine: running and queued requests end (cancelled / 503), the thread exits. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
