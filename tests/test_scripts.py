"""The experiment scripts (``scripts/part*.py``) can share one ``--out`` folder.

Read from the scripts' source (no training): every file a script writes is
``out / "<name>"`` with a literal name (an f-string's fields become ``*``),
each name starts with the script's experiment prefix, and no name of one
script can be a name of another, except the run files shared on purpose
(part 1's by the two part-1 scripts and part 7, part 4's by part 4 and part 7).
"""

import ast
import fnmatch
import itertools
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
#: The experiment prefix of every file each script writes into ``--out``.
PREFIXES = {
    "part1_activation_functions": "part1",
    "part1_showdown": "showdown",
    "part2_weight_initializers": "part2",
    "part3_activation_initializer_grid": "part3",
    "part4_circles_initializers": "part4",
    "part5_digits_activations": "part5",
    "part6_latent_space": "part6",
    "part7_landscape": "part7",
    "sweep_part1": "sweep",
}
#: Written by more than one script on purpose: the showdown and part 7 record
#: into (and reuse) the part-1 runs of part1_activation_functions.py; part 7
#: the circles runs of part4_circles_initializers.py.
SHARED = {"part1.h5", "part4.h5"}


def output_names(path):
    """Return the names ``out / NAME`` of a script, f-string fields as ``*``.

    Raises:
        AssertionError: a name that is not a literal (it could be anything).
    """
    names = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
                and isinstance(node.left, ast.Name) and node.left.id == "out"):
            continue
        right = node.right
        if isinstance(right, ast.Constant) and isinstance(right.value, str):
            names.append(right.value)
        elif isinstance(right, ast.JoinedStr):
            names.append("".join(part.value if isinstance(part, ast.Constant) else "*"
                                 for part in right.values))
        else:
            raise AssertionError(f"{path.name}:{node.lineno}: out / {ast.unparse(right)} is "
                                 "not a literal name; name the file literally")
    return names


def overlap(first, second):
    """Whether two names (``*`` for any text) can name the same file."""
    return (fnmatch.fnmatchcase(first.replace("*", "x"), second)
            or fnmatch.fnmatchcase(second.replace("*", "x"), first)
            or first == second)


def test_every_experiment_script_is_listed():
    scripts = [*SCRIPTS.glob("part*.py"), *SCRIPTS.glob("sweep_*.py")]
    assert sorted(path.stem for path in scripts) == sorted(PREFIXES)


@pytest.mark.parametrize("script", sorted(PREFIXES))
def test_a_script_names_its_files_after_its_experiment(script):
    names = output_names(SCRIPTS / f"{script}.py")
    assert names, f"{script} writes nothing into out?"
    prefix = PREFIXES[script]
    wrong = [name for name in names if name not in SHARED
             and not (name.startswith(prefix + "_") or name.startswith(prefix + "."))]
    assert not wrong, f"{script} writes {wrong}: name them {prefix}_..."


def test_no_two_scripts_write_the_same_file():
    names = {script: set(output_names(SCRIPTS / f"{script}.py")) - SHARED for script in PREFIXES}
    clashes = [(a, x, b, y) for (a, xs), (b, ys) in itertools.combinations(names.items(), 2)
               for x in xs for y in ys if overlap(x, y)]
    assert not clashes, f"files written by two scripts: {clashes}"


def test_the_check_sees_a_clash():
    assert overlap("part4_curves.png", "part4_curves.png")
    assert overlap("part1_*.mp4", "part1_relu.mp4")
    assert not overlap("part4_curves.png", "part5_curves.png")
    assert not overlap("showdown_results.md", "part4_results.md")
