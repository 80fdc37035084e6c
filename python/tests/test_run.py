"""tessel.run: the same SimResult as `tessel run --json`, each run in its own child process."""

import json
import os

import pytest
import tessel
from conftest import TINY, cli, cli_json


@pytest.mark.parametrize("path,sets", [
    (TINY, {}),                                              # SystemC LSTM-Sharp, checked
    (TINY, {"hw.mac_budget": 4096, "hw.schedule": "sequential"}),
    ("configs/experiments/nm_unit_small.yaml", {}),              # N:M unit, functional check
])
def test_run_equals_cli_json(path, sets):
    args = []
    for k, v in sets.items():
        args += ["--set", f"{k}={tessel._yaml_text(v)}"]
    expected = cli_json("run", path, *args)
    r = tessel.run(tessel.load_config(path, overrides=sets))
    assert r.to_dict() == expected
    assert r.cycles == expected["cycles"] and r.cycles > 0
    assert r.energy_pj == expected["energy_pj"]
    assert r.total_energy_pj == pytest.approx(sum(expected["energy_pj"].values()), rel=1e-12)
    assert r.metrics == expected["metrics"]
    assert [c.name for c in r.checks] == [c["name"] for c in expected["checks"]]
    assert r.checks_passed


def test_several_systemc_runs_in_one_interpreter():
    # SystemC elaborates once per process: without the child process the second run fails.
    cfg = tessel.load_config(TINY)
    a = tessel.run(cfg)
    b = tessel.run(cfg.with_overrides({"hw.mac_budget": 2048}))
    c = tessel.run(cfg)
    assert a.to_dict() == c.to_dict()
    assert b.cycles != a.cycles


def test_run_out_folder_has_the_clis_result_json(tmp_path):
    r = tessel.run(TINY, out=tmp_path / "py")  # tessel.run creates the folder
    (tmp_path / "cli").mkdir()  # the tool writes into an existing one
    cli("run", TINY, "--out", str(tmp_path / "cli"), check_rc=0)
    with open(tmp_path / "py" / "result.json") as f:
        py_file = json.load(f)
    with open(tmp_path / "cli" / "result.json") as f:
        cli_file = json.load(f)
    assert py_file == cli_file == r.to_dict()


def test_run_error_in_child_has_cli_message(tmp_path):
    # The trace file cannot be created: the child fails after the config was accepted.
    bad = str(tmp_path / "no" / "such" / "dir" / "t.json")
    rc, _, err = cli("run", TINY, "--trace", bad)
    assert rc == 4
    with pytest.raises(tessel.IoError) as e:
        tessel.run(TINY, trace=bad)
    assert "tessel: " + str(e.value) in err


def test_trace_is_written(tmp_path):
    path = tmp_path / "t.json"
    tessel.run(TINY, trace=path)
    with open(path) as f:
        trace = json.load(f)
    assert trace["traceEvents"]


def test_runs_and_sweeps_after_openmp_kernels(tmp_path):
    # A kernel first starts GNU OpenMP's thread pool in this interpreter; a child forked
    # from this thread would hang in its first parallel region (the LSTM-Sharp check runs
    # models/lstm's OpenMP fixed-point forward). The runs must still finish.
    import numpy as np
    w = tessel.LstmWeights.random(64, 64, 1, True, seed=1)
    tessel.lstm_forward_fixed(w, np.ones((4, 8, 64), np.float32))
    tessel.knn(np.ones((64, 4), np.float32), np.ones((2, 4), np.float32), 3)
    r = tessel.run(TINY, timeout=60)
    assert r.checks_passed
    s = tessel.sweep({"name": "omp", "experiment": TINY, "grid": {"hw.mac_budget": [1024]}},
                     out=tmp_path / "s", report=False, progress=False, point_timeout=60)
    assert (s.points, s.failed) == (1, 0)
