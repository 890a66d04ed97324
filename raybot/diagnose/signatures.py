"""The messages the log scan looks for: diagnose's own, and every kb entry's ``signatures:``.

Diagnose's own signatures feed its checks (OOM kills, workers that did not register, runtime_env
setup failures). Each was read in Ray 2.60.0: the C++ ones in the 2.60 raylet binary (its string
table holds the literal parts) with the line numbers that binary logs (``node_manager.cc:3517``),
the Python ones in the 2.60 wheel. A kb entry with the same signature text is linked to the
finding; kb signatures that diagnose does not know are scanned too and reported as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from raybot.kb import PLACEHOLDER_RE, Signature

_RAY = "https://github.com/ray-project/ray/blob/ray-2.60.0/"


@dataclass
class KnownSignature:
    signature: Signature
    topic: str | None = None  #: ``oom`` | ``worker-register`` | ``runtime-env``
    entries: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return normalize(self.signature.text)


BUILTIN: tuple[KnownSignature, ...] = (
    KnownSignature(
        Signature(
            "Killing {n} worker(s), kill details: {details}",
            _RAY + "src/ray/raylet/node_manager.cc#L3199",
            "raylet.out (INFO), each time the memory monitor kills",
        ),
        "oom",
        ["oom-killer"],
    ),
    KnownSignature(
        Signature(
            "{n} Workers (tasks / actors) killed due to memory pressure (OOM), {m} Workers crashed due to "
            "other reasons at node",
            _RAY + "src/ray/raylet/node_manager.cc#L3517",
            "raylet.out (ERROR), a periodic summary",
        ),
        "oom",
        ["oom-killer"],
    ),
    KnownSignature(
        Signature(
            "Some workers of the worker process({pid}) have not registered within the timeout.",
            _RAY + "src/ray/raylet/worker_pool.cc#L660",
            "raylet.out (ERROR), after worker_register_timeout_seconds (60 s by default)",
        ),
        "worker-register",
    ),
    KnownSignature(
        Signature(
            "runtime_env creation failed {n} times, giving up.",
            _RAY + "python/ray/_private/runtime_env/agent/runtime_env_agent.py#L587",
            "runtime_env_agent.log (ERROR)",
        ),
        "runtime-env",
    ),
    KnownSignature(
        Signature(
            "Failed to create runtime env {runtime_env}.",
            _RAY + "python/ray/_private/runtime_env/agent/runtime_env_agent.py#L568",
            "runtime_env_agent.log (ERROR), once per attempt",
        ),
        "runtime-env",
    ),
)


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def anchor(sig: Signature) -> str:
    """The longest literal word of a signature (lower case): a cheap pre-filter for the regex."""
    literal = PLACEHOLDER_RE.sub(" ", sig.text.replace("{{", "{").replace("}}", "}"))
    words = [w for w in literal.split() if w]
    return max(words, key=len).lower() if words else ""


def kb_signatures(kb_dir: Path) -> list[tuple[str, Signature]]:
    """``(entry id, signature)`` for every entry of ``kb_dir`` that has ``signatures:``.

    Only the front matter of files that mention ``signatures:`` is parsed (with libyaml when
    available), so this stays cheap as the knowledge base grows. Items that are not valid
    signatures are skipped: ``raybot kb lint`` reports them.
    """
    import yaml

    from raybot.kb import entry_paths

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = []
    try:
        paths = entry_paths(kb_dir)
    except OSError:
        return out
    for path in paths:
        try:
            with open(path, "rb") as f:
                head = f.read(65536)
        except OSError:
            continue
        end = head.find(b"\n---", 3)
        front = head[: end if end > 0 else None]
        if not head.startswith(b"---") or not re.search(rb"^signatures:", front, re.M):
            continue
        try:
            meta = yaml.load(front[3:].decode("utf-8", "replace"), Loader=loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("id"), str):
            continue
        for item in meta.get("signatures") or []:
            if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item.get("source"):
                continue
            sig = Signature(item["text"], str(item["source"]), str(item.get("where") or ""))
            if sig.literal_chars() >= 20:
                out.append((meta["id"], sig))
    return out


def all_signatures(kb_dir: Path | None) -> list[KnownSignature]:
    """Diagnose's own signatures, linked to kb entries with the same text, then the kb's others."""
    known = [KnownSignature(k.signature, k.topic, list(k.entries)) for k in BUILTIN]
    by_key = {k.key: k for k in known}
    if kb_dir is not None:
        for entry_id, sig in kb_signatures(kb_dir):
            k = by_key.get(normalize(sig.text))
            if k is None:
                k = KnownSignature(sig, None, [])
                by_key[k.key] = k
                known.append(k)
            if entry_id not in k.entries:
                k.entries.append(entry_id)
    return known


def scan_patterns(known: list[KnownSignature]) -> list[tuple[int, str, str]]:
    """What :func:`raybot.diagnose.logscan.scan_log_dirs` takes: ``(index, regex, anchor)``."""
    return [(i, k.signature.pattern().pattern, anchor(k.signature)) for i, k in enumerate(known)]
