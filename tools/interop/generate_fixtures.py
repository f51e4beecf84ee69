#!/usr/bin/env python3
"""Reference fixtures from the real Hugging Face code (transformers + PEFT) for peft4j's interop tests.

Run with the libraries described in docs/interop.md, for example

    PYTHONPATH=<libs>:tools/interop/import_stubs /usr/bin/python3 tools/interop/generate_fixtures.py

Two directions, both written under integration-tests/src/test/resources/interop/:

* PEFT -> peft4j (default, or --peft-written): for each case an adapter created with PEFT, given non-trivial
  weights (seeded random perturbation of every trainable tensor, or a few real AdaLoRA training steps), written by
  PEFT's save_pretrained into <case>/adapter/, plus PEFT's logits after reloading it with PeftModel.from_pretrained
  (<case>/expected.safetensors) and <case>/manifest.json (versions, the exact PEFT config, the inputs).
* peft4j -> PEFT (--peft4j-written): for every peft4j-written/<case>/manifest.json (written by the Java class
  io.peft4j.it.interop.WritePeft4jFixtures, never by this script), load the adapter peft4j saved with
  PeftModel.from_pretrained (or the merged checkpoint with LlamaForCausalLM) and write PEFT's / transformers' logits
  beside it.

Logits are float32 [batch, seq, vocab], one tensor per input; prompt tuning's virtual-token positions are dropped
(peft4j returns only the real tokens' logits). Left-padded inputs get position ids counted over the real tokens,
as transformers' generate() does and as peft4j's forward does for a padded batch.
"""
import argparse
import copy
import json
import os
import shutil
import sys
import tempfile

import torch

import peft
import safetensors
import safetensors.torch
import transformers
from peft import (AdaLoraConfig, IA3Config, LoraConfig, PeftModel, PrefixTuningConfig, PromptTuningConfig, VeraConfig,
                  get_peft_model)
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "integration-tests", "src", "test", "resources", "interop")
MODEL_DIR = os.path.realpath(os.environ.get("PEFT4J_STORIES260K", os.path.join(ROOT, "..", "shared", "models", "stories260K")))
if not os.path.isdir(MODEL_DIR):
    MODEL_DIR = "/work/shared/models/stories260K"

# Fixed token ids (stories260K vocabulary is 512): two rows of 8, and a left-padded batch (pad id 0, mask 0).
SEQ = [[1, 403, 407, 261, 378, 432, 383, 290],
       [1, 70, 311, 45, 499, 2, 128, 256]]
PADDED_IDS = [[0, 0, 0, 1, 403, 407, 261, 378],
              [1, 92, 311, 45, 499, 12, 128, 256]]
PADDED_MASK = [[0, 0, 0, 1, 1, 1, 1, 1],
               [1, 1, 1, 1, 1, 1, 1, 1]]
INPUTS_FULL = [{"name": "seq", "input_ids": SEQ},
               {"name": "padded", "input_ids": PADDED_IDS, "attention_mask": PADDED_MASK}]
INPUTS_SEQ = [INPUTS_FULL[0]]


def versions():
    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "safetensors_python": safetensors.__version__,
            "safetensors_core": "tools/interop/safetensors_shim (pure-Python stand-in for the Rust core)"}


def base_model():
    m = LlamaForCausalLM.from_pretrained(MODEL_DIR, torch_dtype=torch.float32)
    m.eval()
    return m


def run_logits(model, inp, virtual_tokens=0):
    """float32 logits [batch, seq, vocab] for one input, without virtual-token positions."""
    ids = torch.tensor(inp["input_ids"], dtype=torch.long)
    kwargs = {}
    if "attention_mask" in inp:
        mask = torch.tensor(inp["attention_mask"], dtype=torch.long)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        kwargs = {"attention_mask": mask, "position_ids": pos}
    with torch.no_grad():
        out = model(input_ids=ids, **kwargs).logits.float()
    return out[:, virtual_tokens:, :].contiguous()


def masked_max_diff(a, b, inp):
    d = (a - b).abs()
    if "attention_mask" in inp:
        d = d * torch.tensor(inp["attention_mask"], dtype=torch.float32)[:, :, None]
    return float(d.max())


