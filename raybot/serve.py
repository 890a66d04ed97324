"""raybot's HTTP API as a Ray Serve application: ``serve run raybot.serve:app``.

The deployment wraps the same ASGI app as ``raybot serve`` (:func:`raybot.web.create_app`),
built inside each replica, so each replica loads the index and the model once. All replicas
share one thread store: SQLite in WAL mode at ``$RAYBOT_HOME/threads.db``.

**One node for the store.** SQLite's WAL mode needs every process that opens the file on the
same machine (it shares memory between them, and it does not work over a network filesystem).
So replicas are pinned to the head node (the ``node:__internal_head__`` resource Ray gives the
head node), and ``RAYBOT_HOME`` is fixed to the driver's absolute path. Ray Serve's proxies on
other nodes still route requests to them. Spreading replicas across nodes would need a store
with its own server, which raybot does not have.

Options for ``serve run raybot.serve:build_app replicas=3 cpus=0.5 allow_diagnose=1`` (the
builder), or the environment for ``serve run raybot.serve:app``: ``RAYBOT_REPLICAS`` (2),
``RAYBOT_REPLICA_CPUS`` (0.5), ``RAYBOT_ALLOW_DIAGNOSE`` (off).
"""

from __future__ import annotations

import os
from typing import Any

#: Forwarded to the replicas, so that they read the same kb/index and write the same store.
FORWARDED_ENV = ("RAYBOT_KB", "RAYBOT_INDEX", "RAYBOT_MODEL", "RAYBOT_ALLOW_DIAGNOSE", "OPENBLAS_NUM_THREADS")
HEAD_NODE_RESOURCE = "node:__internal_head__"  # ray._common.constants.HEAD_NODE_RESOURCE_NAME


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _asgi_app():
    """Built in each replica at start-up (``serve.ingress`` with a builder)."""
    from raybot.web import create_app

    return create_app()


def build_app(args: dict[str, Any] | None = None):
    """The Ray Serve application (an application builder for ``serve run``)."""
    from ray import serve

    from raybot import paths

    args = dict(args or {})
    replicas = int(args.get("replicas", os.environ.get("RAYBOT_REPLICAS", 2)))
    cpus = float(args.get("cpus", os.environ.get("RAYBOT_REPLICA_CPUS", 0.5)))
    allow_diagnose = _truthy(args.get("allow_diagnose", os.environ.get("RAYBOT_ALLOW_DIAGNOSE", "0")))
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["RAYBOT_HOME"] = str(paths.home().resolve())
    env["RAYBOT_ALLOW_DIAGNOSE"] = "1" if allow_diagnose else "0"

    @serve.deployment(
        name="raybot",
        num_replicas=replicas,
        ray_actor_options={
            "num_cpus": cpus,
            "resources": {HEAD_NODE_RESOURCE: 0.001},
            "runtime_env": {"env_vars": env},
        },
    )
    @serve.ingress(_asgi_app)
    class Raybot:
        def __init__(self):
            from raybot.service import get_service

            get_service().warm()  # the index and model, once per replica

    return Raybot.bind()  # type: ignore[attr-defined]  # serve.deployment returns a Deployment; its stub is the class


def __getattr__(name: str):
    # ``serve run raybot.serve:app`` reads this attribute; building it imports Ray, so it is built
    # on first access rather than when the module is imported.
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_on_ray(
    *,
    address: str | None,
    host: str,
    port: int,
    replicas: int,
    cpus: float,
    allow_diagnose: bool,
) -> str:
    """``raybot serve --ray-serve``: connect to a cluster, start Serve's HTTP proxy on ``host:port``
    and deploy the app (without waiting for it). Returns the base URL."""
    import ray
    from ray import serve

    ray.init(address=address or "auto", namespace="raybot", log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    app = build_app({"replicas": replicas, "cpus": cpus, "allow_diagnose": allow_diagnose})
    serve.run(app, name="raybot", route_prefix="/", blocking=False)
    return f"http://{host}:{port}"
