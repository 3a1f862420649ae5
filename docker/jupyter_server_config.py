"""JupyterLab settings for the MicroGrad+ containers (read by ``jupyter lab --config=...``).

Listens on ``MGP_IP:MGP_PORT`` (0.0.0.0:8888), serves the work folder ``MGP_WORK``
and opens on its ``labs/`` folder. The token comes from ``JUPYTER_TOKEN``, which the
entrypoint always sets (a random one unless you give your own); without it Jupyter
makes a random one itself, so the server never runs without a token.
"""

import os

c = get_config()  # noqa: F821  (provided by Jupyter when it reads this file)

work = os.environ.get("MGP_WORK", "/workspace/microgradplus")
c.ServerApp.ip = os.environ.get("MGP_IP", "0.0.0.0")
c.ServerApp.port = int(os.environ.get("MGP_PORT", "8888"))
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.root_dir = work
c.LabApp.default_url = "/lab/tree/labs"
c.ServerApp.allow_remote_access = True
# The images run as a non-root user; this only matters for `docker run --user root`.
c.ServerApp.allow_root = True
