"""MicroGrad+: a small autograd engine on numpy, built lab by lab.

Reference code, one module per lab (a module never imports a later lab's):

========  ==========================  ===============================
Lab       Topic                       Module
========  ==========================  ===============================
intro     scalar autograd quickstart  :mod:`micrograd_plus.value`
1.7.1     core tensor                 :mod:`micrograd_plus.tensor`
1.7.2     operations                  :mod:`micrograd_plus.ops`
1.7.3     layers                      :mod:`micrograd_plus.nn`
1.7.4     optimizers                  :mod:`micrograd_plus.optim`
1.7.5     data and training           :mod:`micrograd_plus.data`, :mod:`micrograd_plus.train`
========  ==========================  ===============================

This package imports none of them eagerly, so ``import micrograd_plus``
works in a learner bundle that leaves out the labs still to be written. Which module
belongs to which lab is kept in one table, :data:`grader.labs.LABS`.
"""

__version__ = "1.7.0"
