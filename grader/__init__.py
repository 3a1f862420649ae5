"""MicroGrad+ grader: PyTorch-referenced checks and the instructor's tools.

In a notebook::

    from grader import check, checks
    check("lab2.relu.backward", relu)
    with checks():  # every check of the block reports; the block fails once at the end
        check("lab2.relu.forward")
        check("lab2.relu.backward")
"""

from grader.checking.check import CheckFailed, check, checks

__all__ = ["CheckFailed", "check", "checks"]
