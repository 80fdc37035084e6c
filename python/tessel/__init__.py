"""Tessel from Python: the registry, configs, runs, sweeps and reference kernels of the C++
core (one implementation, the tool's), with results as pandas tables.

    import tessel
    cfg = tessel.load_config("configs/experiments/lstm_sharp_tiny.yaml",
                             overrides={"hw.mac_budget": 4096})
    r = tessel.run(cfg)                 # in a child process, as SystemC requires
    s = tessel.sweep("configs/sweeps/quickstart.yaml", jobs=2, out="/tmp/qs")
    df = tessel.load_results(s.out_dir)  # one row per point

docs/python.md describes every function.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import _tessel
from ._errors import ConfigError, Error, IoError, SimError

_tessel._set_error_classes(Error, ConfigError, IoError, SimError)

__version__ = _tessel.__version__
__all__ = [
    "AnnIndex", "Check", "Config", "ConfigError", "Error", "IoError", "Key", "LstmWeights", "Model",
    "Result", "SimError", "SweepSummary", "ann_search", "knn", "load_config", "load_results",
    "lstm_forward", "lstm_forward_fixed", "models", "nm_check", "nm_compress", "nm_decompress",
    "nm_mask", "nm_project", "run", "sweep",
]

LstmWeights = _tessel.LstmWeights
AnnIndex = _tessel.AnnIndex

PathLike = Union[str, "os.PathLike[str]"]


# ------------------------------------------------------------------------------ registry
class Key(NamedTuple):
    """One declared config key of a model (runtime/core/keys.h; the tables of
    configs/README.md are generated from the same declarations)."""
    name: str                 # path below hw or workload: "rows", "offchip.read_gbps"
    type: str                 # bool, integer, number, string, choice, path, mapping, list, any
    type_text: str            # as configs/README.md writes it: "integer, 1–4096"
    range: Optional[Tuple[float, float]]  # inclusive bounds of integers and numbers
    choices: List[str]
    default: Optional[str]    # the default as written in YAML; None: required or optional
    required: bool
    unit: str
    help: str


class Model(NamedTuple):
    name: str
    description: str
    hw_keys: List[Key]        # besides `model` and `energy.*`, which every hw file has
    workload_keys: List[Key]


def models() -> List[Model]:
    """The registered models (what a config's hw.model may name), sorted by name, each with
    the keys its hardware and workload files may hold."""
    return [Model(n, d, [Key(**k) for k in hw], [Key(**k) for k in wl])
            for n, d, hw, wl in _tessel.models()]


# ------------------------------------------------------------------------------ configs
def _yaml_text(value: Any) -> str:
    """An override value as the YAML text `tessel run --set key=TEXT` would take.

    Strings are YAML as on the command line ("16", "[1, 2]", '"2:4"'); Python numbers,
    booleans, None, lists and dicts are written as YAML of the same type.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        text = repr(float(value))
        # A float stays a float: "2.0", not "2".
        return text if any(c in text for c in ".eEn") else text + ".0"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    raise TypeError(f"override value {value!r}: expected str, number, bool, None, list or dict")


class Config:
    """An experiment loaded and checked as `tessel run` loads it: hw and workload files
    resolved, overrides applied, every key read by its model (unknown keys are errors).

    to_dict() is the tree as JSON types; to_yaml() is YAML that loads back to the same tree
    (relative file paths are written absolute so it can be saved anywhere); save(path)
    writes it; with_overrides({...}) is a new Config from the same file with more overrides.
    """

    def __init__(self, native: Any) -> None:
        self._native = native

    @property
    def path(self) -> str:
        return self._native.path

    @property
    def overrides(self) -> Dict[str, str]:
        return dict(self._native.overrides)

    @property
    def model(self) -> str:
        return self.to_dict()["hw"]["model"]

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(self._native.to_json())

    def to_yaml(self) -> str:
        return self._native.to_yaml()

    def save(self, path: PathLike) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_yaml())

    def get(self, key_path: str, default: Any = None) -> Any:
        """The value at a dotted key path ("hw.mac_budget"), or default."""
        node: Any = self.to_dict()
        for part in key_path.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Config":
        merged = dict(self._native.overrides)
        merged.update({k: _yaml_text(v) for k, v in overrides.items()})
        return load_config(self.path, merged)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self._native.overrides)
        return f"<tessel.Config {self.path} model={self.model}{extra}>"