def perturb(model, seed, scale):
    """Seeded random perturbation of every trainable tensor, so no adapter is at its (often identity) init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * scale)


def write_case(name, adapter_src, inputs, config_kwargs, notes, base_logits, virtual_tokens=0, plugins=(),
               extra=None):
    """Reloads the adapter PEFT saved with PeftModel.from_pretrained and records its logits."""
    case_dir = os.path.join(OUT, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    shutil.copytree(adapter_src, os.path.join(case_dir, "adapter"))
    reloaded = PeftModel.from_pretrained(base_model(), os.path.join(case_dir, "adapter"))
    reloaded.eval()
    tensors, delta = {}, {}
    for inp in inputs:
        tensors[inp["name"]] = run_logits(reloaded, inp, virtual_tokens)
        delta[inp["name"]] = masked_max_diff(tensors[inp["name"]], base_logits[inp["name"]], inp)
    save_file(tensors, os.path.join(case_dir, "expected.safetensors"))
    manifest = {
        "case": name,
        "direction": "peft->peft4j",
        "kind": "adapter",
        "adapter_dir": "adapter",
        "expected": "expected.safetensors",
        "atol": 1e-4,
        "inputs": inputs,
        "plugins": list(plugins),
        "reference": "PeftModel.from_pretrained(LlamaForCausalLM stories260K, adapter).eval() logits, float32",
        "versions": versions(),
        "peft_config_kwargs": config_kwargs,
        "max_abs_logit_change_vs_base": delta,
        "notes": notes,
    }
    if extra:
        manifest.update(extra)
    with open(os.path.join(case_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{name}: written, logit change vs base {delta}", flush=True)


def save_and_record(name, cfg_cls, kwargs, seed, scale, notes, base_logits, inputs=INPUTS_SEQ, virtual_tokens=0,
                    plugins=()):
    torch.manual_seed(seed)
    model = get_peft_model(base_model(), cfg_cls(**kwargs))
    perturb(model, seed, scale)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        write_case(name, tmp, inputs, {"class": cfg_cls.__name__, **kwargs}, notes, base_logits, virtual_tokens,
                   plugins)


def case_two_adapters(base_logits):
    """Two LoRA adapters in one directory (PEFT's layout: default at the top, the other in a sub-directory), both
    active: PEFT adds their contributions."""
    first = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"], "init_lora_weights": False}
    second = {"r": 2, "lora_alpha": 6, "target_modules": ["v_proj", "down_proj"], "init_lora_weights": False}
    torch.manual_seed(19)
    model = get_peft_model(base_model(), LoraConfig(**first))
    model.add_adapter("second", LoraConfig(**second))
    perturb(model, 19, 0.02)   # only "default" is trainable after get_peft_model
    model.base_model.set_adapter(["default", "second"])
    perturb(model, 20, 0.02)   # now both are: "second" gets its weights, "default" a second nudge
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        case_dir = os.path.join(OUT, "lora_two_adapters")
        shutil.rmtree(case_dir, ignore_errors=True)
        shutil.copytree(tmp, os.path.join(case_dir, "adapter"))
    reloaded = PeftModel.from_pretrained(base_model(), os.path.join(case_dir, "adapter"))
    reloaded.load_adapter(os.path.join(case_dir, "adapter", "second"), adapter_name="second")
    reloaded.base_model.set_adapter(["default", "second"])
    reloaded.eval()
    tensors = {inp["name"]: run_logits(reloaded, inp) for inp in INPUTS_FULL}
    save_file(tensors, os.path.join(case_dir, "expected.safetensors"))
    delta = {inp["name"]: masked_max_diff(tensors[inp["name"]], base_logits[inp["name"]], inp) for inp in INPUTS_FULL}
    with open(os.path.join(case_dir, "manifest.json"), "w") as f:
        json.dump({"case": "lora_two_adapters", "direction": "peft->peft4j", "kind": "adapter",
                   "adapter_dir": "adapter", "active": ["default", "second"], "expected": "expected.safetensors",
                   "atol": 1e-4, "inputs": INPUTS_FULL, "plugins": [],
                   "reference": "PeftModel.from_pretrained(base, adapter) + load_adapter(adapter/second, 'second'), "
                                "base_model.set_adapter(['default', 'second']), eval logits",
                   "versions": versions(),
                   "peft_config_kwargs": {"default": {"class": "LoraConfig", **first},
                                          "second": {"class": "LoraConfig", **second}},
                   "max_abs_logit_change_vs_base": delta,
                   "notes": "save_pretrained of a model with two adapters: 'second' goes to adapter/second/"},
                  f, indent=1)
        f.write("\n")
    print(f"lora_two_adapters: written, logit change vs base {delta}", flush=True)


def case_half_precision(name, dtype, seed, base_logits):
    """A LoRA adapter whose tensors PEFT saves in half precision (its parameters were cast before saving)."""
    kwargs = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "down_proj"], "init_lora_weights": False}
    torch.manual_seed(seed)
    model = get_peft_model(base_model(), LoraConfig(**kwargs))
    perturb(model, seed, 0.02)
    for n, p in model.named_parameters():
        if p.requires_grad:
            p.data = p.data.to(dtype)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        write_case(name, tmp, INPUTS_SEQ, {"class": "LoraConfig", **kwargs, "adapter_dtype": str(dtype)},
                   f"adapter tensors cast to {dtype} before save_pretrained, so the file holds {dtype}; PEFT loads them "
                   "into the float32 model (rounded values, float32 compute)", base_logits)


def case_base():
    model = base_model()
    tensors = {inp["name"]: run_logits(model, inp) for inp in INPUTS_FULL}
    case_dir = os.path.join(OUT, "base")
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    save_file(tensors, os.path.join(case_dir, "expected.safetensors"))
    with open(os.path.join(case_dir, "manifest.json"), "w") as f:
        json.dump({"case": "base", "direction": "transformers->peft4j", "kind": "base",
                   "expected": "expected.safetensors", "atol": 1e-4, "inputs": INPUTS_FULL, "plugins": [],
                   "reference": "LlamaForCausalLM.from_pretrained(stories260K, torch_dtype=float32).eval() logits",
                   "versions": versions()}, f, indent=1)
        f.write("\n")
    print("base: written", flush=True)
    return tensors


LINEAR_QV = ["q_proj", "v_proj"]


def case_adalora(base_logits):
    """A few real AdaLoRA training steps with update_and_allocate, so the saved adapter carries a rank_pattern."""
    torch.manual_seed(11)
    kwargs = {"init_r": 6, "target_r": 3, "tinit": 1, "tfinal": 2, "deltaT": 1, "total_step": 8, "lora_alpha": 6,
              "target_modules": ["q_proj", "v_proj", "down_proj"], "beta1": 0.85, "beta2": 0.85}
    model = get_peft_model(base_model(), AdaLoraConfig(**kwargs))
    perturb(model, 11, 0.05)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    g = torch.Generator().manual_seed(12)
    for step in range(kwargs["total_step"]):
        ids = torch.randint(3, 512, (4, 16), generator=g)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        model.base_model.update_and_allocate(step)
        opt.zero_grad()
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        live = run_logits(model, INPUTS_SEQ[0])
        write_case("adalora", tmp, INPUTS_SEQ, {"class": "AdaLoraConfig", **kwargs,
                                                "training": "8 AdamW steps (lr 5e-3) on seeded random ids with "
                                                            "update_and_allocate(step)"},
                   "rank_pattern written by PEFT's allocator; the saved tensors are cut to the kept ranks",
                   base_logits)
    ref = safetensors.torch.load_file(os.path.join(OUT, "adalora", "expected.safetensors"))["seq"]
    print(f"adalora: reloaded vs trained session max diff {float((ref - live).abs().max()):.3g}")


def case_pissa(base_logits):
    """PiSSA saved as is (re-decomposed on load) and converted to LoRA with path_initial_model_for_weight_conversion."""
    kwargs = {"r": 4, "lora_alpha": 8, "init_lora_weights": "pissa", "target_modules": ["q_proj", "v_proj", "up_proj"]}
    torch.manual_seed(21)
    model = get_peft_model(base_model(), LoraConfig(**kwargs))
    with tempfile.TemporaryDirectory() as tmp:
        initial = os.path.join(tmp, "initial")
        model.peft_config["default"].init_lora_weights = True
        model.save_pretrained(initial)
        model.peft_config["default"].init_lora_weights = "pissa"
        perturb(model, 21, 0.02)   # stands in for training
        model.eval()
        trained = {inp["name"]: run_logits(model, inp) for inp in INPUTS_SEQ}
        as_is = os.path.join(tmp, "as_is")
        model.save_pretrained(as_is)
        conv = os.path.join(tmp, "converted")
        model.save_pretrained(conv, path_initial_model_for_weight_conversion=initial)
        write_case("pissa", as_is, INPUTS_SEQ, {"class": "LoraConfig", **kwargs},
                   "saved as is: init_lora_weights stays 'pissa', so loading re-decomposes the ORIGINAL base "
                   "(W - B0 A0) and then loads the trained A, B", base_logits)
        write_case("pissa_converted", conv, INPUTS_SEQ,
                   {"class": "LoraConfig", **kwargs,
                    "save_pretrained": "path_initial_model_for_weight_conversion=<initial adapter dir>"},
                   "converted by PEFT to a plain LoRA adapter of rank 2r for the unmodified base", base_logits)
        for name in ("pissa", "pissa_converted"):
            ref = safetensors.torch.load_file(os.path.join(OUT, name, "expected.safetensors"))
            print(f"{name}: reloaded vs trained session max diff "
                  f"{float((ref['seq'] - trained['seq']).abs().max()):.3g}")


def peft_written():
    os.makedirs(OUT, exist_ok=True)
    base_logits = case_base()
    lora_notes = "init_lora_weights=False plus a seeded N(0, scale^2) perturbation of every trainable tensor"
    save_and_record("lora", LoraConfig, {"r": 4, "lora_alpha": 8, "target_modules": LINEAR_QV,
                                         "init_lora_weights": False}, 1, 0.02, lora_notes, base_logits, INPUTS_FULL)
    save_and_record("lora_rslora", LoraConfig, {"r": 4, "lora_alpha": 6, "use_rslora": True,
                                                "target_modules": ["k_proj", "o_proj", "down_proj"],
                                                "init_lora_weights": False}, 2, 0.02, lora_notes, base_logits)
    save_and_record("lora_patterns", LoraConfig,
                    {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj", "gate_proj"],
                     "rank_pattern": {"v_proj": 2, "layers.0.self_attn.q_proj": 6, "gate_proj": 3},
                     "alpha_pattern": {"q_proj": 3, "layers.2.mlp.gate_proj": 12},
                     "init_lora_weights": False}, 3, 0.02, lora_notes, base_logits)
    save_and_record("lora_bias", LoraConfig, {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "up_proj"],
                                              "lora_bias": True, "init_lora_weights": False}, 4, 0.02,
                    lora_notes + "; lora_bias=True gives lora_B a bias", base_logits)
    save_and_record("lora_all_linear", LoraConfig, {"r": 2, "lora_alpha": 4, "target_modules": "all-linear",
                                                    "init_lora_weights": False}, 5, 0.02, lora_notes, base_logits,
                    INPUTS_FULL)
    save_and_record("lora_lm_head", LoraConfig, {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "lm_head"],
                                                 "init_lora_weights": False}, 16, 0.02,
                    lora_notes + "; lm_head is tied to embed_tokens in stories260K: LoRA on the head leaves the "
                    "embedding alone", base_logits)
    save_and_record("lora_regex_exclude", LoraConfig,
                    {"r": 4, "lora_alpha": 8, "target_modules": r".*\.(q_proj|v_proj|up_proj)",
                     "exclude_modules": ["layers.2.self_attn.v_proj", "layers.4.mlp.up_proj"],
                     "init_lora_weights": False}, 17, 0.02,
                    lora_notes + "; target_modules as one regex (full match), exclude_modules as suffixes",
                    base_logits)
    save_and_record("lora_layers_to_transform", LoraConfig,
                    {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "down_proj"], "layers_to_transform": [0, 3],
                     "layers_pattern": "layers", "init_lora_weights": False}, 18, 0.02, lora_notes, base_logits)
    case_two_adapters(base_logits)
    case_half_precision("lora_bf16", torch.bfloat16, 14, base_logits)
    case_half_precision("lora_fp16", torch.float16, 15, base_logits)
    save_and_record("dora", LoraConfig, {"r": 4, "lora_alpha": 8, "use_dora": True,
                                         "target_modules": ["q_proj", "v_proj", "up_proj"],
                                         "init_lora_weights": False}, 6, 0.02,
                    lora_notes + " (the magnitude vector too)", base_logits)
    save_and_record("vera", VeraConfig, {"r": 8, "target_modules": ["q_proj", "v_proj", "down_proj"],
                                         "projection_prng_key": 7, "save_projection": True}, 7, 0.1,
                    "vera_lambda_b starts at 0: perturbed; shared vera_A / vera_B saved (save_projection)",
                    base_logits)
    case_adalora(base_logits)
    case_pissa(base_logits)
    save_and_record("ia3", IA3Config, {"target_modules": ["k_proj", "v_proj", "down_proj"],
                                       "feedforward_modules": ["down_proj"]}, 8, 0.2,
                    "IA3 is peft4j's third-party example plugin (integration-tests/src/third-party-ia3)",
                    base_logits, plugins=["third-party-ia3"])
    save_and_record("prefix_tuning", PrefixTuningConfig, {"task_type": "CAUSAL_LM", "num_virtual_tokens": 4},
                    9, 0.5, "prompt_embeddings [virtual tokens, layers * 2 * kv width] perturbed", base_logits)
    save_and_record("prefix_tuning_projection", PrefixTuningConfig,
                    {"task_type": "CAUSAL_LM", "num_virtual_tokens": 3, "prefix_projection": True,
                     "encoder_hidden_size": 16}, 10, 0.2,
                    "prefix_projection: PEFT saves the MLP's output as prompt_embeddings", base_logits)
    save_and_record("prompt_tuning", PromptTuningConfig, {"task_type": "CAUSAL_LM", "num_virtual_tokens": 5},
                    13, 0.5, "virtual-token positions dropped from the recorded logits", base_logits,
                    virtual_tokens=5)


def peft4j_written():
    root = os.path.join(OUT, "peft4j-written")
    plain = base_model()
    for name in sorted(os.listdir(root)):
        case_dir = os.path.join(root, name)
        mf_path = os.path.join(case_dir, "manifest.json")
        if not os.path.isfile(mf_path):
            continue
        with open(mf_path) as f:
            manifest = json.load(f)
        if manifest["kind"] == "merged":
            model = LlamaForCausalLM.from_pretrained(os.path.join(case_dir, manifest["model_dir"]),
                                                     torch_dtype=torch.float32)
            model.eval()
            reference = "LlamaForCausalLM.from_pretrained(<peft4j merged export>).eval() logits, float32"
            virtual = 0
        else:
            adapter_dir = os.path.join(case_dir, manifest["adapter_dir"])
            model = PeftModel.from_pretrained(base_model(), adapter_dir)
            # peft4j's composition layout is PEFT's: "default" at the top, the others in sub-directories.
            for other in manifest.get("active", []):
                if other != "default":
                    model.load_adapter(os.path.join(adapter_dir, other), adapter_name=other)
            if "active" in manifest:
                model.base_model.set_adapter(manifest["active"])
            model.eval()
            reference = "PeftModel.from_pretrained(LlamaForCausalLM stories260K, <peft4j adapter>).eval() logits"
            cfg = model.peft_config["default"]
            virtual = cfg.num_virtual_tokens if cfg.peft_type == peft.PeftType.PROMPT_TUNING else 0
        tensors = {inp["name"]: run_logits(model, inp, virtual) for inp in manifest["inputs"]}
        save_file(tensors, os.path.join(case_dir, manifest["expected"]))
        manifest["max_abs_logit_change_vs_base"] = {
            inp["name"]: masked_max_diff(tensors[inp["name"]], run_logits(plain, inp), inp)
            for inp in manifest["inputs"]}
        manifest["reference"] = reference
        manifest["versions"] = versions()
        with open(mf_path, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        print(f"peft4j-written/{name}: PEFT logits written", flush=True)


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # PEFT keeps target_modules in a set: a fixed hash seed makes the saved configs reproducible byte for byte.
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peft-written", action="store_true", help="PEFT-written adapters and their logits")
    ap.add_argument("--peft4j-written", action="store_true", help="PEFT's logits for the adapters peft4j wrote")
    a = ap.parse_args()
    torch.set_num_threads(2)
    if not a.peft_written and not a.peft4j_written:
        a.peft_written = True
    if a.peft_written:
        peft_written()
    if a.peft4j_written:
        peft4j_written()


if __name__ == "__main__":
    sys.exit(main())
