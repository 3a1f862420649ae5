"""MicroGrad+ grader: PyTorch-referenced checks and the instructor's tools.

In a notebook::

    from grader import check, checks
    check("lab2.relu.backward", relu)
    with checks():  # every check of the block reports; the block fails once at the end
        check("lab2.relu.forward")
        check("lab2.relu.backward")

The grader's layers, top to bottom. A module imports only from layers below its own; names
on one line (``|``) stand side by side and do not import each other; inside a package,
modules import their siblings by module (``from grader.sandbox.bwrap import ...``), never
through the package's ``__init__``. ``tests/test_structure.py`` reads this table and fails on
an import that goes up or sideways.

Layers:
    __main__                        ``python -m grader``
    cli                             the commands, one line each
    redteam                         tools that measure the grader: planted bugs, the
                                    adversarial corpus, the misconception measure
    assign | learner                releasing the labs | what learners run on their work
    runs                            a batch: the stages, then the outputs (autograde, shard,
                                    merge, the Gradescope runner)
    pipeline | outputs              the stages (discover, grade, score) | files written
                                    from the batch's records alone
    batch                           what stages and outputs share: Handin, TestCell, LabKey,
                                    LabResult
    sandbox                         the learner's program under bubblewrap
    grader                          this face: ``check`` and ``checks`` for a notebook
    checking                        what a check is, every lab's checks, misconceptions, the
                                    reference Tensor restored after in-process runs
    notebook | course               a notebook read as untrusted data | the course file
                                    (deadlines, roster, times)
    config | labs | cellsource | safetext | exchange
"""

from grader.checking.check import CheckFailed, check, checks

__all__ = ["CheckFailed", "check", "checks"]
