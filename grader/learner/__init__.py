"""Tools learners run: ``validate`` (a notebook's visible checks, as the grader runs them)
and ``assemble`` (labs 1.7.1-1.7.4's code collected into an engine of their own).
"""
