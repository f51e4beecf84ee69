"""PEFT-exact edge cases, computed by Hugging Face PEFT v0.14.0 itself (not a re-implementation).

Writes golden vectors in the schema of /work/shared/golden/README.md to
integration-tests/src/test/resources/golden-extra/ (index.json + one JSON file per case):

* adalora_rank_allocation_*: a real AdaLoraModel on a module tree named like a transformers Llama
  (model.layers.N.self_attn.q_proj ...), trained a few AdamW steps on random data; at every step the parameters
  and gradients PEFT's RankAllocator sees are recorded, then PEFT's update_and_allocate runs. Expected: the
  allocator's scores, EMAs, threshold, the masked lora_E, the rank_pattern PEFT stores and the state dict PEFT
  saves (resized by the pattern).
* pissa_to_lora_conversion_*: PEFT's save_pretrained(path_initial_model_for_weight_conversion=...) output,
  including ranks 2r > min(in, out).
* lora_forward_rank_*: LoRA / DoRA with r > min(in, out), which PEFT accepts.

Run (Debian's python3 with torch, the unmodified libraries in /work/pyref):
    PYTHONPATH=/work/pyref:tools/interop/import_stubs /usr/bin/python3 tools/interop/generate_edge_cases.py
"""
import json
import math
import os
import sys
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

import peft
from peft import AdaLoraConfig, LoraConfig, get_peft_model
from peft.utils import get_peft_model_state_dict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "integration-tests", "src", "test", "resources", "golden-extra")
REFERENCE = "huggingface/peft v%s (executed, /work/pyref), torch %s" % (peft.__version__, torch.__version__)


def tensor(t):
    t = t.detach().cpu()
    if t.dtype == torch.bool:
        return {"shape": list(t.shape), "dtype": "bool", "data": [bool(v) for v in t.reshape(-1).tolist()]}
    if t.dtype == torch.int64:
        return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.reshape(-1).tolist()]}
    a = t.to(torch.float32).numpy().reshape(-1)
    # float(np.float32) is the exact double of the float32 value; repr round-trips it.
    return {"shape": list(t.shape), "dtype": "float32", "data": [float(v) for v in a]}


class Attn(nn.Module):
    def __init__(self, in_f, out_f, bias):
        super().__init__()
        self.q_proj = nn.Linear(in_f, out_f, bias=bias)
        self.v_proj = nn.Linear(in_f, out_f, bias=bias)


class Layer(nn.Module):
    def __init__(self, in_f, out_f, bias):
        super().__init__()
        self.self_attn = Attn(in_f, out_f, bias)


class Inner(nn.Module):
    def __init__(self, layers, in_f, out_f, bias):
        super().__init__()
        self.layers = nn.ModuleList([Layer(in_f, out_f, bias) for _ in range(layers)])


class Tiny(nn.Module):
    """Linears at the paths a transformers Llama uses (model.layers.N.self_attn.q_proj / v_proj)."""

    def __init__(self, layers, in_f, out_f, bias=False):
        super().__init__()
        self.model = Inner(layers, in_f, out_f, bias)

    def forward(self, x):
        y = 0
        for layer in self.model.layers:
            y = y + layer.self_attn.q_proj(x) + layer.self_attn.v_proj(x)
        return y

    def paths(self):
        out = []
        for i in range(len(self.model.layers)):
            out += ["model.layers.%d.self_attn.q_proj" % i, "model.layers.%d.self_attn.v_proj" % i]
        return out


CASES = []


def write(case):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, case["case"] + ".json"), "w") as f:
        json.dump(case, f, indent=None, separators=(",", ":"))
        f.write("\n")
    CASES.append({"case": case["case"], "method": case["method"], "file": case["case"] + ".json"})
    print("wrote", case["case"], file=sys.stderr)


# ---------------------------------------------------------------------------------------------------- AdaLoRA

