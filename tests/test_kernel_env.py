"""The kernels the book runner and the sweeps start do not inherit the allocator setting of a Dask worker.

Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers; a sweep kernel inherited it and the
book's training ran at half speed (``helpers.kernels.UNSET_VARS``). The results do not change, so only
the environment is checked here: a real kernel, started the way both runners start theirs.
"""

from __future__ import annotations

import nbformat
import papermill as pm

from helpers import kernels


def test_a_kernel_does_not_inherit_dasks_malloc_trim_threshold(tmp_path, monkeypatch):
    import dask
    import distributed  # noqa: F401 -- registers the distributed.* config

    dask_env = dask.config.get("distributed.nanny.pre-spawn-environ", {})
    assert "MALLOC_TRIM_THRESHOLD_" in dask_env  # what a Dask worker passes on; if Dask stops, this test says so
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", str(dask_env["MALLOC_TRIM_THRESHOLD_"]))
    monkeypatch.setenv("HELPERS_TEST_KEPT", "kept")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os\nprint(os.environ.get('MALLOC_TRIM_THRESHOLD_'), os.environ.get('HELPERS_TEST_KEPT'), "
        "os.environ.get('OMP_NUM_THREADS'))"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, out = tmp_path / "env.ipynb", tmp_path / "env_out.ipynb"
    nbformat.write(nb, src)
    pm.execute_notebook(str(src), str(out), kernel_name="python3", progress_bar=False,
                        kernel_manager_class=kernels.kernel_manager_class(kernels.thread_env(1)))
    text = nbformat.read(out, as_version=4).cells[0].outputs[0]["text"].split()
    assert text == ["None", "kept", "1"]  # unset; the rest of the environment and the thread budget kept
