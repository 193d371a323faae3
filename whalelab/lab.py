"""``make lab``: JupyterLab whose Ctrl-C stops the server at once, as SIGTERM does.

JupyterLab answers a Ctrl-C from a terminal by asking in a thread of its own, which then
stops the server while its loop still runs: with ``-y`` that ended in ``OSError: [Errno 9]
Bad file descriptor`` in one run of three here. JupyterHub's answer is followed: the
handler becomes the server's own stop on signal, run on the main thread, which shuts the
kernels and extensions down and logs each step. ``python -m whalelab.lab ARGS`` takes
``jupyter lab``'s arguments.
"""

from __future__ import annotations

from jupyter_server.serverapp import ServerApp
from jupyterlab.labapp import LabApp

ServerApp._handle_sigint = ServerApp._signal_stop  # the hook JupyterHub replaces likewise

if __name__ == "__main__":
    LabApp.launch_instance()
