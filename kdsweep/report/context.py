"""What a table leaves out that its reader needs beside it: the teacher its runs learn from,
and (for a grid) the student trained without one. Both become a note under the table and a
reference line in its plot, so a KD gain is read against what it should be read against."""

from __future__ import annotations

from dataclasses import dataclass

from kdsweep.report.query import canonical
from kdsweep.report.values import summarize


@dataclass
class Line:
    label: str  # "teacher (big)", "without a teacher (kd=none)"
    value: float | None
    text: str  # the number as the table prints it, or a status word


def _teacher_key(run: dict) -> str | None:
    teacher = run["config"].get("teacher")
    return teacher.get("key") if isinstance(teacher, dict) and teacher.get("run") else None


def teachers(shown: list[dict], runs: list[dict], metric: str, fmt: str) -> list[Line]:
    """The stage runs the shown runs learn from, when the table does not show them itself."""
    shown_keys = {r["key"] for r in shown}
    wanted = dict.fromkeys(k for k in (_teacher_key(r) for r in shown if not r["stage"]) if k)
    out = []
    for run in runs:
        if run["key"] in wanted and run["key"] not in shown_keys:
            cell = summarize([run], metric, "value", fmt)
            out.append(Line(f"teacher ({run['stage'] or run['row']})", cell.value, cell.text + cell.note))
    return out


def baselines(left_out: list[dict], metric: str, fmt: str) -> list[Line]:
    """Runs a grid left out (they lack its keys) that train without a teacher: the no-KD student."""
    groups: dict[str, list[dict]] = {}
    for run in left_out:
        if not run["stage"] and run["config"].get("teacher") is None:
            rest = {k: v for k, v in run["config"].items() if k != "seed"}
            groups.setdefault(canonical(rest), []).append(run)
    out = []
    for group in groups.values():
        cell = summarize(group, metric, "mean", fmt)
        out.append(Line(f"without a teacher ({group[0]['row']})", cell.value, cell.text + cell.note))
    return out


def note(lines: list[Line]) -> str:
    """`Teacher (big): 80.80 · without a teacher (kd=none): 75.10`."""
    text = " · ".join(f"{line.label}: {line.text}" for line in lines)
    return text[:1].upper() + text[1:]
