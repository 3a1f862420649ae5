"""Draw a computation graph: values as boxes, the operations that made them as ovals.

Works for the quickstart :class:`~micrograd_plus.value.Value` and for
:class:`~micrograd_plus.tensor.Tensor` alike (anything with ``data``, ``_prev``
and ``_op``), and imports neither, so it can be used from the first lab on.
The graph is walked with an explicit stack, so deep graphs draw too.

>>> from micrograd_plus.value import Value
>>> a, b = Value(2.0), Value(3.0)
>>> dot = draw_graph(a * b + a)  # doctest: +SKIP
>>> dot  # in Jupyter: the picture  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import shutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import graphviz

__all__ = ["GraphvizMissing", "draw_graph", "walk"]

RANKDIRS = ("LR", "RL", "TB", "BT")

PACKAGE_HINT = (
    "draw_graph needs the `graphviz` Python package: `pip install graphviz` "
    "(or `conda install -c conda-forge python-graphviz`)."
)
DOT_HINT = (
    "draw_graph needs Graphviz's `dot` program, which is not on the PATH. Install it: "
    "`sudo apt-get install graphviz` (Debian/Ubuntu, NGC containers), "
    "`conda install -c conda-forge graphviz` (conda) or `brew install graphviz` (macOS)."
)


class GraphvizMissing(RuntimeError):
    """The graphviz Python package or Graphviz's ``dot`` program is not installed."""


def _graphviz() -> Any:
    """The graphviz module, once both it and the ``dot`` program are known to be there."""
    try:
        module = importlib.import_module("graphviz")
    except ImportError as error:
        raise GraphvizMissing(PACKAGE_HINT) from error
    if shutil.which("dot") is None:
        raise GraphvizMissing(DOT_HINT)
    return module


def walk(root: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """Every node ``root`` depends on, and every (input, output) edge, without recursion.

    Args:
        root: the final node (a ``Value`` or a ``Tensor``).

    Returns:
        ``(nodes, edges)``: nodes in the order first reached from ``root``;
        one edge per input of each operation.
    """
    nodes: list[Any] = []
    edges: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        for child in node._prev:
            edges.append((child, node))
            stack.append(child)
    return nodes, edges


def _label(node: Any) -> str:
    """A record label: the value and gradient of a scalar, the shape and dtype of an array."""
    shape = getattr(node.data, "shape", None)
    if shape is None:  # a Value
        return f"{{ data {node.data:.4f} | grad {node.grad:.4f} }}"
    kind = f"{{ shape {tuple(shape)} | {node.data.dtype} }}"
    return kind if node.data.size != 1 else f"{{ {kind} | data {node.data.item():.4g} }}"


def draw_graph(root: Any, format: str = "svg", rankdir: str = "LR") -> graphviz.Digraph:
    """The computation graph that produced ``root``, as a ``graphviz.Digraph``.

    Each value is a box (data and grad for a ``Value``, shape and dtype for a
    ``Tensor``); each operation is an oval labelled with its ``_op``, with an
    arrow from every input. Leaves (inputs, parameters) are shaded.

    Args:
        root: the output node to draw the graph of.
        format: the output format used when rendering (``"svg"``, ``"png"``, ...).
        rankdir: the direction of the arrows: ``"LR"`` (left to right), ``"TB"``, ...

    Returns:
        The graph: Jupyter displays it; ``.render()`` writes a file, ``.source`` is the dot text.

    Raises:
        GraphvizMissing: the graphviz package or the ``dot`` program is not installed
            (the message says how to install it).
        ValueError: ``rankdir`` is not one of LR, RL, TB, BT.
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    gv = _graphviz()
    dot = gv.Digraph(format=format, graph_attr={"rankdir": rankdir})
    nodes, edges = walk(root)
    names = {id(node): f"n{i}" for i, node in enumerate(nodes)}
    for node in nodes:
        name = names[id(node)]
        style = {} if node._prev else {"style": "filled", "fillcolor": "lightgrey"}
        dot.node(name, label=_label(node), shape="record", **style)
        if node._prev:
            dot.node(f"{name}_op", label=node._op or "?", shape="oval")
            dot.edge(f"{name}_op", name)
    for child, parent in edges:
        dot.edge(names[id(child)], f"{names[id(parent)]}_op")
    return dot
