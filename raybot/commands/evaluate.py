"""``raybot eval`` and ``raybot bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from raybot.commands import handles_errors


@handles_errors
def eval_(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL of {question, expected} (curated set) or of labelled real questions "
            "{id, split, question, label, expected, facts} (tests/data/real_questions.jsonl)."
        ),
    ],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    show_misses: Annotated[
        bool,
        typer.Option("--misses", help="List the questions that missed (real sets: dev and calib, never held-out)."),
    ] = False,
) -> None:
    """Score answers on a question set.

    A curated set gets hit@1, hit@3, MRR and abstention accuracy. A labelled real-question set
    gets, per split (dev / calib / heldout): correct, declined (answerable vs not), confidently
    wrong, hit@1, a per-theme table and a calibration table (confidence bins -> measured accuracy).
    Held-out questions are reported as numbers only, never one by one.

    Examples:

      raybot eval tests/data/dev_questions.jsonl --misses

      raybot eval tests/data/real_questions.jsonl
    """
    from raybot.assistant import Assistant
    from raybot.evaluate import REAL_SPLITS, evaluate, is_real_set, load_cases, load_real, misses, report, run_real
    from raybot.render import console, plain_text, print_json, render_notes

    if is_real_set(file):
        real_notes: list[str] = []
        real_cases = load_real(file, real_notes)
        render_notes(real_notes)
        graded = run_real(real_cases, Assistant(store=None))
        splits = [s for s in REAL_SPLITS if any(g.case.split == s for g in graded)]
        reports = {s: report(graded, s) for s in splits}
        missed = misses(graded)
        if json_:
            data: dict = {"splits": {s: r.to_dict() for s, r in reports.items()}}
            if show_misses:
                data["misses"] = missed  # dev and calib rows, each with its split
                data["dev_misses"] = [m for m in missed if m["split"] == "dev"]
            print_json(data)
            return
        _print_real(reports, missed if show_misses else [])
        return
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


def _print_real(reports, misses) -> None:
    from raybot.render import console, plain_text

    con = console()
    for split, r in reports.items():
        con.print(
            f"[bold]{split}[/]: {r.n} questions ({r.answerable} answerable, {r.no_entry} without a kb entry yet, "
            f"{r.out_of_scope} out of scope)\n"
            f"  correct {r.correct}/{r.answerable} ({r.correct_rate:.1%} of answerable)  "
            f"confidently wrong {r.wrong} ({r.wrong_rate:.1%} of all)  hit@1 {r.hit_at_1:.3f}  "
            f"entry right before the bar {r.top_right}/{r.answerable}\n"
            f"  declined: {r.declined_answerable} answerable, {r.declined_no_entry} without an entry, "
            f"{r.declined_out_of_scope} out of scope\n"
            f"  opened with the not-sure line: {r.wrong_hedged} of the {r.wrong} wrong, "
            f"{r.correct_hedged} of the {r.correct} correct",
            highlight=False,
        )
        for name, b in r.batches.items():
            con.print(
                # One line at 80 columns: correct / confidently wrong / declined answerable / right first.
                f"  batch {name}: {b['n']} questions, correct {b['correct']}/{b['answerable']}, "
                f"wrong {b['wrong']}, declined {b['declined_answerable']}, right first {b['top_right']}",
                highlight=False,
            )
        con.print("  theme                  n  answerable  correct  declined  wrong", highlight=False)
        for theme, t in r.themes.items():
            con.print(
                plain_text(
                    f"  {theme:20} {t['n']:3} {t['answerable']:11} {t['correct']:8} {t['declined']:9} {t['wrong']:6}"
                ),
                highlight=False,
            )
        con.print("  confidence   n  answered  correct  accuracy", highlight=False)
        for b in r.calibration:
            con.print(
                f"  {b['bin']:9} {b['n']:4} {b['answered']:9} {b['correct']:8} {b['accuracy']:9.2f}",
                highlight=False,
            )
    if any(r.split == "heldout" for r in reports.values()):
        con.print("[dim]held-out questions are reported as numbers only (nothing is tuned on them)[/]")
    for m in misses:
        con.print(
            plain_text(
                f"  line {m['line']} {m['split']} [{m['outcome']}] expected {m['expected']} got {m['entry']} "
                f"conf={m['confidence']} raw={m['raw']} ({m['answer_kind']}): {m['question'][:100]}"
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
