package io.peft4j.core.run;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.core.io.AtomicDirectory;
import io.peft4j.core.io.SafetensorsDType;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.model.LlamaModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Writes the current (merged) base model as a Hugging Face checkpoint: {@code config.json}, {@code model.safetensors}
 * and the tokenizer files. If lm_head no longer shares the embedding (an adapter was merged into it), the head is
 * written and {@code tie_word_embeddings} set to false. Written to a temporary sibling directory and renamed.
 */
public final class MergedExport {
    private static final List<String> COPIED = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "generation_config.json", "tokenizer.model");

    private MergedExport() {
    }

    public static void write(LlamaModel model, Path sourceDir, Path out) {
        try {
            AtomicDirectory.write(out, tmp -> writeFiles(model, sourceDir, tmp));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot export merged model to " + out.toAbsolutePath() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * The base tensors for the writer: float ones as they are; each quantized linear's weight is dequantized only
     * when the writer reaches it and freed once written, so the export never holds a float copy of every linear.
     */
    static SafetensorsWriter writerOf(LlamaModel model) {
        SafetensorsWriter w = new SafetensorsWriter();
        model.baseTensors(false).forEach(w::add);
        for (var l : model.linears().values()) {
            if (l.quantized() && !(l.site().path().equals("lm_head") && model.tiedEmbeddings())) {
                w.addLazy(l.site().path() + ".weight", SafetensorsDType.F32, l.quantizedWeight().shape(), () -> {
                    NDArray d = l.dequantizedCopy();   // ours to close
                    if (d.getDataType() == DataType.FLOAT32) {
                        return d;
                    }
                    NDArray f = d.toType(DataType.FLOAT32, false);
                    d.close();
                    return f;
                });
            }
        }
        return w;
    }

    private static void writeFiles(LlamaModel model, Path sourceDir, Path tmp) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode cfg = (ObjectNode) json.readTree(sourceDir.resolve("config.json").toFile());
        if (!model.tiedEmbeddings()) {
            cfg.put("tie_word_embeddings", false);
        }
        cfg.put("torch_dtype", "float32");
        // A full-precision export of a quantized checkpoint is no longer quantized.
        cfg.remove("quantization_config");
        cfg.remove(io.peft4j.core.quant.QuantizedExport.PEFT4J_KEY);
        Files.writeString(tmp.resolve("config.json"), json.writeValueAsString(cfg));
        writerOf(model).write(tmp.resolve("model.safetensors"));
        for (String f : COPIED) {
            if (Files.isRegularFile(sourceDir.resolve(f))) {
                Files.copy(sourceDir.resolve(f), tmp.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