def load_config(path: PathLike, overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Loads an experiment file with overrides (key path -> value), like
    `tessel run PATH --set key=value ...`, and checks it. Raises ConfigError (with the
    tool's message, and file, line, column and key) or IoError."""
    items = [(str(k), _yaml_text(v)) for k, v in (overrides or {}).items()]
    return Config(_tessel.load_config(os.fspath(path), items))


# ------------------------------------------------------------------------------ runs
class Check(NamedTuple):
    name: str
    passed: bool
    max_error: float
    tolerance: float
    detail: str


@dataclass
class Result:
    """One run's SimResult (the JSON `tessel run --json` prints)."""

    model: str
    cycles: int
    clock_ghz: float
    seconds: float
    energy_pj: Dict[str, float]
    metrics: Dict[str, float]
    counters: Dict[str, int]
    checks: List[Check]
    labels: Dict[str, str] = field(default_factory=dict)
    artifacts: Dict[str, str] = field(default_factory=dict)
    log: str = ""  # what the run printed on stderr
    _raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], log: str = "") -> "Result":
        return cls(
            model=d.get("model", ""), cycles=int(d.get("cycles", 0)),
            clock_ghz=float(d.get("clock_ghz", 0)), seconds=float(d.get("seconds", 0)),
            energy_pj=dict(d.get("energy_pj", {})), metrics=dict(d.get("metrics", {})),
            counters=dict(d.get("counters", {})),
            checks=[Check(c.get("name", ""), bool(c.get("passed", False)),
                          float(c.get("max_error", 0)), float(c.get("tolerance", 0)),
                          c.get("detail", "")) for c in d.get("checks", [])],
            labels=dict(d.get("labels", {})), artifacts=dict(d.get("artifacts", {})),
            log=log, _raw=dict(d))

    @property
    def total_energy_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    @property
    def checks_passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> Dict[str, Any]:
        """The SimResult JSON object, exactly as `tessel run --json` prints it."""
        return json.loads(json.dumps(self._raw))


