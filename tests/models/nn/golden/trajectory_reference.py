#!/usr/bin/env python3
"""Independent float64 NumPy reference of the tiny 20-step training trajectory.

The anchor of tests/models/nn/golden/trajectory_20.txt: the same model, loss, clipping,
optimizer and schedule, written here from the math (GPT-2 pre-LN block, nanoGPT/PyTorch
AdamW and clip_grad_norm_), not from the project's code. Only the *inputs* come from the
engine: the initial parameters and the token batches of each step, which the anchor test
writes when asked:

  TESSEL_TRAJECTORY_INPUTS=/tmp/trajectory_inputs.txt \\
      build/tests/models/nn/nn_trainer_test --gtest_filter='TrajectoryAnchor.*'
  python3 tests/models/nn/golden/trajectory_reference.py /tmp/trajectory_inputs.txt \\
      tests/models/nn/golden/trajectory_20_numpy.txt

(python3 with NumPy; CI does not run this script, the test reads the committed output.)
`--gradcheck` compares this file's backward pass with central finite differences first;
`--inject NAME` runs with a deliberate bug (see BUGS) to show what the test's tolerance
catches.

The hyperparameters are those of the test's YAML (kTinyYaml in
tests/models/nn/trainer_test.cpp) and the documented defaults (configs/README.md,
"Training"), written out below, not read from the engine.
"""

import argparse
import math
import sys

import numpy as np

LAYERS, WIDTH, HEADS, MLP_RATIO = 2, 32, 4, 4
BATCH, SEQ, STEPS = 8, 32, 20
LR, WARMUP, MIN_LR = 3.0e-3, 5, 3.0e-4  # min_lr defaults to lr / 10
BETA1, BETA2, ADAM_EPS, WEIGHT_DECAY = 0.9, 0.95, 1e-8, 0.1
GRAD_CLIP = 1.0
LN_EPS = 1e-5

BUGS = {
    "eps_inside_sqrt": "Adam denominator sqrt(v_hat + eps) instead of sqrt(v_hat) + eps",
    "no_bias_correction": "Adam without the 1 - beta^t bias corrections",
    "lr_plus_1e-3": "learning rate 1.001 x 3e-3 (a 0.1% change)",
    "no_weight_decay_on_embeddings": "weight decay on the block matrices only",
    "gelu_erf": "exact erf GELU instead of the tanh approximation",
}


def read_inputs(path):
    """Parameters {name: float64 array} in file order, and [(tokens, targets)] per step."""
    params, batches = {}, []
    with open(path) as f:
        lines = [l for l in f.read().split("\n") if l and not l.startswith("#")]
    it = iter(lines)
    for line in it:
        head = line.split()
        if head[0] == "param":
            name, rows, cols = head[1], int(head[2]), int(head[3])
            vals = np.array(next(it).split(), dtype=np.float32)  # exact float32 values
            assert vals.size == rows * cols, name
            params[name] = vals.astype(np.float64).reshape(rows, cols)
        elif head[0] == "batch":
            b, t = int(head[2]), int(head[3])
            tok = np.array(next(it).split(), dtype=np.int64).reshape(b, t)
            tgt = np.array(next(it).split(), dtype=np.int64).reshape(b, t)
            batches.append((tok, tgt))
        else:
            raise ValueError(f"{path}: unexpected line {line[:40]!r}")
    return params, batches


def layernorm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)  # biased variance, as torch.nn.LayerNorm
    rstd = 1.0 / np.sqrt(var + LN_EPS)
    xhat = (x - mu) * rstd
    return xhat * g + b, (xhat, rstd)


def layernorm_back(dy, g, cache):
    xhat, rstd = cache
    dg = (dy * xhat).reshape(-1, xhat.shape[-1]).sum(0)
    db = dy.reshape(-1, xhat.shape[-1]).sum(0)
    dxhat = dy * g
    n = xhat.shape[-1]
    dx = rstd / n * (n * dxhat - dxhat.sum(-1, keepdims=True)
                     - xhat * (dxhat * xhat).sum(-1, keepdims=True))
    return dx, dg.reshape(1, -1), db.reshape(1, -1)


GELU_C = math.sqrt(2.0 / math.pi)


def gelu(x, bug):
    if bug == "gelu_erf":
        from math import erf
        return 0.5 * x * (1.0 + np.vectorize(erf)(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + np.tanh(GELU_C * (x + 0.044715 * x ** 3)))


def gelu_back(dy, x, bug):
    if bug == "gelu_erf":
        from math import erf
        cdf = 0.5 * (1.0 + np.vectorize(erf)(x / math.sqrt(2.0)))
        return dy * (cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi))
    u = GELU_C * (x + 0.044715 * x ** 3)
    th = np.tanh(u)
    du = GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
    return dy * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du)


