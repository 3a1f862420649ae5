"""Drawing computation graphs with graphviz (rendering skipped where ``dot`` is missing)."""

from __future__ import annotations

import re
import shutil
import sys

import numpy as np
import pytest

from micrograd_plus import viz
from micrograd_plus.tensor import Tensor
from micrograd_plus.value import Value

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


@pytest.fixture
def fake_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend ``dot`` is installed: building a graph does not run it, only rendering does."""
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")


def quickstart() -> Value:
    a, b = Value(2.0), Value(3.0)
    c = a * b + a
    c.backward()
    return c


def test_walk_finds_every_node_and_edge_once() -> None:
    """For c = a*b + a: are there 4 values and 4 input edges, c first?"""
    c = quickstart()
    nodes, edges = viz.walk(c)
    assert nodes[0] is c and len(nodes) == 4 and len({id(n) for n in nodes}) == 4
    assert len(edges) == 4
    assert all(parent._prev and child in parent._prev for child, parent in edges)


@pytest.mark.usefixtures("fake_dot")
def test_value_graph_shows_ops_data_and_grads() -> None:
    """Does the quickstart graph have a box per value, an oval per op, and the right arrows?"""
    dot = viz.draw_graph(quickstart())
    source = dot.source
    assert isinstance(dot, graphviz.Digraph) and dot.format == "svg"
    assert "rankdir=LR" in source
    assert "data 8.0000 | grad 1.0000" in source and "data 2.0000 | grad 4.0000" in source
    assert source.count("shape=record") == 4 and source.count("shape=oval") == 2
    assert 'label="*"' in source and 'label="+"' in source  # quoted: not plain identifiers
    assert source.count("->") == 4 + 2  # inputs -> op, op -> output


@pytest.mark.usefixtures("fake_dot")
def test_tensor_graph_shows_shapes_and_op_labels() -> None:
    """Does a tensor graph label values with shape and dtype, and ops with their symbol?"""
    import micrograd_plus.ops  # noqa: F401  - attaches @ and relu to Tensor

    x = Tensor(np.ones((4, 3), dtype=np.float32))
    w = Tensor(np.ones((3, 2), dtype=np.float32))
    loss = (x @ w).relu().sum()
    dot = viz.draw_graph(loss, format="png", rankdir="TB")
    source = dot.source
    assert dot.format == "png" and "rankdir=TB" in source
    assert "shape (4, 3) | float32" in source and "shape (3, 2) | float32" in source
    assert "data 24" in source  # a one-element tensor shows its value
    for op in ("@", "relu", "sum"):
        assert re.search(rf'label="?{re.escape(op)}"?[ \]]', source), op
    assert source.count("fillcolor=lightgrey") == 2  # the two leaves


@pytest.mark.usefixtures("fake_dot")
def test_a_deep_graph_draws_without_recursion() -> None:
    """Does a 5,000-operation chain draw without a RecursionError?"""
    x = Value(1.0)
    y = x
    for _ in range(5_000):
        y = y + 1
    source = viz.draw_graph(y).source
    assert source.count("shape=oval") == 5_000


def test_bad_rankdir_is_refused() -> None:
    """Does an unknown rankdir raise a ValueError listing the valid ones?"""
    with pytest.raises(ValueError, match="LR, RL, TB, BT"):
        viz.draw_graph(Value(1.0), rankdir="sideways")


def test_missing_dot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``dot`` on the PATH, does the error name apt-get and conda?"""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(viz.GraphvizMissing, match="`dot` program") as error:
        viz.draw_graph(quickstart())
    assert "apt-get install graphviz" in str(error.value)
    assert "conda install -c conda-forge graphviz" in str(error.value)


def test_missing_graphviz_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the graphviz Python package, does the error say pip install graphviz?"""
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(viz.GraphvizMissing, match="pip install graphviz"):
        viz.draw_graph(quickstart())


@needs_dot
def test_the_graph_renders_to_svg() -> None:
    """Does Graphviz render the graph to an SVG that shows the op labels?"""
    svg = viz.draw_graph(quickstart()).pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "data 8.0000" in svg
