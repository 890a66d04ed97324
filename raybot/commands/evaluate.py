"""``raybot eval`` and ``raybot bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from raybot.commands import handles_errors


@handles_errors
def eval_(
    file: Annotated[Path, typer.Argument(help="JSONL of {question, expected: [entry ids]}; [] = out of scope.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    show_misses: Annotated[bool, typer.Option("--misses", help="List the questions that missed.")] = False,
) -> None:
    """Score retrieval on a question set: hit@1, hit@3, MRR, abstention accuracy.

    Examples:

      raybot eval tests/data/dev_questions.jsonl --misses
    """
    from raybot.assistant import Assistant
    from raybot.evaluate import evaluate, load_cases
    from raybot.render import console, plain_text, print_json, render_notes

    notes: list[str] = []
    cases = load_cases(file, notes)
    render_notes(notes)
    result = evaluate(cases, Assistant(store=None))
    if json_:
        print_json(result.to_dict())
        return
    con = console()
    con.print(
        f"{result.n} questions ({result.in_scope_n} in scope, {result.out_scope_n} out of scope)\n"
        f"hit@1 {result.hit_at_1:.3f}  hit@3 {result.hit_at_3:.3f}  MRR {result.mrr:.3f}  "
        f"abstention accuracy {result.abstention_accuracy:.3f}",
        highlight=False,
    )
    if show_misses:
        for m in result.misses:
            con.print(
                plain_text(
                    f"  line {m['line']}: expected {m['expected']} got {m['got']} "
                    f"in_scope={m['in_scope']} conf={m['confidence']}: {m['question']}"
                ),
                highlight=False,
            )


@handles_errors
def bench(
    file: Annotated[
        Path | None, typer.Argument(help="Question set for warm latency (default: the shipped dev set).")
    ] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Cold runs to take the median of.")] = 5,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Measure cold `raybot ask` against `python -c "import numpy, faiss"`, peak RSS, warm latency.

    Examples:

      raybot bench --runs 5
    """
    import os
    import tempfile

    from raybot import paths, settings
    from raybot.assistant import Assistant
    from raybot.errors import UsageError
    from raybot.evaluate import bench as run_bench
    from raybot.evaluate import load_cases
    from raybot.render import console, print_json, render_notes

    path = file or paths.dev_questions()
    if not path.is_file():
        raise UsageError(f"no question set at {path}", hint="pass a JSONL file", reference="bad-input")
    notes: list[str] = []
    cases = load_cases(path, notes)
    render_notes(notes)
    # The cold runs are real `raybot ask` processes: they get a temporary home, so the benchmark's
    # questions never become threads in the user's store (and `ask -c` never continues one).
    with tempfile.TemporaryDirectory(prefix="raybot-bench-") as home:
        env = {**os.environ, **settings.current().as_env(), "RAYBOT_HOME": home}
        figures = run_bench(cases, Assistant(store=None), cold_runs=runs, env=env)
    if json_:
        print_json(figures)
        return
    for k, v in figures.items():
        console().print(f"{k:32} {v}", highlight=False)