def forward_backward(P, tok, tgt, bug=None, need_grad=True):
    """Mean next-token cross-entropy of one batch and its gradient {name: array}."""
    B, T = tok.shape
    C, H = WIDTH, HEADS
    hd = C // H
    x = P["wte"][tok] + P["wpe"][np.arange(T)][None, :, :]  # [B, T, C]
    mask = np.triu(np.ones((T, T), dtype=bool), 1)  # True above the diagonal: the future
    caches = []
    for l in range(LAYERS):
        p = lambda n: P[f"h{l}.{n}"]
        a, ln1 = layernorm(x, p("ln1_g"), p("ln1_b"))
        qkv = a @ p("w_qkv") + p("b_qkv")
        q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, H, hd).transpose(0, 2, 1, 3)
                   for i in range(3))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
        s = np.where(mask, -np.inf, s)
        s = s - s.max(-1, keepdims=True)
        e = np.exp(s)
        att = e / e.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x_mid = x + y @ p("w_proj") + p("b_proj")
        m, ln2 = layernorm(x_mid, p("ln2_g"), p("ln2_b"))
        f = m @ p("w_fc") + p("b_fc")
        act = gelu(f, bug)
        x_out = x_mid + act @ p("w_fc2") + p("b_fc2")
        caches.append((x, a, ln1, q, k, v, att, y, x_mid, m, ln2, f, act))
        x = x_out
    z, lnf = layernorm(x, P["lnf_g"], P["lnf_b"])
    logits = z @ P["wte"].T  # tied output head
    logits = logits - logits.max(-1, keepdims=True)
    lse = np.log(np.exp(logits).sum(-1, keepdims=True))
    logp = logits - lse
    n = B * T
    loss = -np.take_along_axis(logp, tgt[..., None], -1).sum() / n
    if not need_grad:
        return loss, None

    G = {name: np.zeros_like(v) for name, v in P.items()}
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, tgt[..., None],
                      np.take_along_axis(dlogits, tgt[..., None], -1) - 1.0, -1)
    dlogits /= n
    G["wte"] += dlogits.reshape(n, -1).T @ z.reshape(n, C)
    dz = dlogits @ P["wte"]
    dx, G["lnf_g"], G["lnf_b"] = layernorm_back(dz, P["lnf_g"], lnf)
    for l in reversed(range(LAYERS)):
        p = lambda nm: P[f"h{l}.{nm}"]
        g = lambda nm: f"h{l}.{nm}"
        x_in, a, ln1, q, k, v, att, y, x_mid, m, ln2, f, act = caches[l]
        # x_out = x_mid + act W_fc2 + b_fc2
        G[g("w_fc2")] += act.reshape(n, -1).T @ dx.reshape(n, C)
        G[g("b_fc2")] += dx.reshape(n, C).sum(0, keepdims=True)
        dact = dx @ p("w_fc2").T
        df = gelu_back(dact, f, bug)
        G[g("w_fc")] += m.reshape(n, C).T @ df.reshape(n, -1)
        G[g("b_fc")] += df.reshape(n, -1).sum(0, keepdims=True)
        dm = df @ p("w_fc").T
        dxm, G[g("ln2_g")], G[g("ln2_b")] = layernorm_back(dm, p("ln2_g"), ln2)
        dxm = dxm + dx
        # x_mid = x_in + y W_proj + b_proj
        G[g("w_proj")] += y.reshape(n, C).T @ dxm.reshape(n, C)
        G[g("b_proj")] += dxm.reshape(n, C).sum(0, keepdims=True)
        dy = (dxm @ p("w_proj").T).reshape(B, T, H, hd).transpose(0, 2, 1, 3)
        datt = dy @ v.transpose(0, 1, 3, 2)
        dv = att.transpose(0, 1, 3, 2) @ dy
        ds = att * (datt - (datt * att).sum(-1, keepdims=True)) / math.sqrt(hd)
        dq = ds @ k
        dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([t.transpose(0, 2, 1, 3).reshape(B, T, C) for t in (dq, dk, dv)],
                              -1)
        G[g("w_qkv")] += a.reshape(n, C).T @ dqkv.reshape(n, 3 * C)
        G[g("b_qkv")] += dqkv.reshape(n, 3 * C).sum(0, keepdims=True)
        da = dqkv @ p("w_qkv").T
        dxi, G[g("ln1_g")], G[g("ln1_b")] = layernorm_back(da, p("ln1_g"), ln1)
        dx = dxi + dxm
    np.add.at(G["wte"], tok.reshape(-1), dx.reshape(n, C))
    G["wpe"][:T] += dx.sum(0)
    return loss, G


def lr_at(step, bug):
    lr = LR * 1.001 if bug == "lr_plus_1e-3" else LR
    min_lr = MIN_LR * 1.001 if bug == "lr_plus_1e-3" else MIN_LR
    if step < WARMUP:
        return lr * (step + 1) / WARMUP
    x = (step - WARMUP) / max(1, STEPS - WARMUP)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * min(1.0, x)))


def decays(name, bug):
    """AdamW decays the weight matrices (embeddings included, as nanoGPT's dim >= 2 rule)."""
    tail = name.split(".")[-1]
    if bug == "no_weight_decay_on_embeddings" and name in ("wte", "wpe"):
        return False
    return name in ("wte", "wpe") or tail.startswith("w_")


