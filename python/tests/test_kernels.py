"""Reference kernels from NumPy, each checked against an independent NumPy computation."""

import numpy as np
import pytest
import tessel


# ------------------------------------------------------------------ N:M
def numpy_nm_mask(w, n, m):
    """Keep the n largest |w| of every m consecutive columns; ties to the lower column."""
    rows, cols = w.shape
    g = np.abs(w.astype(np.float64)).reshape(rows, cols // m, m)
    # Stable sort on -|w| keeps the lower column first among equals.
    order = np.argsort(-g, axis=2, kind="stable")
    keep = np.zeros_like(g, dtype=np.uint8)
    np.put_along_axis(keep, order[:, :, :n], 1, axis=2)
    return keep.reshape(rows, cols)


@pytest.mark.parametrize("pattern", ["2:4", "1:4", "2:8", "4:16"])
def test_nm_projection_equals_numpy(pattern):
    n, m = map(int, pattern.split(":"))
    rng = np.random.default_rng(7)
    w = rng.standard_normal((37, 8 * m)).astype(np.float32)
    w[3, :m] = 0.5  # all-equal group: ties go to the lowest columns
    mask = tessel.nm_mask(w, pattern)
    assert mask.dtype == np.uint8 and mask.shape == w.shape
    np.testing.assert_array_equal(mask, numpy_nm_mask(w, n, m))
    pruned = tessel.nm_project(w, pattern)
    np.testing.assert_array_equal(pruned, np.where(mask == 1, w, 0))
    assert tessel.nm_check(pruned, pattern) is None


def test_nm_check_names_the_first_violation():
    w = np.zeros((4, 8), np.float32)
    w[2, 4:7] = 1.0  # row 2, group 1 (columns 4-7) keeps 3 of 4
    msg = tessel.nm_check(w, "2:4")
    assert msg == "row 2 group 1 (columns 4-7) keeps 3 of 4, 2:4 allows 2"


def test_nm_compress_round_trip():
    rng = np.random.default_rng(3)
    w = tessel.nm_project(rng.standard_normal((16, 64)).astype(np.float32), "2:4")
    values, indices, packed = tessel.nm_compress(w, "2:4")
    assert values.shape == indices.shape == (16, 32)
    # Independent: the kept values of each group in ascending column order.
    for r in range(16):
        cols = np.nonzero(w[r])[0]
        np.testing.assert_array_equal(values[r][values[r] != 0], w[r, cols])
    assert packed.size == 16 * 32 * 2 // 8  # 2 bits per index
    np.testing.assert_array_equal(tessel.nm_decompress(values, indices, "2:4", 64), w)
    with pytest.raises(tessel.ConfigError):
        tessel.nm_compress(np.ones((2, 8), np.float32), "2:4")


def test_nm_bad_pattern_is_config_error():
    with pytest.raises(tessel.ConfigError) as e:
        tessel.nm_mask(np.ones((2, 8), np.float32), "5:4")
    assert "5:4" in str(e.value)


def test_outputs_are_moved_not_copied():
    w = np.ones((8, 16), np.float32)
    out = tessel.nm_project(w, "2:4")
    assert not out.flags.owndata  # the C++ matrix itself, owned by a capsule
    assert type(out.base).__name__ == "PyCapsule"


# ------------------------------------------------------------------ kNN and ANN
def numpy_knn(base, queries, k):
    d = ((queries[:, None, :].astype(np.float64) - base[None, :, :]) ** 2).sum(-1)
    ids = np.lexsort((np.broadcast_to(np.arange(base.shape[0]), d.shape), d), axis=1)[:, :k]
    return ids, np.take_along_axis(d, ids, axis=1)


def test_exact_knn_equals_brute_force():
    rng = np.random.default_rng(11)
    base = rng.standard_normal((500, 12)).astype(np.float32)
    queries = rng.standard_normal((40, 12)).astype(np.float32)
    ids, dist = tessel.knn(base, queries, 10)
    ref_ids, ref_d = numpy_knn(base, queries, 10)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-5)
    self_ids, _ = tessel.knn(base, base[:5], 3, exclude_self=True)
    assert all(i not in row for i, row in enumerate(self_ids))
    with pytest.raises(tessel.Error):
        tessel.knn(base, queries, 0)


