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

Run (Debian's python3 with torch, <libs> = the unmodified library sources listed in docs/interop.md):
    PYTHONPATH=<libs>:tools/interop/import_stubs /usr/bin/python3 tools/interop/generate_edge_cases.py
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


# ------------------------------------------------------------------------------------ ranks above min(in, out)

Q = "model.layers.0.self_attn.q_proj"


def q_layer(model):
    return model.base_model.model.model.layers[0].self_attn.q_proj


def lora_rank_cases(name, seed, in_f, out_f, r, alpha, use_rslora=False, use_dora=False):
    """LoRA / DoRA with r > min(in, out), which PEFT creates without complaint: forward (eval) and merge."""
    torch.manual_seed(seed)
    base = Tiny(1, in_f, out_f, bias=True)
    w0 = base.model.layers[0].self_attn.q_proj.weight.detach().clone()
    b0 = base.model.layers[0].self_attn.q_proj.bias.detach().clone()
    cfg = LoraConfig(r=r, lora_alpha=alpha, use_rslora=use_rslora, use_dora=use_dora, target_modules=["q_proj"],
                     init_lora_weights=False)   # B != 0: a non-trivial update
    model = get_peft_model(base, cfg).eval()
    layer = q_layer(model)
    a = layer.lora_A["default"].weight
    b = layer.lora_B["default"].weight
    assert tuple(a.shape) == (r, in_f) and tuple(b.shape) == (out_f, r), "PEFT keeps [r, in] / [out, r]"
    x = torch.randn(3, in_f)
    with torch.no_grad():
        y = layer(x)
    scaling = layer.scaling["default"]
    method = "dora" if use_dora else "lora"
    config = {"r": r, "lora_alpha": alpha, "use_rslora": use_rslora, "lora_dropout": 0.0, "scaling": scaling,
              "in_features": in_f, "out_features": out_f}
    if use_dora:
        config["use_dora"] = True
        config["training"] = False
    inputs = {"x": tensor(x), "weight": tensor(w0), "bias": tensor(b0), "lora_A": tensor(a), "lora_B": tensor(b)}
    if use_dora:
        inputs["magnitude"] = tensor(layer.lora_magnitude_vector["default"].weight)
    note = ("Produced by %s: get_peft_model(LoraConfig(r=%d > min(in, out) = %d, use_dora=%s, "
            "init_lora_weights=False)) on one %d->%d linear; PEFT accepts the rank and keeps lora_A [r, in], "
            "lora_B [out, r]. " % (REFERENCE, r, min(in_f, out_f), use_dora, in_f, out_f))
    write({"case": "%s_forward%s_%s" % (method, "_eval" if use_dora else "", name), "method": method,
           "config": config, "inputs": inputs, "expected": {"y": tensor(y), "scaling": scaling},
           "atol": 1e-5, "rtol": 1e-5, "notes": note + "expected y = the PEFT layer's eval forward."})
    with torch.no_grad():
        delta = layer.get_delta_weight("default")
        layer.merge(adapter_names=["default"])
        merged_w = layer.base_layer.weight.detach().clone()
        merged_b = layer.base_layer.bias.detach().clone()
    mconfig = dict(config)
    mconfig.pop("training", None)
    expected = {"merged_weight": tensor(merged_w), "merged_bias": tensor(merged_b)}
    if not use_dora:
        expected["delta_weight"] = tensor(delta)
    minputs = {k: v for k, v in inputs.items() if k != "x"}
    write({"case": "%s_merge_%s" % (method, name), "method": method, "config": mconfig, "inputs": minputs,
           "expected": expected, "atol": 1e-5, "rtol": 1e-5,
           "notes": note + "expected: PEFT's merge (base weight and bias after layer.merge) and get_delta_weight."})


def vera_rank_case(name, seed, in_f, out_f, r):
    from peft import VeraConfig
    torch.manual_seed(seed)
    base = Tiny(1, in_f, out_f, bias=True)
    w0 = base.model.layers[0].self_attn.q_proj.weight.detach().clone()
    b0 = base.model.layers[0].self_attn.q_proj.bias.detach().clone()
    model = get_peft_model(base, VeraConfig(r=r, target_modules=["q_proj"], d_initial=0.1)).eval()
    layer = q_layer(model)
    with torch.no_grad():
        layer.vera_lambda_b["default"].copy_(torch.randn(out_f) * 0.5)   # lambda_b starts at 0: make it count
    x = torch.randn(3, in_f)
    with torch.no_grad():
        y = layer(x)
        delta = layer.get_delta_weight("default")
    write({"case": "vera_forward_" + name, "method": "vera",
           "config": {"r": r, "vera_dropout": 0.0, "d_initial": 0.1, "in_features": in_f, "out_features": out_f},
           "inputs": {"x": tensor(x), "weight": tensor(w0), "bias": tensor(b0),
                      "vera_A": tensor(layer.vera_A["default"]), "vera_B": tensor(layer.vera_B["default"]),
                      "vera_lambda_b": tensor(layer.vera_lambda_b["default"]),
                      "vera_lambda_d": tensor(layer.vera_lambda_d["default"])},
           "expected": {"y": tensor(y), "delta_weight": tensor(delta)}, "atol": 1e-5, "rtol": 1e-5,
           "notes": "Produced by %s: VeRA r=%d > min(in, out) = %d on one %d->%d linear (accepted by PEFT); "
                    "lambda_b set to random values; y = eval forward, delta_weight = get_delta_weight."
                    % (REFERENCE, r, min(in_f, out_f), in_f, out_f)})


def pissa_rank_case(name, seed, in_f, out_f, r, alpha):
    """PiSSA (exact SVD) with r > min(in, out): PEFT slices V[:, :r], S[:r], Uh[:r] at min(in, out), so the factors
    are [min, in] / [out, min] while r and the scaling alpha / r stay."""
    torch.manual_seed(seed)
    base = Tiny(1, in_f, out_f)
    w0 = base.model.layers[0].self_attn.q_proj.weight.detach().clone()
    model = get_peft_model(base, LoraConfig(r=r, lora_alpha=alpha, target_modules=["q_proj"],
                                            init_lora_weights="pissa"))
    layer = q_layer(model)
    a = layer.lora_A["default"].weight.detach()
    b = layer.lora_B["default"].weight.detach()
    s = layer.scaling["default"]
    k = min(in_f, out_f)
    assert a.shape[0] == k, a.shape
    write({"case": "pissa_init_" + name, "method": "pissa",
           "config": {"r": r, "lora_alpha": alpha, "use_rslora": False, "init_lora_weights": "pissa", "scaling": s,
                      "in_features": in_f, "out_features": out_f},
           "inputs": {"weight": tensor(w0)},
           "expected": {"BA_product": tensor(b @ a), "scaled_delta": tensor(s * (b @ a)),
                        "residual_weight": tensor(layer.base_layer.weight),
                        "top_singular_values": tensor(s * a.norm(dim=1) ** 2),
                        "lora_A_row_norms": tensor(a.norm(dim=1)), "lora_B_col_norms": tensor(b.norm(dim=0)),
                        "lora_A_shape": list(a.shape), "lora_B_shape": list(b.shape)},
           "atol": 1e-4, "rtol": 1e-4,
           "notes": "Produced by %s: LoraConfig(r=%d, init_lora_weights='pissa') on a %d->%d linear; PEFT's slices "
                    "stop at min(in, out) = %d, so lora_A is %s and lora_B %s (r and scaling alpha/r unchanged), "
                    "the residual is ~0. Sign-invariant quantities only; top_singular_values = s*|A_i|^2."
                    % (REFERENCE, r, in_f, out_f, k, list(a.shape), list(b.shape))})


def pissa_conversion_case(name, seed, in_f, out_f, r, alpha, use_rslora=False):
    """PEFT's save_pretrained(path_initial_model_for_weight_conversion=...) with 2r > min(in, out)."""
    from safetensors.torch import load_file
    torch.manual_seed(seed)
    base = Tiny(1, in_f, out_f)
    model = get_peft_model(base, LoraConfig(r=r, lora_alpha=alpha, use_rslora=use_rslora, target_modules=["q_proj"],
                                            init_lora_weights="pissa"))
    layer = q_layer(model)
    a0 = layer.lora_A["default"].weight.detach().clone()
    b0 = layer.lora_B["default"].weight.detach().clone()
    with tempfile.TemporaryDirectory() as d:
        model.peft_config["default"].init_lora_weights = True   # PEFT's documented recipe for the initial adapter
        model.save_pretrained(os.path.join(d, "init"))
        model.peft_config["default"].init_lora_weights = "pissa"
        with torch.no_grad():   # "training": a perturbation of both factors
            layer.lora_A["default"].weight.add_(0.05 * torch.randn_like(a0))
            layer.lora_B["default"].weight.add_(0.05 * torch.randn_like(b0))
        a1 = layer.lora_A["default"].weight.detach().clone()
        b1 = layer.lora_B["default"].weight.detach().clone()
        model.save_pretrained(os.path.join(d, "converted"),
                              path_initial_model_for_weight_conversion=os.path.join(d, "init"))
        with open(os.path.join(d, "converted", "adapter_config.json")) as f:
            conv_cfg = json.load(f)
        sd = load_file(os.path.join(d, "converted", "adapter_model.safetensors"))
    prefix = "base_model.model." + Q
    a_conv = sd[prefix + ".lora_A.weight"]
    b_conv = sd[prefix + ".lora_B.weight"]
    s = layer.scaling["default"]
    new_s = conv_cfg["lora_alpha"] / (math.sqrt(conv_cfg["r"]) if use_rslora else conv_cfg["r"])
    write({"case": "pissa_to_lora_conversion_" + name, "method": "pissa",
           "config": {"r": r, "lora_alpha": alpha, "use_rslora": use_rslora, "scaling": s, "in_features": in_f,
                      "out_features": out_f},
           "inputs": {"lora_A_initial": tensor(a0), "lora_B_initial": tensor(b0), "lora_A_trained": tensor(a1),
                      "lora_B_trained": tensor(b1)},
           "expected": {"lora_A_converted": tensor(a_conv), "lora_B_converted": tensor(b_conv),
                        "new_r": conv_cfg["r"], "new_lora_alpha": conv_cfg["lora_alpha"],
                        "new_init_lora_weights": conv_cfg["init_lora_weights"],
                        "delta_weight": tensor(new_s * (b_conv @ a_conv))},
           "atol": 1e-5, "rtol": 1e-5,
           "notes": "Produced by %s: PiSSA r=%d on a %d->%d linear, factors perturbed, then save_pretrained("
                    "path_initial_model_for_weight_conversion=...): the converted adapter has r=%d > min(in, out) = "
                    "%d. Tensors and config are read back from the files PEFT wrote; delta_weight = new scaling x "
                    "B'A'." % (REFERENCE, r, in_f, out_f, conv_cfg["r"], min(in_f, out_f))})


# ------------------------------------------------------------------------ bias / modules_to_save (not supported)

def base_training_options(path):
    """adapter_config.json and saved tensor names PEFT writes for bias = all / lora_only and modules_to_save, on
    linears with biases at Llama paths (q_proj targeted, k_proj not) plus an lm_head. peft4j rejects these (it does
    not train base biases or whole modules); the test loads PEFT's own configs and checks the rejection."""
    from safetensors.torch import load_file

    class Head(Tiny):
        def __init__(self):
            super().__init__(1, 8, 8, bias=True)
            self.lm_head = nn.Linear(8, 5, bias=False)

    out = {"reference": REFERENCE, "cases": {}}
    for label, kwargs in [("bias_all", {"bias": "all"}), ("bias_lora_only", {"bias": "lora_only"}),
                          ("modules_to_save", {"modules_to_save": ["lm_head"]})]:
        torch.manual_seed(0)
        model = get_peft_model(Head(), LoraConfig(r=2, target_modules=["q_proj"], **kwargs))
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        with tempfile.TemporaryDirectory() as d:
            model.save_pretrained(d)
            with open(os.path.join(d, "adapter_config.json")) as f:
                cfg = json.load(f)
            keys = sorted(load_file(os.path.join(d, "adapter_model.safetensors")).keys())
        out["cases"][label] = {"adapter_config": cfg, "trainable_in_memory": trainable, "saved_keys": keys}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", path, file=sys.stderr)


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
    # Ranks above min(in, out) (the 24 -> 10 modules, r 12).
    lora_rank_cases("rank_gt_min", seed=10, in_f=24, out_f=10, r=12, alpha=16)
    lora_rank_cases("rslora_rank_gt_min", seed=11, in_f=8, out_f=20, r=14, alpha=8, use_rslora=True)
    lora_rank_cases("rank_gt_min", seed=12, in_f=24, out_f=10, r=12, alpha=16, use_dora=True)
    vera_rank_case("rank_gt_min", seed=13, in_f=24, out_f=10, r=16)
    pissa_rank_case("rank_gt_min", seed=14, in_f=24, out_f=10, r=12, alpha=16)
    pissa_conversion_case("2r_gt_min", seed=15, in_f=24, out_f=10, r=6, alpha=12)
    pissa_conversion_case("2r_gt_min_rslora", seed=16, in_f=10, out_f=16, r=8, alpha=8, use_rslora=True)
    base_training_options(os.path.join(ROOT, "integration-tests", "src", "test", "resources", "peft-written",
                                       "base_training_options.json"))
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"set": "peft4j-edge", "reference": [REFERENCE],
                   "generator": "tools/interop/generate_edge_cases.py (runs the real PEFT code)",
                   "cases": CASES}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