def train(params, batches, bug=None):
    P = {k: v.copy() for k, v in params.items()}
    M = {k: np.zeros_like(v) for k, v in P.items()}
    V = {k: np.zeros_like(v) for k, v in P.items()}
    losses = []
    for step, (tok, tgt) in enumerate(batches):
        loss, G = forward_backward(P, tok, tgt, bug)
        losses.append(loss)
        # torch.nn.utils.clip_grad_norm_: global L2 norm, coefficient max / (norm + 1e-6).
        norm = math.sqrt(sum(float((g * g).sum()) for g in G.values()))
        coef = GRAD_CLIP / (norm + 1e-6)
        if coef < 1.0:
            for g in G.values():
                g *= coef
        t = step + 1
        lr = lr_at(step, bug)
        for k in P:
            g = G[k]
            M[k] = BETA1 * M[k] + (1 - BETA1) * g
            V[k] = BETA2 * V[k] + (1 - BETA2) * g * g
            if bug == "no_bias_correction":
                mh, vh = M[k], V[k]
            else:
                mh, vh = M[k] / (1 - BETA1 ** t), V[k] / (1 - BETA2 ** t)
            if bug == "eps_inside_sqrt":
                upd = mh / np.sqrt(vh + ADAM_EPS)
            else:
                upd = mh / (np.sqrt(vh) + ADAM_EPS)
            # torch.optim.AdamW: decoupled decay p *= 1 - lr wd, then the Adam step.
            if decays(k, bug):
                P[k] *= 1.0 - lr * WEIGHT_DECAY
            P[k] -= lr * upd
    return losses


def gradcheck(params, tok, tgt, samples=40, seed=0):
    """Max relative error of the backward pass against central differences (float64)."""
    rng = np.random.default_rng(seed)
    _, G = forward_backward(params, tok, tgt)
    worst = 0.0
    names = list(params)
    for _ in range(samples):
        k = names[rng.integers(len(names))]
        idx = tuple(rng.integers(s) for s in params[k].shape)
        P = {n: v.copy() for n, v in params.items()}
        h = 1e-5
        P[k][idx] += h
        lp, _ = forward_backward(P, tok, tgt, need_grad=False)
        P[k][idx] -= 2 * h
        lm, _ = forward_backward(P, tok, tgt, need_grad=False)
        num = (lp - lm) / (2 * h)
        worst = max(worst, abs(num - G[k][idx]) / max(1e-6, abs(num) + abs(G[k][idx])))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", help="file written by the anchor test (TESSEL_TRAJECTORY_INPUTS)")
    ap.add_argument("output", nargs="?", help="losses file to write (default: print only)")
    ap.add_argument("--gradcheck", action="store_true")
    ap.add_argument("--inject", choices=sorted(BUGS), help="run with a deliberate bug")
    args = ap.parse_args()
    params, batches = read_inputs(args.inputs)
    assert len(batches) == STEPS, f"{len(batches)} batches, expected {STEPS}"
    assert params["wte"].shape[1] == WIDTH
    if args.gradcheck:
        tok, tgt = batches[0]
        print(f"gradcheck: max relative error {gradcheck(params, tok, tgt):.2e}")
    losses = train(params, batches, args.inject)
    text = "".join(f"{l:.12g}\n" for l in losses)
    if args.output:
        with open(args.output, "w") as f:
            f.write(
                "# Independent anchor of tests/models/nn/golden/trajectory_20.txt: the losses of\n"
                "# the 20 steps computed in float64 by tests/models/nn/golden/"
                "trajectory_reference.py\n"
                "# (NumPy, written from the math), from the engine's initial parameters and\n"
                "# batches. Made by:\n"
                "#   TESSEL_TRAJECTORY_INPUTS=/tmp/trajectory_inputs.txt \\\n"
                "#     build/tests/models/nn/nn_trainer_test --gtest_filter='TrajectoryAnchor.*'\n"
                "#   python3 tests/models/nn/golden/trajectory_reference.py "
                "/tmp/trajectory_inputs.txt \\\n"
                "#     tests/models/nn/golden/trajectory_20_numpy.txt\n"
                f"# inputs {fingerprint(args.inputs)}\n" + text)
    sys.stdout.write(text)


def fingerprint(path):
    """The line the test compares with its own inputs: FNV-1a 64 of the token and target
    ids (int32, little-endian), and the sum and sum of squares of the initial parameters."""
    params, batches = read_inputs(path)
    h = 0xCBF29CE484222325
    for tok, tgt in batches:
        for arr in (tok, tgt):
            for byte in arr.astype("<i4").tobytes():
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    flat = np.concatenate([v.reshape(-1) for v in params.values()])
    return (f"tokens_fnv1a64 {h:016x} params {flat.size} sum {flat.sum():.17g} "
            f"sumsq {(flat * flat).sum():.17g}")


if __name__ == "__main__":
    main()
