"""``raybot serve``: the HTTP API, under uvicorn or as a Ray Serve deployment."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from raybot.commands import handles_errors
from raybot.errors import UsageError


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                hint="pick another --port, or stop what is listening there",
                reference="port-in-use",
            ) from None


@handles_errors
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (keep 127.0.0.1 unless a proxy fronts it).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8765,
    ray_serve: Annotated[
        bool, typer.Option("--ray-serve", help="Deploy on a running Ray cluster with Ray Serve instead of uvicorn.")
    ] = False,
    address: Annotated[
        str | None, typer.Option("--address", envvar="RAY_ADDRESS", help="Ray cluster for --ray-serve (default: auto).")
    ] = None,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="Ray Serve replicas (--ray-serve).")] = 2,
    replica_cpus: Annotated[
        float, typer.Option("--replica-cpus", min=0.0, help="CPUs per replica (--ray-serve).")
    ] = 0.5,
    allow_diagnose: Annotated[
        bool,
        typer.Option(
            "--allow-diagnose",
            envvar="RAYBOT_ALLOW_DIAGNOSE",
            help="Enable POST /v1/diagnose (diagnoses the cluster the server runs on).",
        ),
    ] = False,
    max_body: Annotated[int, typer.Option("--max-body", min=1024, help="Largest request body in bytes.")] = 64 * 1024,
) -> None:
    """Serve the HTTP API: answers are `raybot ask --json` documents, threads `raybot threads show --json`.

    Endpoints: POST /v1/threads, POST /v1/threads/ID/messages, GET /v1/threads/ID,
    GET /v1/threads?q=..., POST /v1/feedback, POST /v1/diagnose (with --allow-diagnose),
    GET /healthz, and the OpenAPI document at /openapi.json.

    Examples:

      raybot serve --port 8765

      curl -s localhost:8765/v1/threads -d '{"question": "why is ray::IDLE using memory?"}'

      raybot serve --ray-serve --address 127.0.0.1:6379 --replicas 2    # or: serve run raybot.serve:app
    """
    import os

    from raybot.render import err_console

    if allow_diagnose:
        os.environ["RAYBOT_ALLOW_DIAGNOSE"] = "1"
    check_port_free(host, port)
    if ray_serve:
        from raybot.serve import run_on_ray

        err_console().print(f"deploying raybot on Ray Serve ({replicas} replicas) ...", highlight=False)
        url = run_on_ray(
            address=address,
            host=host,
            port=port,
            replicas=replicas,
            cpus=replica_cpus,
            allow_diagnose=allow_diagnose,
        )
        err_console().print(f"raybot is served by Ray Serve at {url} (OpenAPI: {url}/openapi.json); Ctrl-C stops it")
        import time

        from ray import serve as ray_serve_api

        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            ray_serve_api.delete("raybot")
        return

    import uvicorn

    from raybot.web import create_app

    app = create_app(allow_diagnose=allow_diagnose, max_body=max_body)
    err_console().print(
        f"raybot serving on http://{host}:{port} (OpenAPI: http://{host}:{port}/openapi.json); Ctrl-C stops it",
        highlight=False,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
