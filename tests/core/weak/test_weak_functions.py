"""Labeling functions: the decorator, and loading them by module path."""

import sys

import pytest

from labelstream import ABSTAIN, LabelingFunction, labeling_function
from labelstream.core.schemas import Record
from labelstream.core.weak.functions import load_functions, registered, resolve
from labelstream.errors import ConfigError


def record(x: float) -> Record:
    return Record(id="r", features={"x": x})


def test_decorator_names_and_registers_the_function_with_its_module():
    @labeling_function(name="rule", labels=["a"])
    def local(rec):
        return "a"

    assert isinstance(local, LabelingFunction)
    assert (local.name, local.labels, local(record(1))) == ("rule", ("a",), "a")
    assert local in registered(__name__)


def test_votes_are_strings_and_none_abstains():
    lf = LabelingFunction("n", lambda rec: 1 if rec.features["x"] > 0 else ABSTAIN)
    assert lf(record(1)) == "1"
    assert lf(record(-1)) is None


def test_resolve_one_function_a_list_a_module_and_a_plain_callable():
    assert [lf.name for lf in resolve("lfs_for_tests:positive")] == ["positive"]
    assert [lf.name for lf in resolve("lfs_for_tests:pair")] == ["positive", "negative_rule"]
    assert [lf.name for lf in resolve("lfs_for_tests")] == ["positive", "negative_rule"]
    plain = resolve("lfs_for_tests:plain_callable")
    assert [lf.name for lf in plain] == ["plain_callable"] and plain[0](record(0)) == "1"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
        ("lfs_for_tests:missing", "has no attribute 'missing'"),
        ("lfs_for_tests:not_callable", "int is not callable"),
        ("labelstream.errors", "no @labeling_function in module"),
    ],
)
def test_a_bad_path_is_a_config_error_naming_it(path, message):
    with pytest.raises(ConfigError, match=message):
        resolve(path)


def test_two_functions_with_one_name_are_refused():
    with pytest.raises(ConfigError, match="two labeling functions are named 'positive'"):
        load_functions(["lfs_for_tests:positive", "lfs_for_tests"])


def test_a_module_in_the_current_directory_is_found_as_python_m_would(tmp_path, monkeypatch):
    """The README's ``mypkg/lfs.py`` beside you, ``weak.functions = ["mypkg.lfs"]``: a console script has no
    current directory on ``sys.path`` (``python -m`` has), so the import failed before."""
    (tmp_path / "lfs_beside_me").mkdir()
    (tmp_path / "lfs_beside_me" / "rules.py").write_text(
        "from labelstream import ABSTAIN, labeling_function\n\n"
        "@labeling_function()\ndef shouty(record):\n    return 'spam' if (record.text or '').isupper() else ABSTAIN\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    (lf,) = resolve("lfs_beside_me.rules")
    assert lf.name == "shouty" and lf(Record(id="1", features={}, text="WIN NOW")) == "spam"
    with pytest.raises(ConfigError, match="current directory"):
        resolve("no_such_module_here:rule")
