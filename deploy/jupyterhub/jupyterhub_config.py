"""MicroGrad+ on one server: JupyterHub, each learner's JupyterLab a local process.

    jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Run it as root from the instructor's environment (the project's venv, or the instructor
image). Each user logs in with their system account (PAM) and gets a JupyterLab running as
that account, in their home folder:

- a learner's from the learner environment, ``MGP_LEARNER_ENV`` (built by ``python -m grader
  learner-env --out DIR --python /usr/bin/python3``: ``micrograd_plus``, the visible checks,
  the MNIST sample and the released labs, never ``solutions/``, the hidden checks or the
  grading tools); the hub refuses to start without it;
- an instructor's (``MGP_INSTRUCTORS``) from this environment, where the grader lives.

Keep the course repository and the instructor's course folder private (mode 0700, or 0750
with the instructors' group): learners run as their own accounts and must not read them.

The labs reach learners through nbgrader's exchange (``nbgrader_config.py`` beside this
file, also copied into the learner environment): the instructor releases, learners fetch and
submit from JupyterLab's Assignments panel, the instructor collects and grades the collected
folder with ``python -m grader autograde``. Create the exchange first, as root: ``python -m
grader exchange-init EXCHANGE --course-id ID --owner INSTRUCTOR --group GROUP``. Each
learner's submission and feedback is then readable by that learner and the instructors only
(``grader/exchange.py``). Settings come from the environment:

- ``MGP_HUB_IP`` / ``MGP_HUB_PORT``: where the hub listens (``127.0.0.1:8000``; put a TLS
  reverse proxy in front of it rather than exposing it directly).
- ``MGP_HUB_API_PORT`` / ``MGP_PROXY_API_PORT``: the hub's and the proxy's internal ports.
- ``MGP_HUB_STATE``: the hub's database, cookie secret and proxy pid (``/srv/jupyterhub``).
- ``MGP_LEARNERS`` / ``MGP_INSTRUCTORS``: comma-separated user names allowed in (everyone
  with an account when unset) and the hub's admins.
- ``MGP_LEARNER_ENV``: the learner environment's folder (``OUT`` of ``learner-env``).
- ``MGP_EXCHANGE`` / ``MGP_COURSE_ID``: nbgrader's exchange folder and course id.
- ``MGP_HUB_DUMMY_PASSWORD``: for a demo or a test only, every name logs in with this
  password. A hub run as root then still starts each JupyterLab as the system account of
  that name; a hub run as another user starts every JupyterLab as that user, homes under
  ``MGP_HUB_HOMES``. ``MGP_HUB_TEST_ONLY_LEARNERS_AS_ROOT=1`` lets a root hub run them as
  root instead: every learner then has a root shell on the host, so only a test may set it.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub when it reads this file)

env = os.environ.get
here = Path(__file__).resolve().parent
state = Path(env("MGP_HUB_STATE", "/srv/jupyterhub"))
state.mkdir(parents=True, exist_ok=True)

c.JupyterHub.ip = env("MGP_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("MGP_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("MGP_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('MGP_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True

learners = {name for name in env("MGP_LEARNERS", "").split(",") if name}
instructors = {name for name in env("MGP_INSTRUCTORS", "").split(",") if name}
c.Authenticator.admin_users = instructors
if learners:
    c.Authenticator.allowed_users = learners | instructors
else:
    c.Authenticator.allow_all = True

password = env("MGP_HUB_DUMMY_PASSWORD")
as_root = env("MGP_HUB_TEST_ONLY_LEARNERS_AS_ROOT") == "1"
if password:
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = password
    if os.geteuid() != 0 or as_root:
        # Every JupyterLab as the hub's own user: a demo, or (as root) a test only.
        c.JupyterHub.spawner_class = "simple"
        homes = Path(env("MGP_HUB_HOMES", str(state / "homes")))
        c.SimpleLocalProcessSpawner.home_dir_template = str(homes / "{username}")
        if os.geteuid() == 0:
            print("MGP_HUB_TEST_ONLY_LEARNERS_AS_ROOT: every learner runs as root (tests only)")
            c.Spawner.args = ["--allow-root"]
    else:
        c.JupyterHub.spawner_class = "localprocess"  # each name's own system account
else:
    c.JupyterHub.authenticator_class = "pam"
    c.JupyterHub.spawner_class = "localprocess"

# A learner's JupyterLab from the learner environment, an instructor's from this one.
learner_env = Path(env("MGP_LEARNER_ENV", "")) if env("MGP_LEARNER_ENV") else None
if learner_env is None or not (learner_env / "venv" / "bin" / "jupyterhub-singleuser").exists():
    raise SystemExit(
        "MGP_LEARNER_ENV must name a learner environment (python -m grader learner-env): "
        "learners must not run from the instructor's environment, which holds the answers"
    )
instructor_cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
learner_bin = learner_env / "venv" / "bin"
c.Spawner.cmd = [str(learner_bin / "jupyterhub-singleuser")]


def choose_environment(spawner):
    """An instructor's server from the instructor's environment, a learner's from theirs."""
    if spawner.user.name in instructors:
        spawner.cmd = instructor_cmd
        spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": str(here)}
    else:
        spawner.cmd = [str(learner_bin / "jupyterhub-singleuser")]
        spawner.environment = {
            **spawner.environment,
            "PATH": f"{learner_bin}:/usr/local/bin:/usr/bin:/bin",
            "VIRTUAL_ENV": str(learner_env / "venv"),
            "JUPYTER_CONFIG_PATH": str(learner_env / "course" / "jupyter"),
        }


c.Spawner.pre_spawn_hook = choose_environment
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "MGP_EXCHANGE": env("MGP_EXCHANGE", "/srv/nbgrader/exchange"),
    "MGP_COURSE_ID": env("MGP_COURSE_ID", "microgradplus"),
    "MGP_INSTRUCTORS": ",".join(sorted(instructors)),
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
