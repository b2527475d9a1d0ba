"""What the ``replay`` command says: its version, help texts, counts and error hints."""

import pytest
import synthetic

import replay
from replay.cli import main
from replay.cli.common import counted


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"replay {replay.__version__}"


def test_table_help_shows_a_single_percent_sign(capsys):
    with pytest.raises(SystemExit):
        main(["table", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "100%." in text
    assert "%%" not in text


def test_every_verb_has_a_description_in_its_help(capsys):
    from replay.cli import VERBS

    for verb in VERBS:
        name = verb.__name__.rsplit(".", 1)[-1]
        with pytest.raises(SystemExit):
            main([name, "--help"])
        lines = capsys.readouterr().out.splitlines()
        # argparse prints the usage, a blank line, then the description (when
        # there is one) before the first argument heading.
        body = lines[lines.index("") + 1]
        assert not body.endswith("arguments:"), f"replay {name} --help has no description"


@pytest.mark.parametrize("number, expected", [(0, "0 runs"), (1, "1 run"), (2, "2 runs")])
def test_counted_says_one_without_a_plural(number, expected):
    assert counted(number, "run") == expected


def test_info_counts_one_run_in_the_singular(tmp_path, capsys):
    path = tmp_path / "one.h5"
    synthetic.write_part1(path, "sigmoid", "sigmoid")
    assert main(["info", str(path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{path}: 1 run,")
    assert "(s)" not in first


def test_a_file_of_several_runs_without_run_names_the_cli_flag(part1_file, tmp_path, capsys):
    status = main(["render", str(part1_file), "--out", str(tmp_path / "x.png")])
    assert status == 2
    error = capsys.readouterr().err
    assert "--run NAME" in error
    assert "pass run=NAME" not in error
