"""`python -m pipeline score` and the one rule for the newest complete version (serving/versions.py), shared
with the server: an empty or half-made numbered folder is never picked, and a person's mistake (no model, no
version, an empty text) is one line on stderr with exit 2, not a traceback."""
import pytest

from pipeline import __main__ as cli
from pipeline import scoring
from serving import versions


def _version(base, name, complete=True):
    (base / name).mkdir()
    if complete:
        (base / name / versions.SAVED_MODEL_FILE).write_bytes(b"")


def test_the_newest_complete_version_wins_over_newer_empty_folders(tmp_path):
    _version(tmp_path, "10")
    _version(tmp_path, "9")
    _version(tmp_path, "11", complete=False)  # empty: a push in progress or a failed copy
    _version(tmp_path, ".push-12-host-1")
    assert versions.latest_version_dir(str(tmp_path)) == str(tmp_path / "10")
    assert scoring.latest_version_dir is versions.latest_version_dir  # one rule for the CLI and the server
    assert versions.latest_version_dir(str(tmp_path / "10")) == str(tmp_path / "10")  # a SavedModel itself


@pytest.mark.parametrize("setup, fragment", [
    (lambda base: None, "no such model folder"),
    (lambda base: base.mkdir(), "neither a SavedModel nor a folder of complete versions"),
    (lambda base: (base.mkdir(), _version(base, "3", complete=False)), "neither a SavedModel"),
])
def test_no_model_is_one_line_and_exit_2(tmp_path, capsys, setup, fragment):
    model = tmp_path / "serving"
    setup(model)
    assert cli.main(["score", "--model", str(model), "--query", "shoes", "--title", "Running shoes"]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("query, titles, fragment", [
    ("  ", ["Running shoes"], "the query is empty"), ("shoes", ["Running shoes", ""], "title 2 is empty")])
def test_an_empty_text_is_refused_before_any_model_is_loaded(tmp_path, capsys, query, titles, fragment):
    args = ["score", "--model", str(tmp_path / "absent"), "--query", query]
    for title in titles:
        args += ["--title", title]
    assert cli.main(args) == 2
    assert fragment in capsys.readouterr().err
