"""tessel.sweep and tessel.load_results: the tool's sweep engine, results as a DataFrame."""

import json
import os

import pandas as pd
import pytest
import tessel
from conftest import TINY, cli


def _sweep_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"name: pysweep\nexperiment: {os.path.abspath(TINY)}\nseed: 5\n"
                    "grid:\n  hw.mac_budget: [1024, 4096]\n  hw.schedule: [sharp, sequential]\n")
    return path


def test_sweep_matches_cli_and_frame_matches_points(tmp_path):
    path = _sweep_file(tmp_path)
    s = tessel.sweep(path, jobs=2, out=tmp_path / "py", report=False, progress=True)
    assert (s.points, s.failed) == (4, 0)
    cli("sweep", str(path), "-j", "2", "--out", str(tmp_path / "cli"), "--no-report", check_rc=0)

    def results(folder):
        with open(folder / "points.jsonl") as f:
            return [json.loads(line) for line in f]

    py_points, cli_points = results(tmp_path / "py"), results(tmp_path / "cli")
    assert [p["result"] for p in py_points] == [p["result"] for p in cli_points]
    assert [p["params"] for p in py_points] == [p["params"] for p in cli_points]

    df = tessel.load_results(s.out_dir)
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert list(df["hw.mac_budget"]) == [1024, 1024, 4096, 4096]
    assert list(df["hw.schedule"]) == ["sharp", "sequential", "sharp", "sequential"]
    for i, point in enumerate(py_points):
        res = point["result"]
        assert df.loc[i, "cycles"] == res["cycles"]
        for comp, pj in res["energy_pj"].items():
            assert df.loc[i, f"energy_pj.{comp}"] == pj
        assert df.loc[i, "energy_pj.total"] == pytest.approx(sum(res["energy_pj"].values()))
        for name, value in res["metrics"].items():
            assert df.loc[i, f"metrics.{name}"] == value
        assert bool(df.loc[i, "checks_passed"])


def test_sweep_from_dict_writes_its_file(tmp_path):
    spec = {"name": "fromdict", "experiment": TINY, "grid": {"hw.mac_budget": [1024, 2048]}}
    s = tessel.sweep(spec, out=tmp_path / "d", report=True, progress=False)
    assert (s.points, s.failed) == (2, 0)
    assert (tmp_path / "d" / "sweep.yaml").exists()
    assert (tmp_path / "d" / "report.md").exists()
    df = s.frame()
    assert list(df["hw.mac_budget"]) == [1024, 2048]
    single = tessel.run(tessel.load_config(TINY, {"hw.mac_budget": 2048, "seed": int(df.loc[1, "seed"])}))
    assert df.loc[1, "cycles"] == single.cycles


def test_existing_results_are_refused_like_the_cli(tmp_path):
    path = _sweep_file(tmp_path)
    tessel.sweep(path, out=tmp_path / "r", report=False, progress=False)
    rc, _, err = cli("sweep", str(path), "--out", str(tmp_path / "r"), "--no-report")
    assert rc == 4
    with pytest.raises(tessel.IoError) as e:
        tessel.sweep(path, out=tmp_path / "r", report=False, progress=False)
    assert "tessel: " + str(e.value) in err
    again = tessel.sweep(path, out=tmp_path / "r", report=False, progress=False, resume=True)
    assert again.points == 4


def test_load_results_reports_bad_lines(tmp_path):
    good = ('{"id": "p0000", "index": 0, "params": {"hw.x": 1}, "seed": 1, "status": "failed", '
            '"exit_status": 3, "failure": "exit 3", "stderr_tail": "tessel: bad"}\n')
    (tmp_path / "points.jsonl").write_text(good)
    df = tessel.load_results(tmp_path)
    assert list(df["ok"]) == [False] and list(df["failure"]) == ["exit 3"]
    assert list(df["hw.x"]) == [1]
    (tmp_path / "points.jsonl").write_text(good + "not json\n")
    with pytest.raises(tessel.IoError) as e:
        tessel.load_results(tmp_path)
    assert "points.jsonl:2" in str(e.value)
    with pytest.raises(tessel.IoError):
        tessel.load_results(tmp_path / "missing")
