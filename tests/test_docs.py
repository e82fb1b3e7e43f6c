"""The examples in docstrings and in README.md run and print what they say."""

import doctest
import importlib.util
import pathlib
import re
import runpy

import pytest

import fastdrop
import fastdrop.functional
import fastdrop.nn
import fastdrop.random
from fastdrop import _progress
from fastdrop.nn import _module, dropout, layers, mlp, optim

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize(
    "module",
    [
        fastdrop.functional,
        fastdrop.random,
        fastdrop.nn,
        _module,
        dropout,
        layers,
        mlp,
        optim,
        _progress,
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_function_has_an_example():
    for package in (fastdrop, fastdrop.nn):
        for name in package.__all__:
            obj = getattr(package, name)
            if callable(obj):
                assert obj.__doc__ and "Examples" in obj.__doc__, name


def readme_blocks(*, dask: bool) -> list[str]:
    """README's Python blocks that use Dask (tests/test_dask.py runs them) or the others."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [block for block in blocks if ("dask" in block) == dask]


def test_readme_usage_runs():
    """Every python block of README.md without Dask runs; those that import torch where it is
    installed (tests/test_dask.py runs the Dask ones)."""
    blocks = readme_blocks(dask=False)
    assert blocks
    torch_installed = importlib.util.find_spec("torch") is not None
    for block in blocks:
        if "import torch" in block and not torch_installed:
            continue
        exec(compile(block, str(README), "exec"), {})


def test_typing_examples_run():
    """The calls that tests/typing_examples.py shows mypy (in CI) also work."""
    names = runpy.run_path(str(pathlib.Path(__file__).with_name("typing_examples.py")))
    assert names["mean"].shape == names["spread"].shape == (4, 3)


def test_readme_starts_with_the_two_commands():
    commands = re.findall(r"^python -m pip install .*$", README.read_text(), flags=re.M)
    assert "fastdrop-bench" in commands[0]
    assert commands[1].split("#")[0].strip() == 'python -m pip install ".[test]" && pytest'
