"""nbgrader's exchange for MicroGrad+ on JupyterHub: one course, one shared exchange folder.

Read by every learner's JupyterLab (the Assignments panel: fetch, submit; the learner
environment carries a copy) and by the instructor's ``nbgrader release_assignment`` /
``collect`` / ``release_feedback``. The exchange folder is shared by everyone's servers (on
Kubernetes a ReadWriteMany volume mounted at the same path in every pod) and created by
``python -m grader exchange-init`` (the root 1777, ``inbound`` 3733 in the instructors'
group, ``feedback`` 0711). Grading does not use nbgrader: ``python -m grader autograde``
grades the collected ``submitted/`` folder (or the exchange's ``inbound``).
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)

c.CourseDirectory.course_id = os.environ.get("MGP_COURSE_ID", "microgradplus")
c.Exchange.root = os.environ.get("MGP_EXCHANGE", "/srv/nbgrader/exchange")

# nbgrader names a submission after the process's system user, and after the hub's user only
# when that is "jovyan". Learners' servers on one system account (the learner image's
# `learner`, a demo hub's local processes) would all submit as that account: name each
# submission after the JupyterHub user instead. Instructors (MGP_INSTRUCTORS) keep "*", so
# their `nbgrader collect` collects everyone.
hub_user = os.environ.get("JUPYTERHUB_USER", "")
instructors = {name for name in os.environ.get("MGP_INSTRUCTORS", "").split(",") if name}
if hub_user and hub_user not in instructors:
    c.CourseDirectory.student_id = hub_user

# Each learner's submission and feedback readable by that learner and the instructors only
# (grader/exchange.py; the exchange made by `python -m grader exchange-init`).
c.ExchangeFactory.submit = "grader.exchange.PrivateSubmit"
c.ExchangeFactory.release_feedback = "grader.exchange.PrivateReleaseFeedback"
c.ExchangeFactory.collect = "grader.exchange.PrivateCollect"
