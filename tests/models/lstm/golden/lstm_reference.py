#!/usr/bin/env python3
"""Independent NumPy recomputation of the fixed-point LSTM golden vectors.

Reads only the inputs of each committed case (tests/models/lstm/golden/<case>.txt:
w_ih, w_hh, bias, h0, c0 and every step's x) and recomputes, from the LSTM equations and
the number formats stated in models/common/fixed.h and docs/lstm_kernels.md, every step's
accumulator, pre-activations, gates, c and h. The sigmoid/tanh ROMs are built here from
their definition (round(f(x_k) * 2^15), clamped to 32767), not copied. Writes
independent/<case>.txt (a subfolder: every .txt beside the cases is read as a golden file by
`tessel validate`); tests/models/lstm/golden_test.cpp asserts that the
committed golden vectors equal these outputs bit for bit. Run from the repository root:

  python3 tests/models/lstm/golden/lstm_reference.py

(python3 with NumPy; CI does not run this script, the test reads the committed outputs.)

Each step also carries h_float and c_float: the same step in float64 with the exact
sigmoid and tanh, from the dequantised weights, x and the fixed-point state before the
step, i.e. how far one fixed-point step is from the real-valued LSTM cell.

Formats: w, x, h Q2.13; bias, pre-activation, c Q4.11; gates Q0.15; the accumulator holds
exact products with 26 fraction bits. Rounding is half up (ties toward +infinity);
results saturate to int16. Gate rows are ordered i, f, g, o (PyTorch's nn.LSTM).
"""

import glob
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = ["tiny_i3_h4", "small_i8_h16", "saturate_i4_h8"]
INPUT_RECORDS = ("input_size", "hidden_size", "steps", "w_ih", "w_hh", "bias", "h0", "c0")


def round_half_up_shift(v, s):
    """floor(v / 2^s + 1/2) for Python integers (exact, any size)."""
    return (v + (1 << (s - 1))) // (1 << s) if s else v


def sat16(v):
    return max(-32768, min(32767, v))


def rom(f, step, shift=15):
    """257 entries round(f(k * step) * 2^15), clamped to 32767 (1.0 is not in Q0.15)."""
    return [min(32767, int(np.floor(f(k * step) * (1 << shift) + 0.5))) for k in range(257)]


SIGMOID_ROM = rom(lambda x: 1.0 / (1.0 + np.exp(-x)), 1.0 / 16)  # [0, 16], 1/16 apart
TANH_ROM = rom(np.tanh, 1.0 / 32)  # [0, 8], 1/32 apart


def interpolate(table, z, seg_bits):
    """f(|z|) for a Q4.11 z: the segment of width 2^seg_bits LSBs and linear
    interpolation between its two entries, rounded half up; the last entry beyond."""
    mag = abs(z)
    seg, frac = mag >> seg_bits, mag & ((1 << seg_bits) - 1)
    if seg >= 256:
        return table[256]
    return table[seg] + round_half_up_shift((table[seg + 1] - table[seg]) * frac, seg_bits)


def sigmoid_q(z):  # Q4.11 -> Q0.15; sigmoid(-x) = 1 - sigmoid(x)
    y = interpolate(SIGMOID_ROM, z, 7)  # 11 fraction bits - 4 = 1/16 per segment
    return y if z >= 0 else 32768 - y


def tanh_q(z):  # Q4.11 -> Q0.15; odd
    y = interpolate(TANH_ROM, z, 6)  # 11 - 5 = 1/32 per segment
    return y if z >= 0 else -y


def read_case(path):
    rec, steps = {}, []
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok or tok[0].startswith("#") or tok[0] == "case":
                continue
            if tok[0] == "step":
                steps.append({})
            elif tok[0] in INPUT_RECORDS[:3]:  # scalars
                rec[tok[0]] = int(tok[1])
            elif tok[0] in INPUT_RECORDS:  # <name> <count> <values>
                assert int(tok[1]) == len(tok) - 2, path + ": " + tok[0]
                rec[tok[0]] = [int(v) for v in tok[2:]]
            elif tok[0] == "x":
                steps[-1]["x"] = [int(v) for v in tok[2:]]
            # acc, preact, gate, c, h: the outputs under test, never read here.
    return rec, [s["x"] for s in steps]