def test_ann_search_recall():
    rng = np.random.default_rng(5)
    centres = rng.random((20, 16))
    base = (centres[rng.integers(0, 20, 3000)] + 0.05 * rng.standard_normal((3000, 16)))
    base = base.astype(np.float32)
    queries = (centres[rng.integers(0, 20, 100)] + 0.05 * rng.standard_normal((100, 16)))
    queries = queries.astype(np.float32)
    index = tessel.AnnIndex(base, R=24, L=40, C=200, threads=1)
    assert index.size == 3000 and index.dim == 16 and index.max_degree >= 1
    ids, dist = tessel.ann_search(index, queries, k=10, L=64)
    truth, truth_d = numpy_knn(base, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
    assert recall >= 0.95, recall
    # Distances returned are the true squared distances of the returned ids.
    d = ((queries[:, None, :].astype(np.float64) - base[ids]) ** 2).sum(-1)
    np.testing.assert_allclose(dist, d, rtol=1e-4, atol=1e-6)
    with pytest.raises(tessel.ConfigError):
        tessel.ann_search(index, queries[:, :8])


# ------------------------------------------------------------------ LSTM
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_lstm(sd, x, layers, bidirectional):
    """PyTorch nn.LSTM forward in NumPy (float64), gates i, f, g, o."""
    steps, batch, _ = x.shape
    dirs = 2 if bidirectional else 1
    inp = x.astype(np.float64)
    hn, cn = [], []
    for l in range(layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{l}" + ("_reverse" if d else "")
            wih, whh = sd["weight_ih" + sfx], sd["weight_hh" + sfx]
            b = sd["bias_ih" + sfx] + sd["bias_hh" + sfx]
            hid = whh.shape[1]
            h = np.zeros((batch, hid)); c = np.zeros((batch, hid))
            y = np.zeros((steps, batch, hid))
            for t in (range(steps - 1, -1, -1) if d else range(steps)):
                z = inp[t] @ wih.T + h @ whh.T + b
                i, f, g, o = np.split(z, 4, axis=1)
                c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                h = sigmoid(o) * np.tanh(c)
                y[t] = h
            outs.append(y); hn.append(h); cn.append(c)
        inp = np.concatenate(outs, axis=2)
    return inp, np.stack(hn), np.stack(cn)


@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_lstm_forward_equals_numpy(layers, bidirectional):
    w = tessel.LstmWeights.random(12, 16, layers, bidirectional, seed=4)
    sd = {k: v.astype(np.float64) for k, v in w.state_dict().items()}
    x = np.random.default_rng(1).uniform(-1, 1, (9, 3, 12)).astype(np.float32)
    y, h, c = tessel.lstm_forward(w, x)
    ry, rh, rc = numpy_lstm(sd, x, layers, bidirectional)
    assert y.shape == ry.shape and h.shape == rh.shape
    np.testing.assert_allclose(y, ry, atol=2e-6)
    np.testing.assert_allclose(h, rh, atol=2e-6)
    np.testing.assert_allclose(c, rc, atol=5e-6)


def test_lstm_state_dict_views_and_round_trip():
    w = tessel.LstmWeights.random(5, 7, 1, False, seed=2)
    a, b = w.state_dict(), w.state_dict()
    # Views of the C++ weights, not copies.
    assert np.shares_memory(a["weight_ih_l0"], b["weight_ih_l0"])
    assert a["weight_ih_l0"].shape == (28, 5)
    w2 = tessel.LstmWeights.from_state_dict({k: np.array(v) for k, v in a.items()})
    x = np.random.default_rng(0).uniform(-1, 1, (4, 2, 5)).astype(np.float32)
    np.testing.assert_array_equal(tessel.lstm_forward(w, x)[0], tessel.lstm_forward(w2, x)[0])
    with pytest.raises(tessel.ConfigError):
        tessel.lstm_forward(w, x[:, :, :4])


def test_lstm_fixed_tracks_float():
    w = tessel.LstmWeights.random(8, 8, 1, True, seed=9)
    x = np.random.default_rng(2).uniform(-1, 1, (6, 2, 8)).astype(np.float32)
    yq, hq, cq = tessel.lstm_forward_fixed(w, x)
    assert yq.dtype == np.int16
    ry, rh, rc = numpy_lstm({k: v.astype(np.float64) for k, v in w.state_dict().items()}, x, 1, True)
    # Q2.13 weights and activations with ROM sigmoid/tanh: within a few 1e-3 of float.
    np.testing.assert_allclose(yq / 2**13, ry, atol=2e-2)
    np.testing.assert_allclose(cq / 2**11, rc, atol=2e-2)


def _golden_records(path):
    """Records of a fixed-point LSTM golden file: {name: ints} before the first step, and a
    list of per-step {name: ints}."""
    head, steps = {}, []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0].startswith("#") or parts[0] == "case":
                continue
            if parts[0] == "step":
                steps.append({})
                continue
            if len(parts) > 2 and parts[1].isdigit() and int(parts[1]) == len(parts) - 2:
                (steps[-1] if steps else head)[parts[0]] = np.array(parts[2:], dtype=np.float64)
            else:
                (steps[-1] if steps else head)[parts[0]] = int(parts[1])
    return head, steps


@pytest.mark.parametrize("case", ["tiny_i3_h4", "small_i8_h16", "saturate_i4_h8"])
def test_lstm_fixed_equals_independent_golden(case):
    # Inputs from the committed golden case, expected h and c from the independent NumPy
    # recomputation (tests/models/lstm/golden/lstm_reference.py): bit for bit.
    root = "tests/models/lstm/golden"
    head, steps = _golden_records(f"{root}/{case}.txt")
    _, expected = _golden_records(f"{root}/independent/{case}.txt")
    n_in, hid = head["input_size"], head["hidden_size"]
    # Q-format integers as floats that quantise back to themselves exactly.
    sd = {"weight_ih_l0": head["w_ih"].reshape(4 * hid, n_in) / 2**13,
          "weight_hh_l0": head["w_hh"].reshape(4 * hid, hid) / 2**13,
          "bias_ih_l0": head["bias"] / 2**11, "bias_hh_l0": np.zeros(4 * hid)}
    w = tessel.LstmWeights.from_state_dict(sd)
    x = np.stack([s["x"] for s in steps])[:, None, :] / 2**13
    h0 = head["h0"].reshape(1, 1, hid) / 2**13
    c0 = head["c0"].reshape(1, 1, hid) / 2**11
    y, h_n, c_n = tessel.lstm_forward_fixed(w, x, h0, c0)
    np.testing.assert_array_equal(y[:, 0, :], np.stack([s["h"] for s in expected]))
    np.testing.assert_array_equal(c_n[0, 0], expected[-1]["c"])
    np.testing.assert_array_equal(h_n[0, 0], expected[-1]["h"])


# ------------------------------------------------------------------ inputs without a copy
def counted(fn):
    """How many kernel inputs the binding copied while fn ran."""
    before = tessel._conversions()
    fn()
    return tessel._conversions() - before


def test_contiguous_float32_inputs_are_not_converted():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((8, 16)).astype(np.float32)
    base = rng.standard_normal((50, 4)).astype(np.float32)
    x = rng.standard_normal((3, 2, 5)).astype(np.float32)
    lstm = tessel.LstmWeights.random(5, 6)
    index = tessel.AnnIndex(base, R=8, L=16, C=50, threads=1)
    calls = {
        "nm_mask": lambda a: tessel.nm_mask(a, "2:4"),
        "nm_project": lambda a: tessel.nm_project(a, "2:4"),
        "nm_check": lambda a: tessel.nm_check(a, "2:4"),
        "nm_compress": lambda a: tessel.nm_compress(a, "2:4"),
        "knn": lambda a: tessel.knn(a, base, 3),
        "search": lambda a: tessel.ann_search(index, a, 3, 8),
        "lstm_forward": lambda a: tessel.lstm_forward(lstm, a),
        "lstm_forward_fixed": lambda a: tessel.lstm_forward_fixed(lstm, a),
    }
    for name, call in calls.items():
        a = {"knn": base, "search": base, "lstm_forward": x, "lstm_forward_fixed": x,
             "nm_compress": tessel.nm_project(w, "2:4")}.get(name, w)
        assert counted(lambda: call(a)) == 0, name
        # Each other form is converted exactly once: another dtype, Fortran order, a strided
        # view, a list.
        for other in (a.astype(np.float64), np.asfortranarray(a), a[::2], a.tolist()):
            if isinstance(other, np.ndarray) and other.flags.c_contiguous and \
                    other.dtype == np.float32:
                continue  # a 1-row slice can be contiguous
            assert counted(lambda: call(other)) == 1, (name, type(other))
    # Inputs the C++ side owns are counted every time: the index's base, the LSTM state,
    # nm_decompress's values and indices.
    assert counted(lambda: tessel.AnnIndex(base, R=8, L=16, C=50, threads=1)) == 1
    h0 = np.zeros((1, 2, 6), np.float32)
    assert counted(lambda: tessel.lstm_forward(lstm, x, h0, h0)) == 2
    values, indices, _ = tessel.nm_compress(tessel.nm_project(w, "2:4"), "2:4")
    assert counted(lambda: tessel.nm_decompress(values, indices, "2:4", 16)) == 2


def test_converted_inputs_give_the_same_results():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((6, 16))
    w32 = w.astype(np.float32)
    for pattern in ("2:4", "1:8"):
        np.testing.assert_array_equal(tessel.nm_project(w, pattern), tessel.nm_project(w32, pattern))
        np.testing.assert_array_equal(tessel.nm_mask(np.asfortranarray(w32), pattern),
                                      tessel.nm_mask(w32, pattern))
    x = rng.standard_normal((4, 3, 5))
    lstm = tessel.LstmWeights.random(5, 7, 2, True, 3)
    for got, want in zip(tessel.lstm_forward(lstm, x), tessel.lstm_forward(lstm, x.astype(np.float32))):
        np.testing.assert_array_equal(got, want)


def test_int8_goes_to_the_int8_kernel_in_place():
    rng = np.random.default_rng(8)
    w8 = rng.integers(-128, 128, (12, 32)).astype(np.int8)
    w8[0, :4] = [-128, 127, -127, 5]  # |-128| is the largest: no wrap-around
    mask = numpy_nm_mask(w8, 2, 4)
    assert counted(lambda: tessel.nm_mask(w8, "2:4")) == 0
    np.testing.assert_array_equal(tessel.nm_mask(w8, "2:4"), mask)
    pruned = tessel.nm_project(w8, "2:4")
    assert pruned.dtype == np.int8
    np.testing.assert_array_equal(pruned, np.where(mask == 1, w8, 0))
    assert counted(lambda: tessel.nm_check(pruned, "2:4")) == 0
    assert tessel.nm_check(pruned, "2:4") is None
    assert tessel.nm_check(w8, "2:4").startswith("row 0 group 0")
    values, indices, _ = tessel.nm_compress(pruned, "2:4")
    assert values.dtype == np.int8
    cols = (np.arange(16) // 2 * 4)[None, :] + indices
    np.testing.assert_array_equal(values, np.take_along_axis(pruned, cols, axis=1))


# A copy of the input cannot be hidden from the address-space limit: with RLIMIT_AS set to
# what the process maps plus half the input's size, a kernel that reads the input in place
# runs (its own outputs are smaller), one that copies it first runs out of memory. The
# float64 control shows the limit bites: its conversion to float32 fails the same way.
IN_PLACE = r"""
import resource, sys
import numpy as np
import tessel

def mapped():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))

w = np.zeros((4096, 4096), np.float32)         # 64 MiB; nm_check's mask is 16 MiB
base = np.zeros((262144, 64), np.float32)      # 64 MiB; knn's norms are 1 MiB
q = np.zeros((4, 64), np.float32)
w64 = np.zeros(w.shape)
limit = mapped() + w.nbytes // 2
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
assert tessel.nm_check(w, "2:4") is None
assert tessel.nm_mask(w, "2:4").shape == w.shape
ids, _ = tessel.knn(base, q, 2, threads=1)
assert ids.shape == (4, 2)
try:
    tessel.nm_check(w64, "2:4")
except MemoryError:
    print("control: MemoryError")
"""


def test_kernels_read_contiguous_inputs_in_place():
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-c", IN_PLACE], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "control: MemoryError"
