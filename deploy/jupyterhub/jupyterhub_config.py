"""MicroGrad+ on one server: JupyterHub, each learner's JupyterLab a local process.

    jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Run it as root from the environment that holds MicroGrad+ (the project's venv, or the
instructor image): each learner logs in with their system account (PAM) and gets a
JupyterLab running as that user, from this same environment, in their home folder. The
labs reach them through nbgrader's exchange (``nbgrader_config.py`` beside this file):
the instructor releases, learners fetch and submit from JupyterLab's Assignments panel,
the instructor collects and grades the collected folder with ``python -m grader
autograde``. Settings come from the environment:

- ``MGP_HUB_IP`` / ``MGP_HUB_PORT``: where the hub listens (``127.0.0.1:8000``; put a TLS
  reverse proxy in front of it rather than exposing it directly).
- ``MGP_HUB_API_PORT`` / ``MGP_PROXY_API_PORT``: the hub's and the proxy's internal ports.
- ``MGP_HUB_STATE``: the hub's database, cookie secret and proxy pid (``/srv/jupyterhub``).
- ``MGP_LEARNERS`` / ``MGP_INSTRUCTORS``: comma-separated user names allowed in (everyone
  with an account when unset) and the hub's admins.
- ``MGP_EXCHANGE`` / ``MGP_COURSE_ID``: nbgrader's exchange folder and course id.
- ``MGP_HUB_DUMMY_PASSWORD``: for a demo or a test only, every name logs in with this
  password and every JupyterLab runs as the hub's own user, homes under ``MGP_HUB_HOMES``.
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
if password:
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = password
    c.JupyterHub.spawner_class = "simple"
    homes = Path(env("MGP_HUB_HOMES", str(state / "homes")))
    c.SimpleLocalProcessSpawner.home_dir_template = str(homes / "{username}")
    if os.geteuid() == 0:
        c.Spawner.args = ["--allow-root"]
else:
    c.JupyterHub.authenticator_class = "pam"
    c.JupyterHub.spawner_class = "localprocess"

# Every JupyterLab from this environment (where MicroGrad+, JupyterLab and nbgrader live).
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "JUPYTER_CONFIG_PATH": str(here),  # nbgrader_config.py: the exchange and the course id
    "MGP_EXCHANGE": env("MGP_EXCHANGE", "/srv/nbgrader/exchange"),
    "MGP_COURSE_ID": env("MGP_COURSE_ID", "microgradplus"),
    "MGP_INSTRUCTORS": ",".join(sorted(instructors)),
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