def step_fixed(w_ih, w_hh, bias, x, h, c):
    hid = len(h)
    acc = [sum(int(a) * int(b) for a, b in zip(w_ih[r], x)) +
           sum(int(a) * int(b) for a, b in zip(w_hh[r], h)) for r in range(4 * hid)]
    # bias Q4.11 aligned to 26 fraction bits (x 2^15), added exactly, rounded once to Q4.11.
    z = [sat16(round_half_up_shift(acc[r] + bias[r] * (1 << 15), 15)) for r in range(4 * hid)]
    gate = [tanh_q(z[r]) if 2 * hid <= r < 3 * hid else sigmoid_q(z[r]) for r in range(4 * hid)]
    i, f, g, o = (gate[k * hid:(k + 1) * hid] for k in range(4))
    # c' = f c + i g: f c has 15 + 11 = 26 fraction bits, i g has 30; sum at 30, round to 11.
    c2 = [sat16(round_half_up_shift(f[j] * c[j] * 16 + i[j] * g[j], 19)) for j in range(hid)]
    # h = o tanh(c'): 15 + 15 = 30 fraction bits, rounded to Q2.13.
    h2 = [sat16(round_half_up_shift(o[j] * tanh_q(c2[j]), 17)) for j in range(hid)]
    return acc, z, gate, c2, h2


def step_float(w_ih, w_hh, bias, x, h, c):
    """The real-valued cell on the dequantised values (float64, exact sigmoid/tanh)."""
    W_ih = np.array(w_ih, dtype=np.float64) / 2 ** 13
    W_hh = np.array(w_hh, dtype=np.float64) / 2 ** 13
    b = np.array(bias, dtype=np.float64) / 2 ** 11
    z = W_ih @ (np.array(x) / 2 ** 13) + W_hh @ (np.array(h) / 2 ** 13) + b
    hid = len(h)
    i, f, o = (1.0 / (1.0 + np.exp(-z[k * hid:(k + 1) * hid])) for k in (0, 1, 3))
    g = np.tanh(z[2 * hid:3 * hid])
    c2 = f * (np.array(c) / 2 ** 11) + i * g
    return o * np.tanh(c2), c2


def run_case(name):
    rec, xs = read_case(os.path.join(HERE, name + ".txt"))
    n_in, hid = rec["input_size"], rec["hidden_size"]
    w_ih = np.array(rec["w_ih"], dtype=object).reshape(4 * hid, n_in).tolist()
    w_hh = np.array(rec["w_hh"], dtype=object).reshape(4 * hid, hid).tolist()
    bias, h, c = rec["bias"], rec["h0"], rec["c0"]
    assert len(xs) == rec["steps"]
    out = [
        "# Independent recomputation of tests/models/lstm/golden/%s.txt from its inputs\n"
        "# (w_ih w_hh bias h0 c0 x): python3 tests/models/lstm/golden/lstm_reference.py\n"
        "# (NumPy, written from the equations and the formats of models/common/fixed.h).\n"
        "# Fixed-point records as in the golden file; h_float and c_float: the step in\n"
        "# float64 with exact sigmoid/tanh from the dequantised inputs and state.\n" % name,
        "case %s\n" % name, "steps %d\n" % len(xs)]
    for t, x in enumerate(xs):
        hf, cf = step_float(w_ih, w_hh, bias, x, h, c)
        acc, z, gate, c, h = step_fixed(w_ih, w_hh, bias, x, h, c)
        out.append("step %d\n" % t)
        for key, v in (("acc", acc), ("preact", z), ("gate", gate), ("c", c), ("h", h)):
            out.append("%s %d %s\n" % (key, len(v), " ".join(str(e) for e in v)))
        for key, v in (("h_float", hf), ("c_float", cf)):
            out.append("%s %d %s\n" % (key, len(v), " ".join("%.17g" % e for e in v)))
    path = os.path.join(HERE, "independent", name + ".txt")
    with open(path, "w") as f:
        f.write("".join(out))
    return path


