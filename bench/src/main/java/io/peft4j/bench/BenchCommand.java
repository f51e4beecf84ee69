package io.peft4j.bench;

import io.peft4j.core.cli.CliExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code peft4j bench}: training and forward throughput, MFU and peak RSS as JSON lines (see {@link BenchMain}, which
 * parses the arguments). Registered with core's CLI through {@link CliExtension} (ServiceLoader), so core does not
 * depend on this module.
 */
@Command(name = "bench", description = {
        "Benchmark LoRA training (forward + loss + backward + AdamW) and forward passes; prints JSON lines comparable "
                + "with shared/bench/peer (same shapes, same FLOP formula, MFU against a matmul peak measured in the "
                + "same run).",
        "  --size tiny,small,medium | --model DIR     --mode lora,full,merge,rss     --targets all,qv",
        "  --plugins DIR --r 8 --alpha 16 --lr 1e-3 --warmup 3 --steps 5 --threads 2 --rss-steps 1000 --out FILE",
        "  --quant nf4 (QLoRA base)   --grad-checkpoint (recompute activations in backward: less memory)",
        "  --unfused-loss (lm_head + loss through autograd instead of fused row chunks)",
        "  --quant nf4 --quant-eval 150 (also: eval loss of the demo LoRA run on fp32 vs the quantized base)",
        "  --model DIR records load_s and peak RSS at load (with --quant the base is quantized while loading);",
        "  --no-fwd skips the forward-only timing (large models: load and train steps only)"})
public final class BenchCommand implements Callable<Integer>, CliExtension {
    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        return BenchMain.run(args.toArray(String[]::new));
    }
}
