"""scripts/check_test_asserts.py: which test functions count as asserting nothing."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_test_asserts.py"
spec = importlib.util.spec_from_file_location("check_test_asserts", SCRIPT)
checker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checker)

SAMPLE = """
import pytest
from tests.helpers_sample import must_match


def refused(call):
    with pytest.raises(ValueError, match="bad"):
        call()


def runs(call):
    call()


def test_plain_assert():
    assert 1 + 1 == 2


def test_raises():
    with pytest.raises(KeyError, match="x"):
        {}["x"]


def test_warns():
    with pytest.warns(UserWarning, match="w"):
        pass


def test_fails_explicitly():
    pytest.fail("never")


def test_assert_helper(client):
    assert_status(client.get("/"), 200)


def test_expect(page):
    expect(page.locator("h1")).to_have_text("x")


def test_helper_that_asserts():
    refused(lambda: int("bad"))


def test_imported_helper_that_asserts():
    must_match("a", "a")


def test_nested_function_asserts():
    def check():
        assert True

    check()


def test_only_calls():
    runs(lambda: 1)


def test_empty():
    pass


class TestGroup:
    def test_method_asserts(self):
        assert self

    def test_method_without(self):
        self.x = 1


def helper_not_a_test():
    pass
"""

HELPERS = """
def must_match(a, b):
    assert a == b
"""


@pytest.fixture
def sample(tmp_path, monkeypatch):
    monkeypatch.setattr(checker, "ROOT", tmp_path)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "helpers_sample.py").write_text(HELPERS)
    (tmp_path / "tests" / "test_sample.py").write_text(SAMPLE)
    return tmp_path


def test_finds_the_tests_that_assert_nothing(sample):
    assert checker.find_offenders([sample / "tests"]) == [
        "tests/test_sample.py::test_only_calls",
        "tests/test_sample.py::test_empty",
        "tests/test_sample.py::TestGroup.test_method_without",
    ]


def test_the_allow_list_lets_known_offenders_pass(sample, capsys):
    allow = sample / "allow.txt"
    allow.write_text(
        "# known\n"
        "tests/test_sample.py::test_only_calls\n"
        "tests/test_sample.py::test_empty  # waiting for a fix\n"
        "tests/test_sample.py::test_gone\n"
    )

    code = checker.main([str(sample / "tests"), "--allow", str(allow)])

    out = capsys.readouterr().out
    assert code == 1
    assert "tests/test_sample.py::TestGroup.test_method_without: test without an assertion" in out
    assert "test_only_calls: test" not in out
    assert "allow-list entry no longer needed: tests/test_sample.py::test_gone" in out


def test_a_clean_tree_passes(sample, capsys):
    (sample / "tests" / "test_sample.py").write_text("def test_ok():\n    assert True\n")

    assert checker.main([str(sample / "tests"), "--allow", str(sample / "none.txt")]) == 0
    assert capsys.readouterr().out == ""
