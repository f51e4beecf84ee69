package io.peft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.core.io.SafetensorsCheckpoint;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Writes a random-weight checkpoint at a real model's shape, laid out as transformers' {@code save_pretrained}
 * writes it: the real {@code config.json}, bf16 tensors in module order split into shards of at most
 * {@code --max-shard-size} bytes ({@code model-0000i-of-0000n.safetensors}, a new shard when the next tensor would
 * overflow the current one, {@code __metadata__ {"format": "pt"}}, header padded with spaces to 8 bytes) plus
 * {@code model.safetensors.index.json} ({@code metadata.total_size}, sorted {@code weight_map}); a single
 * {@code model.safetensors} when everything fits in one shard. Tied embeddings (Llama-3.2-1B, Qwen2.5-0.5B) are saved
 * without {@code lm_head.weight}, as transformers drops tied parameters.
 *
 * <p>Values as transformers' {@code _init_weights}: linears and embeddings ~ N(0, 0.02²) (drawn from a table of
 * 65,536 normal samples indexed by random 16-bit numbers, so 16 GB take seconds of CPU, not minutes), RMSNorm weights
 * 1, biases 0. The tokenizer is stories260K's {@code tokenizer.json} (512 ids, all below every real vocabulary size,
 * so every id it produces indexes the embedding; the config keeps the real model's larger {@code vocab_size} and
 * special ids, which only matter for generation's stop token). A Java main rather than a Python script: it needs no
 * torch/transformers install, and it runs with the classpath {@code peft4j bench} already has.
 *
 * <pre>
 *   java -cp CP io.peft4j.bench.RandomCheckpoint --shape llama-3.2-1b --out DIR
 *        [--max-shard-size 2GB] [--seed 1] [--tokenizer shared/models/stories260K]
 * </pre>
 */