def adalora_rank_allocation(name, seed, layers, in_f, out_f, init_r, target_r, total_step, tinit, tfinal, delta_t,
                            steps, beta1=0.85, beta2=0.85, lr=0.05, init_lora_weights=True):
    """Trains an AdaLoraModel `steps` optimizer steps with PEFT's own training loop (examples/conditional_generation/
    peft_adalora_seq2seq.py: loss.backward(); optimizer.step(); update_and_allocate(global_step); zero_grad();
    global_step += 1, so global_step is 0 at the first optimizer step) and records what the RankAllocator saw and
    did. The allocator's scores, threshold and EMAs are captured when mask_to_budget runs (the final allocation
    resets the EMAs right after it)."""
    torch.manual_seed(seed)
    base = Tiny(layers, in_f, out_f)
    paths = base.paths()
    cfg = AdaLoraConfig(init_r=init_r, target_r=target_r, total_step=total_step, tinit=tinit, tfinal=tfinal,
                        deltaT=delta_t, beta1=beta1, beta2=beta2, lora_alpha=8, orth_reg_weight=0.0,
                        target_modules=paths, init_lora_weights=init_lora_weights)
    model = get_peft_model(base, cfg)
    inner = model.base_model
    ra = inner.rankallocator
    captured = {}
    original_mask = ra.mask_to_budget

    def mask_to_budget(m, budget):
        k = ra.init_bgt - budget
        scores = {}
        for p in paths:
            key = "%s.%%s.default" % p
            s_a = torch.mean(ra._element_score(key % "lora_A"), dim=1, keepdim=True)
            s_b = torch.mean(ra._element_score(key % "lora_B"), dim=0, keepdim=False).view(-1, 1)
            scores[p] = ra._combine_ipt(ra._element_score(key % "lora_E"), torch.cat([s_a, s_b], dim=1))
        captured["k"] = k
        captured["mask_budget"] = budget
        captured["threshold"] = torch.kthvalue(torch.cat(list(scores.values())), k=k)[0].item()
        captured["scores"] = {p: v.clone() for p, v in scores.items()}
        captured["ema"] = {n: (ra.exp_avg_ipt[n].clone(), ra.exp_avg_unc[n].clone()) for n in ra.exp_avg_ipt}
        return original_mask(m, budget)

    ra.mask_to_budget = mask_to_budget
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    x = torch.randn(16, in_f)
    target = torch.randn(16, out_f)
    inputs = {}
    params = dict(model.named_parameters())
    global_step = 0
    actions = []
    for t in range(steps):
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        for p in paths:
            for part in ("lora_A", "lora_E", "lora_B"):
                prm = params["base_model.model.%s.%s.default" % (p, part)]
                inputs["step%d.%s.%s" % (t, p, part)] = tensor(prm)
                inputs["step%d.%s.%s.grad" % (t, p, part)] = tensor(prm.grad)
        before = captured.get("mask_budget")
        captured.pop("mask_budget", None)
        inner.update_and_allocate(global_step)
        actions.append({"global_step": global_step, "masked_to": captured.get("mask_budget")})
        if captured.get("mask_budget") is None and before is not None:
            captured["mask_budget"] = before
        opt.zero_grad()
        global_step += 1
    assert "k" in captured, name + ": no allocation happened"
    last_budget, _ = ra.budget_schedule(global_step - 1)
    expected = {"threshold": captured["threshold"], "k": captured["k"]}
    final = bool(ra.exp_avg_ipt) is False   # the final allocation reset PEFT's EMAs
    for p in paths:
        expected[p + ".triplet_score"] = tensor(captured["scores"][p])
        expected[p + ".lora_E_masked"] = tensor(params["base_model.model.%s.lora_E.default" % p])
        if not final:
            for part in ("lora_A", "lora_E", "lora_B"):
                key = "%s.%s.default" % (p, part)
                expected["%s.%s.exp_avg_ipt" % (p, part)] = tensor(ra.exp_avg_ipt[key])
                expected["%s.%s.exp_avg_unc" % (p, part)] = tensor(ra.exp_avg_unc[key])
    sd = get_peft_model_state_dict(model)   # resized by PEFT's stored rank_pattern; strips the adapter name
    pattern = {k2: list(v) for k2, v in model.peft_config["default"].rank_pattern.items()}
    expected["rank_pattern_saved_in_config"] = pattern
    expected["kept_triplets"] = sum(sum(1 for b in v if b) for v in pattern.values())
    expected["saved_state_dict"] = {k2: tensor(v) for k2, v in sd.items()}
    write({
        "case": name, "method": "adalora",
        "config": {"init_r": init_r, "target_r": target_r, "total_step": total_step, "tinit": tinit,
                   "tfinal": tfinal, "deltaT": delta_t, "beta1": beta1, "beta2": beta2, "budget": last_budget,
                   "init_bgt": ra.init_bgt, "layer_names": paths, "steps": steps, "adapter_name": "default",
                   "global_steps": [a["global_step"] for a in actions], "in_features": in_f,
                   "out_features": out_f, "seed": seed, "final_allocation_done": final},
        "inputs": inputs, "expected": expected, "atol": 1e-6, "rtol": 1e-5,
        "notes": "Produced by %s: AdaLoraModel trained %d AdamW steps (MSE on random data) with PEFT's own loop: "
                 "update_and_allocate(global_step) after optimizer.step(), global_step = 0 at the first optimizer "
                 "step (config.global_steps). inputs stepT.* are the parameters and gradients RankAllocator saw at "
                 "optimizer step T+1. expected: triplet scores, kthvalue threshold and k = init_bgt - budget of the "
                 "LAST mask_to_budget call, the EMAs after the last step (absent once the final allocation reset "
                 "them), lora_E after the last step, config.rank_pattern, kept_triplets (its true entries) and "
                 "get_peft_model_state_dict (resized by the pattern). config.budget = budget_schedule(last "
                 "global_step)." % (REFERENCE, steps),
    })


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    # The example: init_r 6 (init_bgt 12) on two 24->10 modules; at the 6th optimizer step PEFT
    # (global_step 5) masks to budget 7.
    adalora_rank_allocation("adalora_rank_allocation_issue_r6_bgt7", seed=0, layers=1, in_f=24, out_f=10, init_r=6,
                            target_r=2, total_step=20, tinit=0, tfinal=0, delta_t=1, steps=6)
    # Other seeds, shapes, budgets and schedules: warm-up, masks every deltaT steps, up to and past the final
    # allocation (tfinal), r > min(in, out), more than two modules.
    adalora_rank_allocation("adalora_rank_allocation_s1_deltaT2", seed=1, layers=2, in_f=16, out_f=24, init_r=8,
                            target_r=3, total_step=14, tinit=2, tfinal=0, delta_t=2, steps=9)
    adalora_rank_allocation("adalora_rank_allocation_s2_final", seed=2, layers=2, in_f=20, out_f=12, init_r=5,
                            target_r=2, total_step=12, tinit=1, tfinal=3, delta_t=3, steps=11)
    adalora_rank_allocation("adalora_rank_allocation_s3_rank_gt_min", seed=3, layers=1, in_f=6, out_f=9, init_r=8,
                            target_r=3, total_step=10, tinit=0, tfinal=2, delta_t=1, steps=6)
    adalora_rank_allocation("adalora_rank_allocation_s4_gaussian", seed=4, layers=3, in_f=12, out_f=12, init_r=4,
                            target_r=1, total_step=8, tinit=0, tfinal=1, delta_t=1, steps=8, init_lora_weights=False,
                            lr=0.01)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"set": "peft4j-edge", "reference": [REFERENCE],
                   "generator": "tools/interop/generate_edge_cases.py (runs the real PEFT code)",
                   "cases": CASES}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
