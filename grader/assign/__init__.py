"""Releasing the labs: ``release`` (solutions/ -> labs/ through nbgrader), ``sourcecheck``
(a source notebook's checks, points and secrets validated), ``bundle`` (a learner's zip).
"""
