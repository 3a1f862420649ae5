"""Hidden checks (extra shapes and edge cases), one module per lab.

Left out of the learner bundle and the learner container.
"""
