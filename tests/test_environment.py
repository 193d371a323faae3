"""environment.yml (conda users) and pyproject.toml (pip) must list the same dependencies."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements(pyproject: dict) -> dict[str, SpecifierSet]:
    """``{name: specifier}`` of the runtime dependencies and every extra (``make setup``
    installs them all)."""
    project = pyproject["project"]
    extras = project.get("optional-dependencies", {}).values()
    return as_specifiers(project["dependencies"] + [line for lines in extras for line in lines])


def environment_requirements(environment: dict) -> dict[str, SpecifierSet]:
    """``{name: specifier}`` of the pip section of environment.yml, less the project itself."""
    pip = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    return as_specifiers([line for line in pip if not line.startswith("-e")])


def as_specifiers(lines: list[str]) -> dict[str, SpecifierSet]:
    requirements = [Requirement(line) for line in lines]
    names = [canonicalize_name(requirement.name) for requirement in requirements]
    assert len(set(names)) == len(names), f"a package is listed twice: {names}"
    return dict(zip(names, (requirement.specifier for requirement in requirements)))


def drift(pyproject: dict, environment: dict) -> list[str]:
    """Differences between the two files, one line each; empty when they agree."""
    pip, conda = pyproject_requirements(pyproject), environment_requirements(environment)
    problems = [f"{name}: only in pyproject.toml" for name in sorted(pip.keys() - conda.keys())]
    problems += [f"{name}: only in environment.yml" for name in sorted(conda.keys() - pip.keys())]
    problems += [f"{name}: pyproject.toml says {pip[name] or 'any'}, environment.yml says "
                 f"{conda[name] or 'any'}" for name in sorted(pip.keys() & conda.keys())
                 if pip[name] != conda[name]]
    python = next(entry for entry in environment["dependencies"]
                  if isinstance(entry, str) and entry.startswith("python"))
    version = python.split("=")[-1]
    if version not in SpecifierSet(pyproject["project"]["requires-python"]):
        problems.append(f"{python} does not satisfy requires-python "
                        f"{pyproject['project']['requires-python']}")
    return problems


@pytest.fixture
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture
def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_environment_yml_matches_pyproject(pyproject, environment):
    assert drift(pyproject, environment) == []


def test_environment_installs_the_project_itself(environment):
    pip = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    assert "-e ." in pip
    assert "pip" in environment["dependencies"]


def test_torch_is_pinned_exactly(pyproject):
    requirements = pyproject_requirements(pyproject)
    assert str(requirements["torch"]) == "==2.14.1"
    assert str(requirements["torchvision"]) == "==0.29.1"


def test_every_dependency_has_a_version_range(pyproject):
    assert [name for name, spec in pyproject_requirements(pyproject).items() if not spec] == []


def pip_section(environment: dict) -> list[str]:
    return next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))


def test_drift_in_a_version_is_caught(pyproject, environment):
    lines = pip_section(environment)
    index = next(i for i, line in enumerate(lines) if line.startswith("librosa"))
    lines[index] = "librosa>=0.9,<0.12"
    [problem] = drift(pyproject, environment)
    assert problem.startswith("librosa: pyproject.toml says") and ">=0.9" in problem


def test_a_package_missing_or_added_is_caught(pyproject, environment):
    lines = pip_section(environment)
    lines.remove(next(line for line in lines if line.startswith("soxr")))
    lines.append("requests>=2")
    assert drift(pyproject, environment) == ["soxr: only in pyproject.toml",
                                             "requests: only in environment.yml"]


@pytest.mark.parametrize("extra", ["dev", "birdnet", "cloud"])
def test_an_extra_dependency_added_only_to_pyproject_is_caught(pyproject, environment, extra):
    pyproject["project"]["optional-dependencies"][extra].append("hypothesis>=6")
    assert drift(pyproject, environment) == ["hypothesis: only in pyproject.toml"]


def test_make_setup_installs_every_extra(pyproject):
    makefile = (ROOT / "Makefile").read_text()
    extras = ",".join(pyproject["project"]["optional-dependencies"])
    assert f"-e '.[{extras}]'" in makefile


def test_a_wrong_python_is_caught(pyproject, environment):
    dependencies = environment["dependencies"]
    dependencies[dependencies.index("python=3.11")] = "python=3.12"
    [problem] = drift(pyproject, environment)
    assert problem.startswith("python=3.12 does not satisfy requires-python")


def test_spelling_and_order_of_specifiers_do_not_count_as_drift(pyproject, environment):
    lines = pip_section(environment)
    index = next(i for i, line in enumerate(lines) if line.startswith("scikit-learn"))
    lines[index] = "Scikit_Learn <2, >=1.4"
    assert drift(pyproject, environment) == []
