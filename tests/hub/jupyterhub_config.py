"""The hub the tests start (tests/hub_process.py): a real JupyterHub with configurable-http-proxy (from
./node_modules, which `make setup` installs), the dummy authenticator and single-user servers as local
processes of this checkout's venv, everything on 127.0.0.1. Ports, paths and tokens come from the environment.
"""

import json
import os

env = os.environ
state = env["HUB_STATE_DIR"]
c = get_config()  # noqa: F821 (given by JupyterHub)

c.JupyterHub.ip, c.JupyterHub.port = "127.0.0.1", int(env["HUB_PUBLIC_PORT"])
c.JupyterHub.hub_ip, c.JupyterHub.hub_port = "127.0.0.1", int(env["HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [env["HUB_PROXY_COMMAND"]]
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"

c.JupyterHub.authenticator_class = "dummy"  # any password
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"  # SimpleLocalProcessSpawner: every user is this OS user
c.SimpleLocalProcessSpawner.home_dir_template = f"{state}/home/{{username}}"
c.Spawner.cmd = [env["HUB_SINGLEUSER"]]
c.Spawner.args = ["--allow-root", *json.loads(env.get("HUB_SINGLEUSER_ARGS", "[]"))]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = c.Spawner.http_timeout = 180  # two busy cores
# The single-user server tells the hub its activity every second (default: 5 minutes).
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": "1"}

c.JupyterHub.services = [{"name": "tester", "api_token": env["HUB_TEST_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "tester", "services": ["tester"],
                            "scopes": ["admin:users", "admin:servers", "tokens"]}]
