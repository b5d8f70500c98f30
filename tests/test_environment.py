"""environment.yml is the single source of dependency truth: requirements.txt (the venv path) and
pyproject.toml's ranges must agree with it, and CI must call the README's test command."""

import re
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge names that differ from PyPI names
NOT_PIP = {"python", "pip"}


def _env_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if line.startswith("-"):  # "-e ." installs the project itself
                    continue
                req = Requirement(line)
                pins[req.name.lower()] = str(req.specifier).removeprefix("==")
            continue
        name, _, version = dep.partition("=")
        if name not in NOT_PIP:
            pins[CONDA_TO_PIP.get(name, name).lower()] = version
    return pins


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            assert str(req.specifier).startswith("=="), f"requirements.txt must pin exactly: {line}"
            pins[req.name.lower()] = str(req.specifier)[2:]
    return pins


def test_requirements_match_environment_yml():
    env, req = _env_pins(), _requirements()
    assert set(env) - set(req) == set(), "in environment.yml but not requirements.txt"
    assert set(req) - set(env) == set(), "in requirements.txt but not environment.yml"
    assert {k: env[k] for k in env if env[k] != req[k]} == {}, "versions differ (environment.yml shown)"


def test_environment_yml_pins_python_311_and_gives_reasons():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s+- python=3\.11\b", text, re.M)
    for line in text.splitlines():
        if re.match(r"^\s+- [a-z]", line) and "=" in line:
            assert "#" in line, f"environment.yml pins need a reason: {line.strip()}"


def test_pyproject_ranges_admit_the_pins():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _env_pins()
    for dep in deps:
        req = Requirement(dep)
        assert req.name.lower() in pins, f"{req.name} is declared in pyproject.toml but not pinned"
        assert Version(pins[req.name.lower()]) in req.specifier, f"{dep} excludes the pinned {pins[req.name]}"


def test_torch_pin_is_the_local_cpu_wheel_version():
    assert _requirements()["torch"] == "2.13.0"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^make (\w+)$", readme, re.M)
    assert commands[:2] == ["book", "test"], "the README must open with `make book` and `make test`"
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call the README's test command"
