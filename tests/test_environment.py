"""environment.yml and pyproject.toml describe the same pinned dependencies."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {d.lower() for d in project["dependencies"] + extras["dev"] + extras["postgres"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {p.lower() for p in pip} == wanted
    assert "python=3.11" in env["dependencies"]


def test_every_dependency_is_pinned_and_in_constraints():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    constraints = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    extras = project["optional-dependencies"]
    for dep in project["dependencies"] + extras["dev"] + extras["postgres"]:
        name, version = dep.split("==")
        name = name.split("[")[0]
        assert constraints[name.lower().replace("_", "-")] == version, dep


def test_required_top_level_exists():
    for name in [
        "notebooks",
        "lab",
        "strategies",
        "statistics",
        "reports",
        "data",
        "tests",
        "environment.yml",
        "Makefile",
        "README.md",
    ]:
        assert (ROOT / name).exists(), name
    assert not (ROOT / "statistics" / "__init__.py").exists(), (
        "a `statistics` package would shadow the stdlib"
    )
