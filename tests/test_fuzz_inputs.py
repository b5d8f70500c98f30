"""A table of malformed inputs, generated here (nothing committed), each with the error class and
message it must get: sweep specs (helpers.sweep.load_spec / check_output), data files and
parameters (helpers.data.load_data), claims (helpers.claims.Ledger) and the evidence command
(python -m helpers.evidence). It holds the cases issues 11 and 19 found handled poorly or silently,
and the cases that already worked, so that none regresses. Every message is one line, names the
problem, and never suggests unpickling. (The book command's cases, an interrupt and a run that
fails midway, are in tests/test_book.py; the diagnose APIs' in tests/test_fuzz_diagnose.py.)"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import data, sweep

LIGHT = "tests/fixtures/sweep_fixture_light.ipynb"


# ---------------------------------------------------------------------------------------------
# Sweep specs: (name, YAML text or bytes or a builder, error class, message pattern)

def _yaml(body: str) -> str:
    return f"notebook: {LIGHT}\noutput: {{out}}\n{body}"


SPECS: list[tuple[str, object, type[Exception], str]] = [
    # issue 11, section 2 and 3
    ("duplicate top-level key", _yaml("grid:\n  seed: [0]\ngrid:\n  x: [1.0]\n"), sweep.SpecError,
     r"duplicate key 'grid' on lines 3 and 5"),
    ("duplicate parameter", _yaml("parameters:\n  x: 2.0\n  x: 50.0\n"), sweep.SpecError,
     r"duplicate key 'x' on lines 4 and 5"),
    ("nan in a grid", _yaml("grid:\n  x: [1.0, .nan]\n"), sweep.SpecError, r"grid\.x\[1\]: nan is not a finite number"),
    ("inf in a grid", _yaml("grid:\n  x: [-.inf]\n"), sweep.SpecError, r"grid\.x\[0\]: -inf is not a finite number"),
    ("inf in parameters", _yaml("parameters:\n  x: .inf\n"), sweep.SpecError, r"parameters\.x: inf is not a finite"),
    ("nan inside a list", _yaml("parameters:\n  setups: [a, .nan]\n"), sweep.SpecError,
     r"parameters\.setups: \['a', nan\] is not a finite number"),
    ("not UTF-8", b"notebook: caf\xe9.ipynb\n", sweep.SpecError, r"not UTF-8 text \(byte offset 13\); save the spec as UTF-8"),
    ("a folder", "DIR", sweep.SpecError, r"is a folder, not a sweep spec; give the spec's \.yaml file"),
    # already handled
    ("missing file", "MISSING", sweep.SpecError, r"no such sweep spec"),
    ("empty file", "", sweep.SpecError, r"a sweep spec is a mapping with keys"),
    ("a list", "- notebook\n", sweep.SpecError, r"a sweep spec is a mapping"),
    ("invalid YAML", "notebook: [unclosed\n", sweep.SpecError, r"not valid YAML at line 2, column 1 \(expected ',' or '\]', but got '<stream end>'\)"),
    ("unknown key", _yaml("grdi:\n  seed: [0]\n"), sweep.SpecError, r": grdi: unknown key"),
    ("unknown parameter", _yaml("grid:\n  sed: [0]\n"), sweep.SpecError, r"grid\.sed: unknown parameter"),
    ("number as text", _yaml("parameters:\n  x: 1e-3\n"), sweep.SpecError, r"write 1\.0e-3"),
    ("float for an int", _yaml("grid:\n  seed: [1.5]\n"), sweep.SpecError, r"declares seed as int"),
    ("empty grid list", _yaml("grid:\n  seed: []\n"), sweep.SpecError, r"grid\.seed: empty list"),
    ("duplicate run", _yaml("grid:\n  x: [1, 1.0]\n"), sweep.SpecError, r"grid: duplicate run"),
    ("runner's parameter", _yaml("parameters:\n  output_dir: x\n"), sweep.SpecError, r"set by the runner"),
    ("missing notebook", "notebook: notebooks/nope.ipynb\n", sweep.SpecError, r"notebook: .* does not exist"),
    ("no notebook", "grid:\n  seed: [0]\n", sweep.SpecError, r"notebook: missing"),
    # output folders (check_output, also what --dry-run runs)
    ("output is a file", "OUT_FILE", sweep.OutputError, r"cannot write the sweep's output there: it is a file"),
    ("another sweep's folder", "OUT_OTHER", sweep.OutputError, r"holds the runs of another sweep"),
]


@pytest.mark.parametrize(("what", "content", "error", "pattern"), SPECS, ids=[s[0] for s in SPECS])
def test_malformed_specs(tmp_path, what, content, error, pattern):
    out = tmp_path / "out"
    path = tmp_path / "spec.yaml"
    if content == "DIR":
        path.mkdir()
    elif content == "MISSING":
        pass
    elif content == "OUT_FILE":
        out.write_text("not a folder")
        path.write_text(_yaml("grid:\n  seed: [0]\n").format(out=out))
    elif content == "OUT_OTHER":
        out.mkdir()
        (out / "sweep.json").write_text('{"spec": "/elsewhere/other.yaml", "notebook": "notebooks/other.ipynb"}')
        path.write_text(_yaml("grid:\n  seed: [0]\n").format(out=out))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(str(content).format(out=out), encoding="utf-8")
    with pytest.raises(error) as exc:
        sweep.check_output(sweep.load_spec(path))
    msg = str(exc.value)
    assert type(exc.value) is error and "\n" not in msg, msg
    assert msg.startswith(str(path) if content not in ("OUT_FILE", "OUT_OTHER") else str(out)), msg
    assert __import__("re").search(pattern, msg), msg
    assert not out.exists() or content in ("OUT_FILE", "OUT_OTHER")  # nothing created


# ---------------------------------------------------------------------------------------------
# Data files and parameters: (name, builder(tmp_path) -> (data argument, keyword arguments), pattern)


def _arrays(n=40, labels=3, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    Y = np.zeros((n, labels), dtype=np.float32)
    Y[np.arange(n), np.arange(n) % labels] = 1
    Y[::3, 0] = 1
    return {"X_train": rng.normal(size=(n, 4)), "Y_train": Y, "X_test": rng.normal(size=(10, 4)), "Y_test": Y[:10]}


def _npz(**change) -> Callable[[Path], tuple[Path, dict]]:
    def build(tmp: Path) -> tuple[Path, dict]:
        arrays = {**_arrays(), **change}
        np.savez(tmp / "d.npz", **{k: v for k, v in arrays.items() if v is not None})
        return tmp / "d.npz", {}
    return build


def _raw(name: str, content: bytes) -> Callable[[Path], tuple[Path, dict]]:
    def build(tmp: Path) -> tuple[Path, dict]:
        (tmp / name).write_bytes(content)
        return tmp / name, {}
    return build


def _npy_as_npz(tmp: Path) -> tuple[Path, dict]:
    np.save(tmp / "a.npy", np.zeros(3))
    return (tmp / "a.npy").rename(tmp / "a.npz"), {}


def _huge_header(tmp: Path) -> tuple[Path, dict]:
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**40, 2**20)})
    with zipfile.ZipFile(tmp / "h.npz", "w") as z:
        z.writestr("X_train.npy", header.getvalue())
        for key, value in _arrays().items():
            if key != "X_train":
                buf = io.BytesIO()
                np.save(buf, value)
                z.writestr(f"{key}.npy", buf.getvalue())
    return tmp / "h.npz", {}


def _with(key: str, fn, *also: str) -> Callable[[Path], tuple[Path, dict]]:
    arrays = _arrays()
    for k in (key, *also):
        arrays[k] = fn(arrays[k].copy())
    return _npz(**arrays)


def _images(value: float) -> Callable[[Path], tuple[Path, dict]]:
    images = np.random.default_rng(0).random((40, 5, 5))
    images[2, 3, 4] = value
    return _npz(X_train=images, X_test=np.random.default_rng(1).random((10, 5, 5)))


def _csv(frame: pd.DataFrame | str, **kwargs) -> Callable[[Path], tuple[Path, dict]]:
    def build(tmp: Path) -> tuple[Path, dict]:
        path = tmp / "t.csv"
        if isinstance(frame, str):
            path.write_text(frame)
        else:
            frame.to_csv(path, index=False)
        return path, kwargs
    return build


def _table(n=60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                         "label_x": np.arange(n) % 2, "label_y": (np.arange(n) % 3 == 0).astype(int)})


def _scenes(**kwargs) -> Callable[[Path], tuple[str, dict]]:
    return lambda tmp: ("scenes", kwargs)


DATA: list[tuple[str, Callable, str]] = [
    # issue 11, sections 2 and 3
    ("text named .npz", _raw("t.npz", b"a,b\n1,2\n"), r"is not an \.npz file: it does not start with the zip signature"),
    ("huge header", _huge_header, r"array 'X_train' claims shape \(1099511627776, 1048576\) of float32"),
    ("label positive in every row", _with("Y_train", lambda Y: np.c_[Y, np.ones(len(Y))], "Y_test"),
     r"label\(s\) 'label_3' are positive in every training row"),
    ("single label column", _npz(Y_train=np.eye(2)[np.arange(40) % 2][:, :1], Y_test=np.zeros((10, 1))),
     r"single label column"),
    ("float64 images beyond float32", _images(1e39), r"X_train has values beyond the float32 range"),
    ("tabular values near 1e200", _with("X_train", lambda X: X * 1e200), r"standard deviation overflows float64"),
    ("seed=-1", _scenes(seed=-1), r"seed=-1: seeds must be >= 0"),
    ("val_fraction='0.2'", _scenes(val_fraction="0.2"), r"val_fraction='0.2' is str: give a number between 0 and 1"),
    ("n_train='100'", _scenes(n_train="100"), r"n_train='100' is str: give a whole number >= 1"),
    ("val_fraction='0.2' for a file", lambda tmp: (_npz()(tmp)[0], {"val_fraction": "0.2"}), r"val_fraction='0.2'"),
    # issue 19, sections 2 and 3
    ("csv split_column that is not a column", _csv(_table(), split_column="nope"),
     r"t\.csv: split_column='nope' is not a column of the file; columns are \['a', 'b', 'label_x', 'label_y'\]"),
    ("csv label_columns one name as a string", _csv(_table(), label_columns="label_x"),
     r"the prefix 'label_x' matches only \['label_x'\]; a multi-label data set needs at least two label columns"),
    ("csv label_columns a number", _csv(_table(), label_columns=3), r"label_columns=3: give a prefix"),
    ("data=None", lambda tmp: (None, {}), r"data=None is NoneType: give 'scenes' or the path of a \.npz or \.csv"),
    ("data=3", lambda tmp: (3, {}), r"data=3 is int: give 'scenes' or the path"),
    ("tail='high'", _scenes(tail="high"), r"tail='high' is str: give a number >= 0, the long-tail exponent"),
    ("n_train=1.5", _scenes(n_train=1.5), r"n_train=1\.5 is float: give a whole number >= 1"),
    # already handled
    ("empty .npz", _raw("e.npz", b""), r"is empty \(0 bytes\)"),
    (".npy named .npz", _npy_as_npz, r"holds a single array, not an \.npz archive"),
    ("broken zip", _raw("z.npz", b"PK\x03\x04garbage"), r"is not a readable \.npz archive"),
    ("object array", _npz(label_names=np.array([{"a": 1}, None, 3], dtype=object)), r"object array.*refused"),
    ("missing arrays", _npz(X_test=None), r"lacks X_test"),
    ("only X_val", _npz(X_val=np.zeros((5, 4))), r"only one of X_val / Y_val"),
    ("labels not 0/1", _with("Y_train", lambda Y: Y * 2), r"Y_train is not binary"),
    ("NaN feature", _with("X_train", lambda X: np.where(np.arange(4) == 1, np.nan, X)), r"NaN/inf value"),
    ("row mismatch", _with("Y_train", lambda Y: Y[:-1]), r"X_train has 40 rows but Y_train has 39"),
    ("label without training positives", _with("Y_train", lambda Y: np.c_[Y, np.zeros(len(Y))], "Y_test"),
     r"no positive example in the training split"),
    ("text labels", _with("Y_train", lambda Y: Y.astype(str)), r"labels must be numeric"),
    ("csv text feature", _csv(_table().assign(a="x")), r"feature column\(s\) \['a'\] are not numeric"),
    ("csv empty", _csv(""), r"is empty; expected a header row"),
    ("csv header only", _csv("a,label_x\n"), r"has a header but no rows"),
    ("csv no label columns", _csv(_table().rename(columns={"label_x": "x", "label_y": "y"})),
     r"no column starts with the label prefix"),
    ("csv bad split value", _csv(_table().assign(split="training")), r"column 'split' holds \['training'\]"),
    ("csv fractions too big", _csv(_table(), val_fraction=0.5, test_fraction=0.5), r"leaves no training rows"),
    ("unsupported suffix", _raw("d.txt", b"1"), r"unsupported file type '\.txt'"),
    ("no such file", lambda tmp: (tmp / "nope.npz", {}), r"neither 'scenes' nor an existing file"),
    ("scenes: too many objects", _scenes(objects=5), r"do not fit in 4 grid cells"),
]


@pytest.mark.parametrize(("what", "build", "pattern"), DATA, ids=[d[0] for d in DATA])
def test_malformed_data(tmp_path, what, build, pattern):
    import re

    source, kwargs = build(tmp_path)
    with pytest.raises(data.DataError) as exc:
        data.load_data(source, **kwargs)
    msg = str(exc.value)
    assert type(exc.value) is data.DataError and "\n" not in msg, msg
    assert re.search(pattern, msg), msg
    assert "allow_pickle=True" not in msg and "Traceback" not in msg, msg


def test_scene_sizes_beyond_memory_are_refused_before_allocating(monkeypatch):
    from helpers.data import core

    monkeypatch.setattr(core, "_memory_bytes", lambda: 16 * 2**30)  # a 16 GiB machine, whatever this one has
    monkeypatch.setattr(data.scenes, "_make_split", lambda *a: pytest.fail("allocated before checking the size"))
    with pytest.raises(data.DataError) as exc:
        data.load_data("scenes", n_train=10**7)
    msg = str(exc.value)
    assert type(exc.value) is data.DataError and "\n" not in msg
    assert msg.startswith("n_train=10,000,000: the scenes would need about 19.1 GiB of memory, more than half of "
                          "this machine's 16.0 GiB; use fewer scenes"), msg
    with pytest.raises(data.DataError) as direct:  # notebook 12 calls make_scenes itself (a dead kernel before)
        data.make_scenes(n_train=10**7)
    assert str(direct.value) == msg


def test_many_label_scene_sizes_beyond_memory_are_refused_before_allocating(monkeypatch):
    """make test-params found notebook 09 with n_train=10**7 ending in a MemoryError (23.8 GiB) after 39 s."""
    from helpers.data import core

    monkeypatch.setattr(core, "_memory_bytes", lambda: 16 * 2**30)
    monkeypatch.setattr(data.scenes, "_make_many_split", lambda *a: pytest.fail("allocated before checking the size"))
    with pytest.raises(data.DataError) as exc:
        data.make_many_label_scenes(100, n_train=10**7)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("n_train=10,000,000: the scenes would need about 47.") and \
        "use fewer scenes" in msg, msg


def test_label_without_test_positives_is_named_with_what_it_does_to_macro_f1(tmp_path):
    from sklearn.metrics import f1_score

    arrays = _arrays(labels=3)
    arrays["Y_test"] = arrays["Y_test"].copy()
    arrays["Y_test"][:, 2] = 0  # label_2 never occurs in test
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.warns(data.DataWarning) as caught:
        d = data.load_data(tmp_path / "d.npz")
    msg = str(caught[0].message)
    assert "\n" not in msg and msg.startswith("d: 1 of 3 label(s) have no positive example in the test split "
                                              "('label_2'): their F1 on test is 0 whatever the model predicts"), msg
    perfect = f1_score(d.Y_test, d.Y_test, average="macro", zero_division=0)
    assert perfect == pytest.approx(2 / 3) and "a perfect predictor's macro-F1 would be 0.667" in msg
    assert "Drop those label columns, or re-split the file" in msg
    assert d.info["labels_without_test_positives"] == ["label_2"]


def test_label_with_positives_everywhere_gives_no_warning(tmp_path):
    import warnings

    np.savez(tmp_path / "d.npz", **_arrays(labels=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", data.DataWarning)
        assert data.load_data(tmp_path / "d.npz").info["labels_without_test_positives"] == []


def test_csv_split_column_given_by_name_is_used_and_default_split_column_still_found(tmp_path):
    df = _table().assign(part=["train"] * 40 + ["val"] * 8 + ["test"] * 12)
    df.to_csv(tmp_path / "t.csv", index=False)
    d = data.load_data(tmp_path / "t.csv", split_column="part")
    assert (len(d.X_train), len(d.X_val), len(d.X_test)) == (40, 8, 12) and d.feature_names == ["a", "b"]
    df.rename(columns={"part": "split"}).to_csv(tmp_path / "t.csv", index=False)
    assert len(data.load_data(tmp_path / "t.csv").X_test) == 12


# ---------------------------------------------------------------------------------------------
# Claims (helpers.claims.Ledger): (name, call(ledger or tmp_path), error class, message pattern)

def _claim(**kwargs) -> Callable[[Path], None]:
    def call(tmp: Path) -> None:
        from helpers import claims

        claims.Ledger(tmp / "out", echo=False).claim("c", "a claim", **{"holds": True, **kwargs})
    return call


def _ledger_in_file(tmp: Path) -> None:
    from helpers import claims

    (tmp / "f").write_text("a file")
    claims.Ledger(tmp / "f" / "sub", echo=False)


LEDGER: list[tuple[str, Callable[[Path], None], type[Exception], str]] = [
    ("applies='no'", _claim(applies="no", why_not="x"), TypeError,
     r"claim 'c': applies must be a bool \(True or False, e\.g\. a comparison\), got str 'no'"),
    ("applies=1", _claim(applies=1), TypeError, r"claim 'c': applies must be a bool .*got int 1"),
    ("holds='yes'", _claim(holds="yes"), TypeError, r"claim 'c': holds must be a bool .*got str 'yes'"),
    ("holds=0", _claim(holds=0), TypeError, r"claim 'c': holds must be a bool .*got int 0"),
    ("holds=lambda: None", _claim(holds=lambda: None), TypeError, r"holds must be a bool .*got NoneType None"),
    ("evidence as a list", _claim(evidence=[0.8, 0.7]), TypeError,
     r"claim 'c': evidence must map names to the numbers the claim was judged on, e\.g\. evidence=\{'f1': 0\.8\}; "
     r"got a list"),
    ("out_dir under a file", _ledger_in_file, ValueError, r"Ledger out_dir=.*/f/sub: .*/f is a file, not a folder"),
    ("out_dir a number", lambda tmp: __import__("helpers.claims").claims.Ledger(3), TypeError,
     r"Ledger out_dir=3 is int: give a folder path"),
]


@pytest.mark.parametrize(("what", "call", "error", "pattern"), LEDGER, ids=[c[0] for c in LEDGER])
def test_malformed_claims(tmp_path, what, call, error, pattern):
    import re

    with pytest.raises(error) as exc:
        call(tmp_path)
    msg = str(exc.value)
    assert type(exc.value) is error and "\n" not in msg, msg
    assert re.search(pattern, msg), msg


def test_claim_booleans_of_numpy_and_torch_are_accepted(tmp_path):
    import torch

    from helpers import claims

    led = claims.Ledger(None, echo=False)
    led.claim("numpy_bool", "t", holds=np.float64(0.9) > 0.5, applies=np.bool_(True))
    led.claim("torch_bool", "t", holds=torch.tensor(1.0) > 0.5)
    led.claim("not_applicable", "t", holds="never evaluated", applies=False, why_not="a reason")
    assert [r["status"] for r in led.records] == ["held", "held", "not applicable"]


# ---------------------------------------------------------------------------------------------
# python -m helpers.evidence: a sweep folder built here (two runs), then the command on it

def _sweep_folder(tmp: Path, *, ok: bool = True, name: str = "demo", notebook: str = "notebooks/x.ipynb") -> Path:
    import json

    src = tmp / f"sweep_{name}"
    spec = tmp / f"{name}.yaml"
    spec.write_text(f"notebook: {notebook}\n")
    runs = []
    for seed in (0, 1):
        rid = f"seed-{seed}"
        (src / rid).mkdir(parents=True)
        status = {"run_id": rid, "status": "ok" if ok else "failed", "params": {"seed": seed}, "grid": {"seed": seed},
                  "error": None if ok else {"type": "ValueError", "message": "bad data"}, "seconds": 1.0,
                  "started": "2026-01-01T00:00:00", "finished": "2026-01-01T00:00:01", "host": "h"}
        (src / rid / "status.json").write_text(json.dumps(status))
        if ok:
            (src / rid / "metrics.json").write_text(json.dumps({"notebook": "x", "params": {"seed": seed}, "env": {},
                                                                "results": [{"setup": "a", "f1": 0.5}]}))
        (src / rid / "claims.json").write_text(json.dumps({"notebook": "x", "claims": [
            {"id": "c", "notebook": "x", "text": "t", "status": "held", "evidence": {}, "why_not": ""}]}))
        runs.append({"run_id": rid, "params": {"seed": seed}})
    (src / "sweep.json").write_text(json.dumps({"sweep": name, "spec": str(spec), "notebook": notebook, "runs": runs}))
    return src


def _files(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


def _evidence_cli(argv: list[str]) -> tuple[int, str]:
    import contextlib

    from helpers import evidence

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = evidence.main(argv)
    return code, err.getvalue()


def _all_failed(tmp):
    return [str(_sweep_folder(tmp, ok=False)), str(tmp / "dest")]


def _into_a_file(tmp):
    (tmp / "dest").write_text("a file")
    return [str(_sweep_folder(tmp)), str(tmp / "dest")]


def _another_sweeps_evidence(tmp):
    from helpers import evidence

    evidence.export_sweep(_sweep_folder(tmp, name="other", notebook="notebooks/y.ipynb"), tmp / "dest")
    return [str(_sweep_folder(tmp)), str(tmp / "dest")]


def _spec_moved(tmp):
    src = _sweep_folder(tmp)
    (tmp / "demo.yaml").unlink()
    return [str(src), str(tmp / "dest")]


def _unrelated_files(tmp):
    (tmp / "dest").mkdir()
    (tmp / "dest" / "notes.txt").write_text("mine")
    return [str(_sweep_folder(tmp)), str(tmp / "dest")]


EVIDENCE_CLI: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("every run failed", _all_failed, r"all 2 runs of .*sweep_demo failed \(first: ValueError: bad data\); there is "
                                      r"nothing to export as evidence"),
    ("dest is a file", _into_a_file, r"cannot write the evidence to .*dest: .*dest is a file, not a folder"),
    ("another sweep's evidence", _another_sweeps_evidence,
     r"dest holds the evidence of another sweep \('other' of notebooks/y\.ipynb\); exporting 'demo' of "
     r"notebooks/x\.ipynb there would overwrite it\. Give another destination, or pass --force to replace it"),
    ("spec moved", _spec_moved, r"the spec that made .*sweep_demo, .*demo\.yaml, is no longer there"),
    ("unrelated files in dest", _unrelated_files, r"dest already holds files and no sweep's sweep\.json"),
]


@pytest.mark.parametrize(("what", "setup", "pattern"), EVIDENCE_CLI, ids=[c[0] for c in EVIDENCE_CLI])
def test_evidence_command_refuses_in_one_line_and_writes_nothing(tmp_path, what, setup, pattern):
    import re

    argv = setup(tmp_path)
    dest = tmp_path / "dest"
    before = _files(dest)
    code, err = _evidence_cli(argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert _files(dest) == before  # nothing written, nothing overwritten
    assert not list(tmp_path.glob(".dest.export-*"))  # no staging folder left


def test_evidence_command_exports_reexports_and_replaces_with_force(tmp_path):
    from helpers import evidence

    src = _sweep_folder(tmp_path)
    dest = tmp_path / "dest"
    assert _evidence_cli([str(src), str(dest)]) == (0, "")
    assert sorted(p.name for p in dest.iterdir()) == sorted(evidence.FILES)
    assert _evidence_cli([str(src), str(dest)]) == (0, "")  # the same sweep again: refreshed
    other = _sweep_folder(tmp_path, name="other", notebook="notebooks/y.ipynb")
    assert _evidence_cli([str(other), str(dest)])[0] == 2
    assert _evidence_cli([str(other), str(dest), "--force"]) == (0, "")
    assert '"sweep": "other"' in (dest / "sweep.json").read_text()


def test_evidence_export_failing_midway_leaves_the_destination_as_it_was(tmp_path, monkeypatch):
    from helpers import claims, evidence

    src = _sweep_folder(tmp_path)
    dest = tmp_path / "dest"
    evidence.export_sweep(src, dest)
    before = _files(dest)

    def broken(_):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(claims, "sweep_table", broken)  # after results.csv, sweep.json and spec.yaml are made
    assert _evidence_cli([str(src), str(dest)]) == (2, "error: disk full (simulated)\n")
    assert _files(dest) == before and not list(tmp_path.glob(".dest.export-*"))


@pytest.mark.parametrize(("what", "value", "pattern"), [
    ("a file", "FILE", r"output_dir='.*/f': .*/f is a file, not a folder; give another folder path"),
    ("under a file", "FILE/sub", r"output_dir='.*/f/sub': .*/f is a file, not a folder"),
    ("None", None, r"output_dir=None is NoneType: give a folder path such as 'outputs/my_run'"),
    ("empty", "", r"output_dir='' is str: give a folder path"),
])
def test_output_dir_that_cannot_be_a_folder_is_refused_in_one_line(tmp_path, what, value, pattern):
    import re

    from helpers import results

    (tmp_path / "f").write_text("a file")
    if isinstance(value, str) and value.startswith("FILE"):
        value = str(tmp_path / "f") + value[4:]
    with pytest.raises(ValueError) as exc:
        results.output_dir(value)
    msg = str(exc.value)
    assert type(exc.value) is ValueError and "\n" not in msg and re.search(pattern, msg), msg
