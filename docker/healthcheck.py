"""Container health: is JupyterLab answering ``/api/status`` with our token?

Exit status 0 when it answers 200 with its status JSON, 1 otherwise. The token is
``JUPYTER_TOKEN`` or, when the entrypoint made one, the file it wrote it to.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path


def token() -> str:
    """The server's token: the environment's, else the one the entrypoint generated."""
    if os.environ.get("JUPYTER_TOKEN"):
        return os.environ["JUPYTER_TOKEN"]
    state = Path(os.environ.get("MGP_STATE", Path.home() / ".microgradplus"))
    path = state / "jupyter-token"
    return path.read_text().strip() if path.is_file() else ""


def main() -> int:
    port = os.environ.get("MGP_PORT", "8888")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token()}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            status = json.load(response)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}")
        return 1
    print(f"healthy: started {status.get('started')}, {status.get('kernels', 0)} kernel(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
