"""Running a batch: the stages of :mod:`grader.pipeline`, then the files of :mod:`grader.outputs`.

``autograde`` (a batch: keys, sandboxes in parallel, outputs), ``shard`` and ``merge`` (a
batch split across machines and joined), ``gradescope`` (the Gradescope autograder: one
learner's notebook graded and written as Gradescope's ``results.json``).
"""
