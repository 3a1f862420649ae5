"""nbgrader settings of the instructor image (installed by ``docker/install.sh role instructor``).

formgrader works on an nbgrader course folder. The entrypoint lays one out in
``$MGP_HOME/build/course``: ``source/<assignment>/<notebook>`` links to each source
notebook in ``solutions/``, so formgrader lists the labs. Grading itself goes through
``python -m grader autograde``, whose ``OUT/gradebook.db`` formgrader can also open
(set ``CourseDirectory.db_url`` to it).
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)

home = os.environ.get("MGP_HOME", "/opt/microgradplus")
c.CourseDirectory.root = os.environ.get("MGP_COURSE", os.path.join(home, "build", "course"))