def quantize(v, frac):
    """Float -> int16 Qm.frac: round half up, saturate (the edges of the fixed-point world)."""
    return sat16(int(np.floor(float(v) * 2.0 ** frac + 0.5)))


def run_sample(name="bilstm_i8_h8"):
    """The sample nn.LSTM(8, 8, num_layers=2, bidirectional=True) on its [12, 2, 8] input,
    zero initial state: the last layer's output in float64 and in fixed point (weights and
    x Q2.13; b_ih + b_hh summed in float32, as the accelerator stores one bias per row,
    then Q4.11; a layer's input is the previous layer's Q2.13 h, forward then reverse)."""
    w = np.load(os.path.join(HERE, name + ".npz"))
    x = np.load(os.path.join(HERE, name + "_input.npy"))
    steps, batch, _ = x.shape
    hid, layers = w["weight_hh_l0"].shape[1], 2
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))
    y_float = x.astype(np.float64)
    y_fixed = [[[quantize(v, 13) for v in x[t, b]] for b in range(batch)] for t in range(steps)]
    for l in range(layers):
        out_f = np.zeros((steps, batch, 2 * hid))
        out_q = [[[0] * (2 * hid) for _ in range(batch)] for _ in range(steps)]
        for d, sfx in enumerate(("_l%d" % l, "_l%d_reverse" % l)):
            W_ih, W_hh = w["weight_ih" + sfx], w["weight_hh" + sfx]
            b32 = w["bias_ih" + sfx] + w["bias_hh" + sfx]  # float32 + float32 in float32
            b = w["bias_ih" + sfx].astype(np.float64) + w["bias_hh" + sfx]
            q_ih = [[quantize(v, 13) for v in row] for row in W_ih]
            q_hh = [[quantize(v, 13) for v in row] for row in W_hh]
            q_b = [quantize(v, 11) for v in b32]
            order = range(steps - 1, -1, -1) if d else range(steps)
            for bi in range(batch):
                h, c = np.zeros(hid), np.zeros(hid)
                hq, cq = [0] * hid, [0] * hid
                for t in order:
                    z = W_ih.astype(np.float64) @ y_float[t, bi] + W_hh.astype(np.float64) @ h + b
                    i, f, g, o = sig(z[:hid]), sig(z[hid:2 * hid]), np.tanh(
                        z[2 * hid:3 * hid]), sig(z[3 * hid:])
                    c = f * c + i * g
                    h = o * np.tanh(c)
                    out_f[t, bi, d * hid:(d + 1) * hid] = h
                    _, _, _, cq, hq = step_fixed(q_ih, q_hh, q_b, y_fixed[t][bi], hq, cq)
                    out_q[t][bi][d * hid:(d + 1) * hid] = hq
        y_float, y_fixed = out_f, out_q
    flat_q = [v for t in y_fixed for b in t for v in b]
    path = os.path.join(HERE, "independent", name + ".txt")
    with open(path, "w") as f:
        f.write("# Independent outputs of tests/models/lstm/golden/%s.npz on %s_input.npy\n"
                "# (zero initial state): python3 tests/models/lstm/golden/lstm_reference.py\n"
                "# (NumPy float64, and Python integers in the formats of fixed.h).\n"
                "# y [steps, batch, 2H] row-major: y_float in float64, y_fixed Q2.13.\n"
                % (name, name))
        f.write("shape %d %d %d\n" % (steps, batch, 2 * hid))
        f.write("y_float %d %s\n" % (y_float.size, " ".join("%.17g" % v for v in y_float.ravel())))
        f.write("y_fixed %d %s\n" % (len(flat_q), " ".join(str(v) for v in flat_q)))
    return path


def main():
    committed = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(HERE, "*.txt")))
    if committed != sorted(CASES):
        sys.exit("cases on disk %s differ from CASES %s" % (committed, CASES))
    for name in CASES:
        print("wrote", os.path.relpath(run_case(name)))
    print("wrote", os.path.relpath(run_sample()))


if __name__ == "__main__":
    main()
