"""The trust boundary: learner code runs here, and only data comes back.

- :mod:`grader.sandbox.site` builds what the learner's code may import;
- :mod:`grader.sandbox.bwrap` builds the bubblewrap sandbox around it;
- :mod:`grader.sandbox.runner` runs inside: the learner's cells, then the checks'
  learner sides, phase by phase;
- :mod:`grader.sandbox.boot` starts it: its folder, its process, its pipe;
- :mod:`grader.sandbox.spares` starts the next notebooks' sandboxes while one runs;
- :mod:`grader.sandbox.launch` gives it its job, feeds it and stops it;
- :mod:`grader.sandbox.results` reads back what it produced, believing each report
  only in its own phase.
"""

from grader.sandbox.boot import full_isolation_available, isolation_problem, sandbox_binary
from grader.sandbox.launch import Job, run
from grader.sandbox.results import CellRun, RunResult, SandboxSetupError, SpecRun
from grader.sandbox.site import allowed_mgp_modules, build_site

__all__ = [
    "CellRun",
    "Job",
    "RunResult",
    "SandboxSetupError",
    "SpecRun",
    "allowed_mgp_modules",
    "build_site",
    "full_isolation_available",
    "isolation_problem",
    "run",
    "sandbox_binary",
]
