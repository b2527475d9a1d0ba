"""The shape of the package: only ``replay.record`` touches Keras, and no import circles.

Both tests read the source with ``ast``, so they see imports inside
functions too (the deferred imports that would hide a circle or a Keras
dependency at import time).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "replay"
#: Top-level packages only ``replay.record`` may import.
KERAS_SIDE = ("keras", "jax", "jaxlib", "tensorflow", "torch")


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path):
    """Yield ``(line, dotted name)`` of every import in the file, at any depth.

    ``from a.b import c`` yields ``a.b.c`` when that is a module of replay,
    else ``a.b``; relative imports are resolved against the module.
    """
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if candidate in MODULES else base
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value


def test_the_package_has_the_documented_folders():
    for package in ("replay.record", "replay.io", "replay.views", "replay.render",
                    "replay.compare"):
        assert package in MODULES, f"{package} is missing"


def test_only_replay_record_imports_keras_or_a_backend():
    offenders = []
    for name, path in MODULES.items():
        if name == "replay.record" or name.startswith("replay.record."):
            continue
        for line, imported in imported_names(path):
            if imported.split(".")[0] in KERAS_SIDE:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    assert not offenders, "Only replay/record/ may import Keras or a backend:\n" + "\n".join(
        offenders)


def test_the_replay_side_never_imports_the_keras_side():
    # Data flows record -> io -> run -> views -> render; the one way back is
    # replay/__init__'s lazy `Recorder` (loaded on first use).
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("replay.record") or name in ("replay", "replay.record"):
            continue
        for line, imported in imported_names(path):
            if imported == "replay.record" or imported.startswith("replay.record."):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    assert not offenders, "\n".join(offenders)


def test_the_check_sees_imports_inside_functions(tmp_path):
    # The rule must catch a deferred import, the kind that hides at import time.
    source = tmp_path / "replay" / "views" / "sneaky.py"
    source.parent.mkdir(parents=True)
    source.write_text("def f():\n    import keras\n    from jax import numpy\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "replay"
    try:
        assert [name for _, name in imported_names(source)] == ["keras", "jax"]
    finally:
        PACKAGE = saved


def import_graph():
    """``{module: {replay modules it imports}}``, parent packages not counted."""
    graph = {}
    for name, path in MODULES.items():
        edges = set()
        for _, imported in imported_names(path):
            while imported and imported not in MODULES:
                imported = imported.rpartition(".")[0]  # replay.x.attribute -> replay.x
            if imported and imported != name:
                edges.add(imported)
        graph[name] = edges
    return graph


def find_cycle(graph):
    """Return one import circle as a list of modules, or ``None``."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circle_anywhere_in_replay():
    cycle = find_cycle(import_graph())
    assert cycle is None, "Import circle: " + " -> ".join(cycle)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_cycle_finder_finds_circles(graph, expected):
    assert find_cycle(graph) == expected


def test_no_dataset_path_is_spelled_outside_the_schema():
    # Every run-file path is built by replay.io.schema; an f-string such as
    # f"weights/{layer}/..." elsewhere would be a second copy of the layout.
    prefixes = ("inputs/", "targets/", "outputs/", "loss/", "activations/",
                "preactivations/", "weights/", "gradients/", "history/", "snapshots/", "initial/",
                "samples/", "summaries/", "landscape/")
    offenders = []
    for name, path in MODULES.items():
        if name == "replay.io.schema":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(
                    node.values[0], ast.Constant) and str(node.values[0].value).startswith(prefixes):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and node.value.startswith(prefixes) and " " not in node.value):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not offenders, "Paths spelled outside replay/io/schema.py: " + ", ".join(offenders)