def run(config: Union[Config, PathLike], *, out: Optional[PathLike] = None,
        trace: Optional[PathLike] = None, timeout: float = 0) -> Result:
    """Runs one experiment, as `tessel run` does, in a forked child process (SystemC
    elaborates once per process; a crash cannot take the interpreter down).

    out: folder for result.json and the run's own files (`tessel run --out`); trace: a
    Perfetto trace file (`--trace`); timeout: seconds before the child is killed (0: none).
    Failed functional checks do not raise: see Result.checks_passed. Errors raise
    ConfigError / IoError / SimError with the tool's message.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    out_dir = os.fspath(out) if out is not None else ""
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    text, log = _tessel.run(config._native, out_dir, os.fspath(trace) if trace else "",
                            float(timeout))
    return Result.from_dict(json.loads(text), log)


# ------------------------------------------------------------------------------ sweeps
class SweepSummary(NamedTuple):
    out_dir: str
    points: int
    failed: int

    def frame(self) -> "Any":
        """load_results(out_dir)."""
        return load_results(self.out_dir)


class _Progress:
    """Points done, read from points.jsonl while the sweep runs (a tqdm bar when tqdm is
    installed, else a line rewritten in place). Used where the C++ bar cannot be seen:
    notebooks and other non-terminal stderr."""

    def __init__(self, points_file: str, total: int, name: str) -> None:
        self.points_file, self.total, self.name = points_file, total, name
        self.stop = threading.Event()
        self.start = self._count()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _count(self) -> int:
        try:
            with open(self.points_file, "rb") as f:
                return sum(1 for line in f if line.endswith(b"\n"))
        except OSError:
            return 0

    def _watch(self) -> None:
        try:
            from tqdm.auto import tqdm  # type: ignore
            bar = tqdm(total=self.total, initial=self.start, desc=self.name, unit="point")
        except ImportError:
            bar = None
        shown = -1
        while True:
            done = self._count()
            if done != shown:
                shown = done
                if bar is not None:
                    bar.n = done
                    bar.refresh()
                else:
                    sys.stderr.write(f"\r{self.name}: {done}/{self.total} points")
                    sys.stderr.flush()
            if self.stop.wait(0.2):
                break
        if bar is not None:
            bar.n = self._count()
            bar.close()
        else:
            sys.stderr.write(f"\r{self.name}: {self._count()}/{self.total} points\n")
            sys.stderr.flush()

    def __enter__(self) -> "_Progress":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty() and sys.stderr.fileno() == 2
    except (AttributeError, ValueError, OSError):
        return False


def sweep(sweep: Union[PathLike, Mapping[str, Any]], *, jobs: int = 1,
          out: Optional[PathLike] = None, resume: bool = False, overwrite: bool = False,
          point_timeout: float = 600, report: bool = True,
          progress: Optional[bool] = None) -> SweepSummary:
    """Runs every point of a sweep, as `tessel sweep` does (each point in its own child
    process, results in OUT/points.jsonl, summary.csv, manifest.json, report.md/html).

    sweep: a sweep file, or a dict with the same keys (written to OUT/sweep.yaml first; a
    relative `experiment:` is taken from the current folder). out: results folder
    (default results/<name>). progress: None shows the tool's bar on a terminal and a
    Python bar (tqdm when installed) elsewhere, e.g. in a notebook; False shows only the
    tool's lines. Raises ConfigError before running anything if any point is bad.
    """
    if isinstance(sweep, Mapping):
        spec = dict(sweep)
        if "name" not in spec:
            raise ConfigError("sweep: missing required key 'name'")
        exp = spec.get("experiment")
        if isinstance(exp, str) and not os.path.isabs(exp):
            spec["experiment"] = os.path.abspath(exp)
        out_dir = os.fspath(out) if out is not None else os.path.join("results", str(spec["name"]))
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "sweep.yaml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(spec, f, indent=2)  # JSON is YAML
            f.write("\n")
        out = out_dir
    else:
        path = os.fspath(sweep)
    name, total, _keys = _tessel.sweep_info(path)
    out_dir = os.fspath(out) if out is not None else ""
    target = out_dir or os.path.join("results", name)
    command = f"tessel sweep {path} -j {jobs}" + (f" --out {out_dir}" if out_dir else "")
    show = (not _stderr_is_terminal()) if progress is None else bool(progress)
    args = (path, out_dir, int(jobs), float(point_timeout), bool(resume), bool(overwrite),
            bool(report), command + " (from Python)")
    if show:
        with _Progress(os.path.join(target, "points.jsonl"), total, name):
            result = _tessel.sweep(*args)
    else:
        result = _tessel.sweep(*args)
    out_dir, points, failed, notes = result
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return SweepSummary(out_dir, int(points), int(failed))


# ------------------------------------------------------------------------------ results
def _flatten(prefix: str, value: Any, row: Dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, row)
    else:
        row[prefix] = value


def load_results(results_dir: PathLike) -> "Any":
    """A results folder's points.jsonl as a pandas DataFrame, one row per point.

    Columns: index, id, seed, ok, failure; the swept keys under their own key paths
    ("hw.mac_budget"); model, cycles, clock_ghz, seconds; energy_pj.<component> for every
    component and energy_pj.total; metrics.<name>; counters.<name>; labels.<name>;
    checks_passed and check.<name>.max_error. Read by the tool's own reader, so a torn last
    line is skipped and any other bad line raises IoError naming file and line.
    """
    import pandas as pd

    path = os.path.join(os.fspath(results_dir), "points.jsonl")
    if not os.path.exists(path):
        raise IoError(f"{path}: no such file (not a results folder?)")
    records = json.loads(_tessel.read_points(path))
    rows = []
    for rec in records:
        row: Dict[str, Any] = {"index": rec.get("index"), "id": rec.get("id"),
                               "seed": rec.get("seed"), "ok": rec.get("status") == "ok",
                               "failure": rec.get("failure", "")}
        for key, value in (rec.get("params") or {}).items():
            row[key] = value
        res = rec.get("result")
        if res:
            row["model"] = res.get("model", "")
            for key in ("cycles", "clock_ghz", "seconds"):
                row[key] = res.get(key, 0)
            energy = res.get("energy_pj", {})
            for comp, pj in energy.items():
                row[f"energy_pj.{comp}"] = pj
            row["energy_pj.total"] = float(sum(energy.values()))
            _flatten("metrics", res.get("metrics", {}), row)
            _flatten("counters", res.get("counters", {}), row)
            _flatten("labels", res.get("labels", {}), row)
            checks = res.get("checks", [])
            row["checks_passed"] = all(c.get("passed", False) for c in checks)
            for c in checks:
                row[f"check.{c.get('name')}.max_error"] = c.get("max_error", 0.0)
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ kernels
# Inputs go to the binding as they are. A C-contiguous float32 array (int8 for the N:M
# kernels) is read by the C++ kernel in place, without a copy; anything else (another
# dtype, a strided or Fortran-ordered view, a list) is converted once by NumPy first.
# _conversions() counts the inputs the binding copied (docs/python.md, "Kernels and copies").
_conversions = _tessel._conversions


def lstm_forward(weights: "LstmWeights", x: Any, h0: Any = None,
                 c0: Any = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float32 LSTM (PyTorch nn.LSTM semantics) of models/lstm: x (steps, batch, input) ->
    (y (steps, batch, directions*hidden), h_n, c_n (layers*directions, batch, hidden)).
    h0 and c0 (the shape of h_n) default to zeros. A C-contiguous float32 x is read in
    place; other x is converted to one once; h0 and c0 are copied into the state."""
    return _tessel.lstm_forward(weights, x, h0, c0)


