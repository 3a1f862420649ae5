"""What a check is, and every lab's checks.

``spec`` (the :class:`~grader.checking.spec.Spec` format and registry), ``check``
(``check()`` and ``checks()`` in a notebook), ``outcome`` (judging and reporting),
``compare`` (element-wise tables), ``numpy_side`` and ``torch_side`` (the learner's and
PyTorch's side of an expression check), ``specs/`` (visible checks, one table per lab),
``hidden/`` (hidden checks), ``misconceptions/`` (wrong references that name a mistake).
"""
