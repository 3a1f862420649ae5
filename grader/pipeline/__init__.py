"""Autograding a batch, stage by stage.

``discover`` (who handed in what, in any LMS ``layouts``; zips via ``unpack``; due dates
from ``course``) -> ``grading`` (one notebook through :data:`~grader.pipeline.grading.STAGES`:
read, match test cells (``scoring``), ``integrity`` scan, sandbox, judge, score) ->
``autograde`` (the batch: keys, sandboxes in parallel, outputs), with ``shard`` and
``merge`` to split a batch across machines.
"""
