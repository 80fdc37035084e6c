"""Configs from Python: the registry, loading with overrides, the YAML round trip, and every
error carrying the CLI's message with file, line and key."""

import os

import pytest
import tessel
from conftest import TINY, cli, cli_error


def test_models_are_the_tools_list():
    _, out, _ = cli("list", check_rc=0)
    listed = []
    for line in out.split("\n\n")[0].splitlines()[1:]:
        name, _, desc = line.strip().partition(" ")
        listed.append((name, desc.strip()))
    assert [(m.name, m.description) for m in tessel.models()] == listed
    assert "lstm_sharp" in {m.name for m in tessel.models()}


def test_overrides_apply_like_set():
    cfg = tessel.load_config(TINY, overrides={"hw.mac_budget": 4096, "hw.reconfigurable": False})
    assert cfg.get("hw.mac_budget") == 4096
    assert cfg.get("hw.reconfigurable") is False
    assert cfg.model == "lstm_sharp"
    assert cfg.overrides == {"hw.mac_budget": "4096", "hw.reconfigurable": "false"}
    again = cfg.with_overrides({"hw.mac_budget": 1024})
    assert again.get("hw.mac_budget") == 1024 and again.get("hw.reconfigurable") is False


def test_yaml_round_trip(tmp_path):
    cfg = tessel.load_config(TINY, overrides={"hw.mac_budget": 2048})
    saved = tmp_path / "elsewhere" / "exp.yaml"
    saved.parent.mkdir()
    cfg.save(saved)
    back = tessel.load_config(saved)
    # Same tree, although every relative path was relative to configs/: they were written
    # absolute, and the hw and workload files inline.
    moved = []

    def same(a, b, where):
        if isinstance(a, dict):
            assert isinstance(b, dict) and list(a) == list(b), where
            for k in a:
                same(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list):
            assert isinstance(b, list) and len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                same(x, y, f"{where}[{i}]")
        elif a != b:
            # Only relative paths may change: to the absolute path of the same file.
            assert isinstance(a, str) and not os.path.isabs(a), where
            assert os.path.isabs(b) and os.path.exists(b), where
            assert os.path.basename(b) == os.path.basename(a), where
            moved.append(where)
        else:
            assert type(a) is type(b), where

    same(cfg.to_dict(), back.to_dict(), "")
    assert ".hw.energy.table" in moved
    assert back.to_yaml() == tessel.load_config(saved).to_yaml()


@pytest.mark.parametrize("key,value,key_path", [
    ("hw.tilez", "3", "hw.tilez"),                          # unknown key
    ("hw.mac_budget", "sixteen", "hw.mac_budget"),          # bad value
    ("workload.nonsense.deep", "1", "workload.nonsense"),   # unknown nested key
])
def test_bad_override_is_config_error_with_cli_message(key, value, key_path):
    expected = cli_error("run", TINY, "--set", f"{key}={value}")
    with pytest.raises(tessel.ConfigError) as e:
        tessel.load_config(TINY, overrides={key: value})
    assert str(e.value) == expected
    assert e.value.key == key_path
    assert e.value.file == f"--set {key}" and e.value.line == 1
    assert e.value.exit_code == 3


def test_error_in_a_file_names_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    hw = os.path.abspath("configs/hw/lstm_sharp/base.yaml")
    wl = os.path.abspath("configs/workloads/lstm/tiny_functional.yaml")
    bad.write_text(f"name: bad\nseed: 1\nhw: {hw}\nworkload: {wl}\nsede: 4\n")
    expected = cli_error("run", str(bad))
    with pytest.raises(tessel.ConfigError) as e:
        tessel.load_config(bad)
    assert str(e.value) == expected
    assert (e.value.file, e.value.line, e.value.column, e.value.key) == (str(bad), 5, 1, "sede")


def test_missing_file_is_io_error_with_cli_message():
    expected = cli_error("run", "configs/experiments/nope.yaml")
    with pytest.raises(tessel.Error) as e:
        tessel.load_config("configs/experiments/nope.yaml")
    assert str(e.value) == expected
    assert e.value.exit_code == 4 and isinstance(e.value, tessel.IoError)


def test_bad_sweep_is_config_error_with_cli_message(tmp_path):
    sweep = tmp_path / "s.yaml"
    exp = os.path.abspath(TINY)
    sweep.write_text(f"name: s\nexperiment: {exp}\ngrid:\n  hw.mac_budget: [1024, sixteen]\n")
    expected = cli_error("sweep", str(sweep), "-j", "1", "--out", str(tmp_path / "cli"))
    with pytest.raises(tessel.ConfigError) as e:
        tessel.sweep(sweep, out=tmp_path / "py", progress=False)
    assert str(e.value) == expected
    assert e.value.key == "hw.mac_budget"
    assert not (tmp_path / "py" / "points.jsonl").exists()


def test_override_value_types():
    assert tessel._yaml_text(2.0) == "2.0"
    assert tessel._yaml_text(16) == "16"
    assert tessel._yaml_text(True) == "true"
    assert tessel._yaml_text([1, 2]) == "[1, 2]"
    with pytest.raises(TypeError):
        tessel._yaml_text(object())


def test_models_carry_their_declared_keys():
    by_name = {m.name: m for m in tessel.models()}
    mac = by_name["mac_array"]
    keys = {k.name: k for k in mac.hw_keys}
    # Facts of the MAC array written out by hand (configs/README.md, mac_array_params.cpp).
    assert keys["rows"].type == "integer" and keys["rows"].range == (1.0, 4096.0)
    assert keys["rows"].required and keys["rows"].default is None
    assert keys["pipeline_depth"].default == "3" and not keys["pipeline_depth"].required
    assert keys["clock_ghz"].unit == "GHz"
    assert keys["dtype"].choices == ["int8"]
    assert [k.name for k in mac.workload_keys] == ["kind", "m", "n", "k", "functional"]
    # The same declaration the CLI prints: every key appears in `tessel list --keys`.
    _, out, _ = cli("list", "--keys", "mac_array", check_rc=0)
    for k in mac.hw_keys + mac.workload_keys:
        assert "| `" + k.name + "` |" in out