def lstm_forward_fixed(weights: "LstmWeights", x: Any, h0: Any = None,
                       c0: Any = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed-point LSTM (models/lstm/lstm_fixed.h, bit-exact with the SystemC model and
    the RTL): weights, x and h0 quantised to Q2.13, c0 to Q4.11; y and h_n int16 Q2.13, c_n
    int16 Q4.11 (divide by 2**13 or 2**11 for real values). A C-contiguous float32 x is
    quantised straight from its buffer; other x is converted to one once."""
    return _tessel.lstm_forward_fixed(weights, x, h0, c0)


def nm_mask(w: Any, pattern: str = "2:4") -> np.ndarray:
    """Projection onto N:M along each row (models/sparse): uint8 mask, 1 = kept (the N
    largest magnitudes of every group of M; ties to the lower column). C-contiguous
    float32 or int8 w is read in place; other w is converted to float32 once."""
    return _tessel.nm_mask(w, pattern)


def nm_project(w: Any, pattern: str = "2:4") -> np.ndarray:
    """w with the entries nm_mask drops set to zero: int8 for an int8 w (the int8 kernel),
    else float32. C-contiguous float32 or int8 w is read in place."""
    return _tessel.nm_project(w, pattern)


def nm_check(w: Any, pattern: str = "2:4") -> Optional[str]:
    """None when the non-zeros of w are N:M, else the first violation, as the tool says it.
    C-contiguous float32 or int8 w is read in place."""
    return _tessel.nm_check(w, pattern)


def nm_compress(w: Any, pattern: str = "2:4") -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compressed N:M storage of an N:M matrix: (values (rows, cols/M*N), float32, or int8
    for an int8 w; indices (same shape) uint8 position in the group; packed index bit
    stream uint8). C-contiguous float32 or int8 w is read in place."""
    return _tessel.nm_compress(w, pattern)


def nm_decompress(values: Any, indices: Any, pattern: str, cols: int) -> np.ndarray:
    """The dense (rows, cols) float32 matrix of nm_compress's values and indices (both are
    copied: the compressed matrix owns them)."""
    return _tessel.nm_decompress(values, np.ascontiguousarray(indices, dtype=np.uint8),
                                 pattern, int(cols))


def knn(base: Any, queries: Any, k: int, *, exclude_self: bool = False,
        threads: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (models/ann, CPU): (ids int32, squared L2 float32), each
    (queries, k), nearest first, ties to the smaller id. C-contiguous float32 base and
    queries are read in place; others are converted once."""
    return _tessel.knn(base, queries, int(k), exclude_self, int(threads))


def ann_search(index: "AnnIndex", queries: Any, k: int = 10, L: int = 64,
               width: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Beam search of an NSG index (models/ann): (ids, squared distances), each (queries, k).
    C-contiguous float32 queries are read in place; others are converted once."""
    ids, dist, _ = index.search(queries, k, L, width)
    return ids, dist
