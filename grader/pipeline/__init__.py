"""Autograding a batch, stage by stage.

``discover`` (who handed in what, in any LMS ``layouts``; zips via ``unpack``; due dates
from :mod:`grader.course`) -> ``grading`` (one notebook through
:data:`~grader.pipeline.grading.STAGES`: read, match test cells (``scoring``), ``integrity``
scan, sandbox, judge, score). The stages make :mod:`grader.batch`'s records and never import
:mod:`grader.outputs`; :mod:`grader.runs` runs them for a batch and then writes the outputs.
"""
