"""MicroGrad+ grader: PyTorch-referenced checks and the instructor's tools.

In a notebook::

    from grader import check
    check("lab2.relu.backward", relu)
"""

from grader.check import CheckFailed, check

__all__ = ["CheckFailed", "check"]
