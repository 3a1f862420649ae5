"""Why a learner's class lost what earlier cells gave it: a ``class`` cell that ran again.

:func:`missing_methods` finds methods attached by later cells to the class's older version;
:func:`stale_bases` finds a class built on an older version of its base class. Both name the
cell to re-run from, so a re-run class cell gives one message instead of many failures.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from grader.checking.spec import Spec


def missing_methods(spec: Spec, objs: tuple[Any, ...]) -> str:
    """Why a learner class lacks methods that earlier cells attached, or ``""``.

    A lab's spec module may list, in notebook order, ``ATTACHED = [(task, class name,
    attribute names, check topics), ...]`` and ``DEFINED = {class name: task}``. Running a
    ``class`` cell again makes a new class without what later cells attached to the old one.
    """
    try:
        module = importlib.import_module(f"grader.checking.specs.{spec.lab}")
    except ModuleNotFoundError:
        return ""
    attached = getattr(module, "ATTACHED", ())
    defined: Mapping[str, str] = getattr(module, "DEFINED", {})
    parts = spec.id.split(".")[1:]
    topics = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    upto = next((i for i, entry in enumerate(attached) if topics & set(entry[3])), None)
    if upto is None:
        return ""
    for cls_name, task in defined.items():
        # the class itself, or a learner class built on it (Linear on Module)
        found = [
            c
            for obj in objs
            if isinstance(obj, type)
            for c in obj.__mro__
            if c.__name__ == cls_name
        ]
        if not found:
            continue
        cls = found[0]
        lost = [
            (name, where)
            for where, owner, names, _ in attached[: upto + 1]
            if owner == cls_name
            for name in names
            if not any(name in c.__dict__ for c in cls.__mro__)
        ]
        if lost:
            names = ", ".join(name for name, _ in lost)
            tasks = ", ".join(dict.fromkeys(where for _, where in lost))
            return (
                f"your {cls_name} has no {names} (attached in {tasks}): the `class {cls_name}` "
                f"cell ({task}) ran again after those cells, and a class cell makes a new class "
                f"without them. Re-run the cells after {task}, down to this one"
            )
    return ""


def stale_bases(spec: Spec, objs: tuple[Any, ...], namespace: Mapping[str, Any]) -> str:
    """Why a learner class is built on an older version of a class defined anew, or ``""``.

    ``class Sequential(Module)`` made before the ``class Module`` cell ran again keeps the
    old ``Module`` as its base, while the methods it inherits look for the new one.
    """
    try:
        module = importlib.import_module(f"grader.checking.specs.{spec.lab}")
    except ModuleNotFoundError:
        return ""
    defined: Mapping[str, str] = getattr(module, "DEFINED", {})
    for obj in objs:
        for base in obj.__mro__[1:] if isinstance(obj, type) else ():
            current = namespace.get(base.__name__)
            if base.__name__ in defined and isinstance(current, type) and current is not base:
                task = defined[base.__name__]
                return (
                    f"your {obj.__name__} is built on an earlier {base.__name__}: the `class "
                    f"{base.__name__}` cell ({task}) ran again after the `class {obj.__name__}` "
                    f"cell. Re-run the cells after {task}, down to this one"
                )
    return ""
