"""Releasing the labs: ``release`` (solutions/ -> labs/ through nbgrader), ``sourcecheck``
(a source notebook's checks, points and secrets validated), ``learner_tree`` (the one
definition of what a learner gets), ``bundle`` (a learner's zip) and ``learner_env`` (the
hub's learner environment).
"""
