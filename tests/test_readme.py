"""The README stays true: every CLI command is documented, and the set-up commands are there."""
from __future__ import annotations

import argparse
from pathlib import Path

from audit.__main__ import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_cli_command_is_documented_in_the_readme():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        assert f"`{name}" in README or f"{name}`" in README, f"`{name}` missing from README"


def test_the_readme_names_the_two_set_up_commands_and_ci_runs_the_test_command():
    assert "streamlit run streamlit_app.py" in README
    test_command = ".venv/bin/python -m pytest -n auto"
    assert test_command in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci


def test_the_demo_accounts_in_the_readme_are_the_demo_builders():
    from audit.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
    assert DEMO_PASSWORD in README
    for username, *_ in DEMO_ACCOUNTS:
        assert f"`{username}`" in README


def test_every_option_of_every_command_is_documented_in_the_readme():
    def walk(parser, prefix: str):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield prefix.strip(), parser
        for a in subs:
            for name, sub in a.choices.items():
                yield from walk(sub, f"{prefix} {name}")
    missing = [f"{command} {option}" for command, parser in walk(build_parser(), "")
               for action in parser._actions for option in action.option_strings[-1:]
               if option.startswith("--") and option != "--help" and option not in README]
    assert not missing, f"options missing from README: {missing}"
