"""Which GCS address to talk to: what the user typed, what Ray rewrote it to, and whether
anything answers there.
"""

from __future__ import annotations

import socket

from raybot.diagnose.collect.calls import describe_error
from raybot.errors import ClusterUnreachable, UsageError


def _split_host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(
            f"not a Ray address: {address!r}",
            reference="bad-address",
            hint="pass the GCS address as host:port, e.g. --address 10.0.0.5:6379",
        )
    return host.strip("[]"), int(port)


def check_host(host: str) -> None:
    """Refuse a host name no resolver can take (a label over 63 characters makes the idna codec
    raise UnicodeError deep inside ``socket``)."""
    name = host.strip("[]")
    if ":" in name:  # an IPv6 literal
        return
    labels = name.rstrip(".").split(".")
    if len(name) > 253 or any(len(lb) > 63 for lb in labels) or any(not lb for lb in labels):
        raise UsageError(
            f"not a valid host name: {host[:80]!r}" + ("..." if len(host) > 80 else ""),
            hint="host names have labels of 1-63 characters separated by dots; pass host:port, e.g. "
            "--address 10.0.0.5:6379",
            reference="bad-address",
        )
    try:
        name.encode("idna")
    except UnicodeError:
        raise UsageError(
            f"not a valid host name: {host[:80]!r}",
            hint="pass host:port, e.g. --address 10.0.0.5:6379",
            reference="bad-address",
        ) from None


def resolve_address(address: str | None, timeout: float) -> str:
    """The GCS address (host:port) to talk to, checked to accept connections.

    Raises :class:`ClusterUnreachable` (exit 3) when no cluster is there, :class:`UsageError`
    for an address raybot cannot use.
    """
    if address is not None:
        address = address.strip()
        if not address or address in ("auto", "local"):
            address = None
    typed = address
    if address is not None and "://" in address:
        scheme = address.split("://", 1)[0]
        raise UsageError(
            f"{scheme}:// addresses are not supported: raybot talks to the GCS directly",
            hint="pass the head's GCS address (host:port, default port 6379), the one `ray status --address` takes",
            reference="bad-address",
        )
    from ray._private import services

    if address is None:
        try:
            address = services.canonicalize_bootstrap_address_or_die(None)
        except ConnectionError as exc:
            msg = str(exc)
            if "multiple" in msg.lower():
                raise UsageError(
                    msg.split(". Please")[0],
                    hint="choose one with --address or RAY_ADDRESS",
                    reference="ambiguous-cluster",
                ) from None
            raise ClusterUnreachable(
                "no running Ray cluster found on this machine",
                hint="start one with `ray start --head`, or point raybot at one with --address "
                "HOST:PORT or RAY_ADDRESS",
            ) from None
    else:
        check_host(_split_host_port(address)[0])
        try:
            address = services.canonicalize_bootstrap_address(address) or address
        except ValueError as exc:
            raise UsageError(
                f"not a Ray address: {address!r} ({exc})",
                reference="bad-address",
                hint="pass the GCS address as host:port, e.g. --address 10.0.0.5:6379",
            ) from None
        except Exception as exc:  # noqa: BLE001 - e.g. unresolvable host name
            raise ClusterUnreachable(
                f"cannot resolve {address}: {describe_error(exc)}", hint="check the host name"
            ) from None
    host, port = _split_host_port(address)
    rewritten = ""
    if typed and typed != address:
        rewritten = f" (you gave {typed}; Ray's canonicalize_bootstrap_address rewrote it to {address})"
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 5.0)):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError) or isinstance(exc, socket.timeout):
            reason = f"no answer within {min(timeout, 5.0):g}s"
        raise ClusterUnreachable(
            f"no Ray cluster at {address}{rewritten}: {reason}",
            hint="is the head running (`ray start --head`)? Check the address (--address / "
            "RAY_ADDRESS) and the GCS port (default 6379)",
        ) from None
    return address


def enable_token_auth_if_available() -> bool | None:
    """Do what ``ray.init()`` does when it connects to an existing cluster: use the token in
    ``~/.ray/auth_token`` if ``RAY_AUTH_MODE`` is unset. Returns whether token auth is on."""
    import logging

    try:
        from ray._private.authentication import authentication_token_setup as ats
    except ImportError:  # older Ray: no token auth
        return None
    log = logging.getLogger(ats.__name__)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return ats.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    except Exception:  # noqa: BLE001
        return None
    finally:
        log.setLevel(level)
