"""The user's own head address in the commands an answer shows.

Entries write commands with placeholders (``ray start --address=<head-ip>:6379``). When the
question says where the head runs ("ray start --head --port 4896 on 172.16.14.76", "ray.init
(address='10.0.0.5:6380')"), the answer shows the user's address instead, and says it did. Only
what the question states clearly is used: two different head IPs or ports, and nothing is filled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from raybot.lazyre import lazy

_IP = r"(?:\d{1,3}\.){3}\d{1,3}"
#: Ports of other services on the head (dashboard, Ray Client server, dashboard agent, metrics):
#: an address with one of these is not the GCS address ``ray start --address`` wants.
_NOT_GCS = {8265, 10001, 52365, 8080, 3000, 9090, 443, 80}
_ADDRESS_FLAG = lazy(rf"--address(?:=|\s+)['\"]?(?P<ip>{_IP})(?::(?P<port>\d{{2,5}}))?\b")
_ADDRESS_KWARG = lazy(rf"address\s*=\s*['\"](?P<client>ray://)?(?P<ip>{_IP})(?::(?P<port>\d{{2,5}}))?")
_HEAD_PORT = lazy(
    r"--head\b[^\n]{0,60}?--port(?:=|\s+)(?P<port>\d{2,5})\b|--port(?:=|\s+)(?P<port2>\d{2,5})\b[^\n]{0,60}?--head\b"
)
_HEAD_FLAG = lazy(r"--head\b")
_HEAD_FLAG_ON = lazy(
    rf"--head\b[^\n]{{0,40}}?\bon (?:(?:the |a |my )?(?:host|server|machine|node|box|vm) )?(?P<ip>{_IP})\b"
)
_HEAD_WORD = lazy(rf"\bhead(?:[ -]node)?(?:'s)?(?: (?:ip|address|is|at|on|runs on|=|:))*\s*(?P<ip>{_IP})\b", re.I)


@dataclass(frozen=True)
class HeadAddress:
    ip: str | None
    port: int | None

    def __bool__(self) -> bool:
        return self.ip is not None or self.port is not None

    def describe(self) -> str:
        parts = []
        if self.ip:
            parts.append(f"head node `{self.ip}`")
        if self.port:
            parts.append(f"GCS port `{self.port}`")
        return " and ".join(parts)


def _routable(ip: str) -> bool:
    octets = [int(o) for o in ip.split(".")]
    return all(o <= 255 for o in octets) and octets[0] not in (0, 127) and ip != "255.255.255.255"


def head_address(text: str) -> HeadAddress:
    """The head's IP and GCS port as the question states them (None where unclear)."""
    ips: set[str] = set()
    ports: set[int] = set()
    for m in _ADDRESS_FLAG.finditer(text):
        ips.add(m["ip"])
        if m["port"] and int(m["port"]) not in _NOT_GCS:
            ports.add(int(m["port"]))
    for m in _ADDRESS_KWARG.finditer(text):
        ips.add(m["ip"])
        if m["port"] and not m["client"] and int(m["port"]) not in _NOT_GCS:
            ports.add(int(m["port"]))
    for m in _HEAD_PORT.finditer(text):
        ports.add(int(m["port"] or m["port2"]))
    for m in _HEAD_FLAG.finditer(text):
        # "on server 172.16.14.76 with ray start --head": the nearest IP before the flag.
        before = list(re.finditer(_IP, text[max(0, m.start() - 60) : m.start()]))
        if before:
            ips.add(before[-1].group(0))
    for m in _HEAD_FLAG_ON.finditer(text):
        ips.add(m["ip"])  # "ray start --head --port 6390 on 10.9.8.7"
    for m in _HEAD_WORD.finditer(text):
        ips.add(m["ip"])
    ips = {ip for ip in ips if _routable(ip)}
    ports = {p for p in ports if 1 <= p <= 65535}
    return HeadAddress(
        next(iter(ips)) if len(ips) == 1 else None,
        next(iter(ports)) if len(ports) == 1 else None,
    )


_HEAD_HOSTS = r"<head-ip>|<head_ip>|<HEAD_HOST_IP>|<ip>|<node-ip>|<host>"
_GCS_SPOT = lazy(rf"(?P<host>{_HEAD_HOSTS}):(?:6379|<port>)(?!\d)")
_HEAD_SPOT = lazy(r"<head-ip>|<head_ip>|<HEAD_HOST_IP>")
#: Ports only the head serves (GCS, dashboard, Ray Client server): an ``<ip>``-style placeholder
#: before one of them is the head's.
_HEAD_PORTS = (6379, 8265, 10001)


def _port_spot(port: int | None) -> re.Pattern[str]:
    ports = "|".join(str(p) for p in (*_HEAD_PORTS, *((port,) if port else ())))
    return re.compile(rf"(?:<ip>|<node-ip>|<host>)(?=:(?:{ports})(?!\d))")


def fill(markdown: str, head: HeadAddress) -> str:
    """``markdown`` with the head placeholders of its commands replaced by ``head``."""
    if not head:
        return markdown
    if head.port is not None:
        markdown = _GCS_SPOT.sub(lambda m: f"{m['host']}:{head.port}", markdown)
        markdown = markdown.replace("<gcs-port>", str(head.port))
        if head.ip is not None:
            markdown = markdown.replace("<gcs-address>", f"{head.ip}:{head.port}")
    if head.ip is not None:
        markdown = _HEAD_SPOT.sub(head.ip, markdown)
        markdown = _port_spot(head.port).sub(head.ip, markdown)
    return markdown


def personalize(markdown: str, question: str) -> str:
    """``markdown`` with the question's head address in its commands, and one line saying so
    under the first paragraph of the answer; unchanged when the question names no head or the
    answer has no placeholder to fill."""
    head = head_address(question)
    filled = fill(markdown, head)
    if filled == markdown:
        return markdown
    parts = filled.split("\n\n")
    at = next((i + 2 for i, p in enumerate(parts) if p.startswith("### ")), 1)
    parts.insert(min(at, len(parts)), f"*Filled in from your question: {head.describe()}.*")
    return "\n\n".join(parts)
