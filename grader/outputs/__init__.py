"""What a batch writes into its results folder.

``results`` (grades.csv's rows, reading a batch back, writing everything), ``feedback``
(a page per learner), ``gradebook`` (nbgrader's gradebook.db), ``report`` (summary and
histogram), ``exports`` (Canvas and Moodle imports, late penalties), ``overrides``
(instructors' scores). Written from :mod:`grader.batch`'s records and the files a batch left;
never imports :mod:`grader.pipeline` (:mod:`grader.runs` runs both).
"""