public final class RandomCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
    private static final short BF16_ONE = (short) 0x3F80;

    private RandomCheckpoint() {
    }

    /** One tensor to write: name, shape and how it is filled. */
    record Tensor(String name, long[] shape, Fill fill) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        long bytes() {
            return elements() * 2;
        }
    }

    enum Fill { NORMAL, ONES, ZEROS }

    /** A real model's config.json (as published on the Hugging Face Hub) by shape id. */
    static Map<String, Object> config(String shape) {
        Map<String, Object> c = new LinkedHashMap<>();
        switch (shape) {
            // Llama 3.2 1B and Llama 3.1 8B share the Llama 3 layout; 3.2's config also lists head_dim.
            case "llama-3.2-1b" -> llama3(c, 2048, 8192, 16, 64, true, 32.0, "4.45.0.dev0");
            case "llama-3.1-8b" -> llama3(c, 4096, 14336, 32, 0, false, 8.0, "4.43.0.dev0");
            case "qwen2.5-0.5b" -> {
                c.put("architectures", List.of("Qwen2ForCausalLM"));
                c.put("attention_dropout", 0.0);
                c.put("bos_token_id", 151643);
                c.put("eos_token_id", 151643);
                c.put("hidden_act", "silu");
                c.put("hidden_size", 896);
                c.put("initializer_range", 0.02);
                c.put("intermediate_size", 4864);
                c.put("max_position_embeddings", 32768);
                c.put("max_window_layers", 24);
                c.put("model_type", "qwen2");
                c.put("num_attention_heads", 14);
                c.put("num_hidden_layers", 24);
                c.put("num_key_value_heads", 2);
                c.put("rms_norm_eps", 1e-06);
                c.put("rope_theta", 1000000.0);
                c.put("sliding_window", 32768);
                c.put("tie_word_embeddings", true);
                c.put("torch_dtype", "bfloat16");
                c.put("transformers_version", "4.40.1");
                c.put("use_cache", true);
                c.put("use_mrope", false);
                c.put("use_sliding_window", false);
                c.put("vocab_size", 151936);
            }
            default -> throw new IllegalArgumentException("--shape: unknown shape '" + shape
                    + "' (expected llama-3.2-1b, llama-3.1-8b or qwen2.5-0.5b)");
        }
        return c;
    }

    private static void llama3(Map<String, Object> c, int hidden, int intermediate, int layers, int headDim,
                               boolean tied, double ropeFactor, String transformersVersion) {
        c.put("architectures", List.of("LlamaForCausalLM"));
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", 128000);
        c.put("eos_token_id", 128001);
        if (headDim > 0) {
            c.put("head_dim", headDim);
        }
        c.put("hidden_act", "silu");
        c.put("hidden_size", hidden);
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", intermediate);
        c.put("max_position_embeddings", 131072);
        c.put("mlp_bias", false);
        c.put("model_type", "llama");
        c.put("num_attention_heads", 32);
        c.put("num_hidden_layers", layers);
        c.put("num_key_value_heads", 8);
        c.put("pretraining_tp", 1);
        c.put("rms_norm_eps", 1e-05);
        c.put("rope_scaling", llama3Rope(ropeFactor));
        c.put("rope_theta", 500000.0);
        c.put("tie_word_embeddings", tied);
        c.put("torch_dtype", "bfloat16");
        c.put("transformers_version", transformersVersion);
        c.put("use_cache", true);
        c.put("vocab_size", 128256);
    }

    private static Map<String, Object> llama3Rope(double factor) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("factor", factor);
        r.put("high_freq_factor", 4.0);
        r.put("low_freq_factor", 1.0);
        r.put("original_max_position_embeddings", 8192);
        r.put("rope_type", "llama3");
        return r;
    }

    /** The state dict of a config, in module order (embed, layers, norm, lm_head unless tied). */
    static List<Tensor> tensors(Map<String, Object> c) {
        long h = num(c, "hidden_size");
        long heads = num(c, "num_attention_heads");
        long kv = num(c, "num_key_value_heads");
        long hd = c.containsKey("head_dim") ? num(c, "head_dim") : h / heads;
        long inter = num(c, "intermediate_size");
        long vocab = num(c, "vocab_size");
        boolean qkvBias = "qwen2".equals(c.get("model_type"));
        List<Tensor> t = new ArrayList<>();
        t.add(new Tensor("model.embed_tokens.weight", new long[] {vocab, h}, Fill.NORMAL));
        for (int i = 0; i < num(c, "num_hidden_layers"); i++) {
            String p = "model.layers." + i + ".";
            t.add(new Tensor(p + "self_attn.q_proj.weight", new long[] {heads * hd, h}, Fill.NORMAL));
            if (qkvBias) {
                t.add(new Tensor(p + "self_attn.q_proj.bias", new long[] {heads * hd}, Fill.ZEROS));
            }
            t.add(new Tensor(p + "self_attn.k_proj.weight", new long[] {kv * hd, h}, Fill.NORMAL));
            if (qkvBias) {
                t.add(new Tensor(p + "self_attn.k_proj.bias", new long[] {kv * hd}, Fill.ZEROS));
            }
            t.add(new Tensor(p + "self_attn.v_proj.weight", new long[] {kv * hd, h}, Fill.NORMAL));
            if (qkvBias) {
                t.add(new Tensor(p + "self_attn.v_proj.bias", new long[] {kv * hd}, Fill.ZEROS));
            }
            t.add(new Tensor(p + "self_attn.o_proj.weight", new long[] {h, heads * hd}, Fill.NORMAL));
            t.add(new Tensor(p + "mlp.gate_proj.weight", new long[] {inter, h}, Fill.NORMAL));
            t.add(new Tensor(p + "mlp.up_proj.weight", new long[] {inter, h}, Fill.NORMAL));
            t.add(new Tensor(p + "mlp.down_proj.weight", new long[] {h, inter}, Fill.NORMAL));
            t.add(new Tensor(p + "input_layernorm.weight", new long[] {h}, Fill.ONES));
            t.add(new Tensor(p + "post_attention_layernorm.weight", new long[] {h}, Fill.ONES));
        }
        t.add(new Tensor("model.norm.weight", new long[] {h}, Fill.ONES));
        if (!Boolean.TRUE.equals(c.get("tie_word_embeddings"))) {
            t.add(new Tensor("lm_head.weight", new long[] {vocab, h}, Fill.NORMAL));
        }
        return t;
    }

    private static long num(Map<String, Object> c, String k) {
        return ((Number) c.get(k)).longValue();
    }

    /**
     * Splits tensors into shards as huggingface_hub's {@code split_state_dict_into_shards_factory}: in order, a new
     * shard starts when adding the next tensor would exceed {@code maxShardBytes} (a larger tensor gets its own).
     */
    static List<List<Tensor>> shards(List<Tensor> tensors, long maxShardBytes) {
        List<List<Tensor>> out = new ArrayList<>();
        List<Tensor> cur = new ArrayList<>();
        long size = 0;
        for (Tensor t : tensors) {
            if (!cur.isEmpty() && size + t.bytes() > maxShardBytes) {
                out.add(cur);
                cur = new ArrayList<>();
                size = 0;
            }
            cur.add(t);
            size += t.bytes();
        }
        if (!cur.isEmpty()) {
            out.add(cur);
        }
        return out;
    }

    /** "5GB" → 5·10⁹, "500MB" → 5·10⁸, "2GiB" → 2·2³⁰ (transformers' {@code convert_file_size_to_int}). */
    static long parseSize(String s) {
        String u = s.trim().toUpperCase(Locale.ROOT);
        long mult;
        String digits;
        if (u.endsWith("GIB")) {
            mult = 1L << 30;
            digits = u.substring(0, u.length() - 3);
        } else if (u.endsWith("MIB")) {
            mult = 1L << 20;
            digits = u.substring(0, u.length() - 3);
        } else if (u.endsWith("GB")) {
            mult = 1_000_000_000L;
            digits = u.substring(0, u.length() - 2);
        } else if (u.endsWith("MB")) {
            mult = 1_000_000L;
            digits = u.substring(0, u.length() - 2);
        } else {
            mult = 1;
            digits = u;
        }
        try {
            long v = Long.parseLong(digits.trim());
            if (v <= 0) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(v, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("--max-shard-size: expected a size such as 5GB, 500MB or 2GiB, got '"
                    + s + "'");
        }
    }

    /** Writes the checkpoint into {@code out} (created; existing files of the same names are replaced). */
    static void write(String shape, Path out, long maxShardBytes, long seed, Path tokenizerDir) throws IOException {
        Map<String, Object> cfg = config(shape);
        List<Tensor> all = tensors(cfg);
        List<List<Tensor>> shards = shards(all, maxShardBytes);
        Files.createDirectories(out);
        short[] table = normalTable(new Random(seed), 0.02f);
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 1);
        Map<String, String> weightMap = new TreeMap<>();
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
            String name = shards.size() == 1 ? SafetensorsCheckpoint.SINGLE_FILE
                    : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
            writeShard(out.resolve(name), shards.get(i), table, rng);
            for (Tensor t : shards.get(i)) {
                weightMap.put(t.name(), name);
                total += t.bytes();
            }
            System.err.println("wrote " + name + " (" + shards.get(i).size() + " tensors)");
        }
        if (shards.size() > 1) {
            ObjectNode index = JSON.createObjectNode();
            index.putObject("metadata").put("total_size", total);
            ObjectNode wm = index.putObject("weight_map");
            weightMap.forEach(wm::put);
            writeText(out.resolve(SafetensorsCheckpoint.INDEX_FILE), JSON.writeValueAsString(index) + "\n");
        }
        writeText(out.resolve("config.json"), JSON.writeValueAsString(new TreeMap<>(cfg)) + "\n");
        Map<String, Object> gen = new LinkedHashMap<>();
        gen.put("_from_model_config", true);
        gen.put("bos_token_id", cfg.get("bos_token_id"));
        gen.put("eos_token_id", cfg.get("eos_token_id"));
        gen.put("transformers_version", cfg.get("transformers_version"));
        writeText(out.resolve("generation_config.json"), JSON.writeValueAsString(gen) + "\n");
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
            Path src = tokenizerDir.resolve(f);
            if (Files.isRegularFile(src)) {
                Files.copy(src, out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** 65,536 bf16 samples of N(0, std²), rounded to nearest even. */
    private static short[] normalTable(Random r, float std) {
        short[] t = new short[1 << 16];
        for (int i = 0; i < t.length; i++) {
            t[i] = toBf16((float) (r.nextGaussian() * std));
        }
        return t;
    }

    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return (short) (bits >>> 16);
    }

    private static void writeShard(Path file, List<Tensor> tensors, short[] table, SplittableRandom rng)
            throws IOException {
        // safetensors orders the data by name for equal dtypes; the header lists the same order.
        List<Tensor> byName = new ArrayList<>(tensors);
        byName.sort((a, b) -> a.name().compareTo(b.name()));
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Tensor t : byName) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", "BF16");
            var sh = e.putArray("shape");
            for (long d : t.shape()) {
                sh.add(d);
            }
            e.putArray("data_offsets").add(offset).add(offset + t.bytes());
            offset += t.bytes();
        }
        byte[] json = new ObjectMapper().writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) {
                head.put((byte) ' ');
            }
            head.flip();
            writeFully(ch, head);
            ByteBuffer buf = ByteBuffer.allocateDirect(8 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (Tensor t : byName) {
                long left = t.elements();
                while (left > 0) {
                    int n = (int) Math.min(left, buf.capacity() / 2);
                    buf.clear();
                    fill(buf, n, t.fill(), table, rng);
                    buf.flip();
                    writeFully(ch, buf);
                    left -= n;
                }
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void fill(ByteBuffer buf, int n, Fill fill, short[] table, SplittableRandom rng) {
        switch (fill) {
            case ONES -> {
                for (int i = 0; i < n; i++) {
                    buf.putShort(BF16_ONE);
                }
            }
            case ZEROS -> {
                for (int i = 0; i < n; i++) {
                    buf.putShort((short) 0);
                }
            }
            case NORMAL -> {
                int i = 0;
                while (i < n) {
                    long r = rng.nextLong();
                    for (int k = 0; k < 4 && i < n; k++, i++) {
                        buf.putShort(table[(int) (r >>> (16 * k)) & 0xFFFF]);
                    }
                }
            }
            default -> throw new IllegalStateException();
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static void writeText(Path p, String text) throws IOException {
        Path tmp = p.resolveSibling(p.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static void main(String[] args) throws IOException {
        String shape = null;
        Path out = null;
        long maxShard = 2_000_000_000L;
        long seed = 1;
        Path tokenizer = Path.of("../shared/models/stories260K");
        try {
            for (int i = 0; i < args.length; i++) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option '" + args[i] + "' needs a value");
                }
                String v = args[++i];
                switch (args[i - 1]) {
                    case "--shape" -> shape = v;
                    case "--out" -> out = Path.of(v);
                    case "--max-shard-size" -> maxShard = parseSize(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--tokenizer" -> tokenizer = Path.of(v);
                    default -> throw new IllegalArgumentException("unknown option '" + args[i - 1] + "'");
                }
            }
            if (shape == null || out == null) {
                throw new IllegalArgumentException("usage: --shape llama-3.2-1b|llama-3.1-8b|qwen2.5-0.5b --out DIR "
                        + "[--max-shard-size 2GB] [--seed 1] [--tokenizer DIR_WITH_tokenizer.json]");
            }
            if (!Files.isRegularFile(tokenizer.resolve("tokenizer.json"))) {
                throw new IllegalArgumentException("--tokenizer: " + tokenizer + " has no tokenizer.json");
            }
            config(shape);
        } catch (IllegalArgumentException e) {
            System.err.println("RandomCheckpoint: " + e.getMessage());
            System.exit(2);
            return;
        }
        long t0 = System.nanoTime();
        write(shape, out, maxShard, seed, tokenizer);
        System.err.printf(Locale.ROOT, "%s written to %s in %.1f s%n", shape, out, (System.nanoTime() - t0) / 1e9);
    }
}
