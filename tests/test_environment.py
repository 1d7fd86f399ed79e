"""environment.yml (conda) and pyproject.toml (pip) must list the same dependencies."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest brings tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

#: conda-forge names that differ from the PyPI name (after normalisation)
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
#: conda-only entries that are not Python packages of pyproject
CONDA_ONLY = {"python", "pip", "openjdk"}

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*?)\s*(?:;.*)?$")


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of -, _ and . as one '-' (factor_analyzer == factor-analyzer)."""
    name = re.sub(r"[-_.]+", "-", name).lower()
    return CONDA_TO_PYPI.get(name, name)


def parse(req: str) -> tuple[str, str]:
    """('scikit-learn', '>=1.4') from 'scikit-learn>=1.4' (conda 'name>=v' and 'name >=v' too)."""
    m = _REQ.match(req)
    assert m, f"cannot read requirement {req!r}"
    return normalise(m.group(1)), m.group(2).replace(" ", "")


def pyproject_deps() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    out: dict[str, str] = {}
    for r in reqs:
        name, spec = parse(r)
        assert out.get(name, spec) == spec, f"pyproject lists {name} with two versions"
        out[name] = spec
    return out


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def environment_deps() -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in environment()["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for r in items:
            if r.startswith("-e") or r.startswith("."):
                continue
            name, spec = parse(r)
            if name in CONDA_ONLY:
                continue
            assert name not in out, f"environment.yml lists {name} twice"
            out[name] = spec
    return out


def test_normalisation():
    assert normalise("factor_analyzer") == normalise("factor-analyzer") == "factor-analyzer"
    assert normalise("scikit_learn") == normalise("Scikit-Learn") == "scikit-learn"
    assert normalise("python-duckdb") == "duckdb"
    assert parse("pyyaml >=6") == ("pyyaml", ">=6")
    assert parse("pandas[performance]>=2.1 ; python_version>'3.9'") == ("pandas", ">=2.1")


def test_same_dependency_names_in_both_files():
    pip, conda = set(pyproject_deps()), set(environment_deps())
    assert pip == conda, (f"only in pyproject.toml: {sorted(pip - conda)}; "
                          f"only in environment.yml: {sorted(conda - pip)}")


def test_same_minimum_versions_in_both_files():
    pip, conda = pyproject_deps(), environment_deps()
    differ = {n: (pip[n], conda[n]) for n in pip.keys() & conda.keys() if pip[n] != conda[n]}
    assert not differ, f"versions differ (pyproject, environment.yml): {differ}"


def test_environment_names_dmkit_python_and_installs_the_package():
    env = environment()
    assert env["name"] == "dmkit"
    assert "conda-forge" in env["channels"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"python{requires}" in env["dependencies"]
    pip = next(e["pip"] for e in env["dependencies"] if isinstance(e, dict))
    assert "-e ." in pip


def test_the_check_catches_a_dependency_added_to_one_file_only(monkeypatch):
    real = environment()
    real["dependencies"].insert(2, "polars>=1")
    monkeypatch.setattr(sys.modules[__name__], "environment", lambda: real)
    with pytest.raises(AssertionError, match=r"only in environment.yml: \['polars'\]"):
        test_same_dependency_names_in_both_files()
