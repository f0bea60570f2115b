"""Result tables: plain-text rendering, JSON, and the optional matplotlib chart of ratios."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: str = "{:,.0f}"

    def render(self, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float) and math.isnan(value):
            return "n/a"
        if isinstance(value, dict):
            return ",".join(f"{k}:{v}" for k, v in sorted(value.items())) or "-"
        return self.fmt.format(value)


@dataclass(frozen=True)
class Target:
    """One target of issue 4, checked against a table's rows.

    ``mode`` says how: ``"ratio"`` (subject / reference >= threshold), ``"at_most"`` (subject's
    value <= threshold), ``"excess"`` (subject - reference <= threshold).
    """

    text: str
    subject: str
    threshold: float
    reference: str | None = None
    metric: str | None = None
    mode: str = "ratio"
    fmt: str = "{:.2f}x"

    def evaluate(self, table: Table) -> tuple[float | None, bool | None]:
        """(the measured value, met?); (None, None) when a row is missing or failed."""
        metric = self.metric or table.metric
        mine = table.value(self.subject, metric)
        theirs = table.value(self.reference, metric) if self.reference else None
        if mine is None or (self.reference and theirs is None):
            return None, None
        if self.mode == "ratio":
            if not theirs:
                return None, None
            value = mine / theirs
            return value, value >= self.threshold
        if self.mode == "excess":
            value = mine - (theirs or 0.0)
            return value, value <= self.threshold
        return mine, mine <= self.threshold

    def status(self, table: Table) -> str:
        value, met = self.evaluate(table)
        if met is None:
            return f"target {self.text}: n/a (a row is missing or failed) -> NOT MET"
        return f"target {self.text}: {self.fmt.format(value)} -> {'met' if met else 'NOT MET'}"


@dataclass
class Row:
    label: str
    values: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Table:
    """One workload's results: rows are servers, the ratio is against ``baseline``'s metric."""

    key: str
    title: str
    columns: list[Column]
    metric: str
    baseline: str | None = None
    #: (subject, reference) pairs printed as "subject / reference: 0.93x" under the table.
    compare: list[tuple[str, str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def add(
        self, label: str, values: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        if values is not None and isinstance(values.get("server_cpu"), float):
            # Server CPU microseconds per operation; the mean rate, where there is one, matches
            # the interval the CPU was measured over better than a median of samples.
            rate = values.get("mean_messages_per_s") or values.get(self.metric)
            if isinstance(rate, int | float) and rate > 0:
                values["server_us_per_op"] = values["server_cpu"] / rate * 1e6
        self.rows.append(Row(label, values, error))

    def value(self, label: str, metric: str | None = None) -> float | None:
        for row in self.rows:
            if row.label == label and row.values is not None:
                number = row.values.get(metric or self.metric)
                return float(number) if isinstance(number, int | float) else None
        return None

    def ratio(self, label: str, reference: str | None = None) -> float | None:
        reference = reference or self.baseline
        if reference is None:
            return None
        mine, theirs = self.value(label), self.value(reference)
        if mine is None or not theirs:
            return None
        return mine / theirs

    def render(self) -> str:
        headers = ["server", *(c.header for c in self.columns)]
        if self.baseline:
            headers.append(f"vs {self.baseline}")
        lines: list[list[str]] = []
        errors: dict[int, str] = {}
        for index, row in enumerate(self.rows):
            if row.values is None:
                errors[index] = f"error: {row.error}"
                lines.append([row.label])
                continue
            cells = [row.label, *(c.render(row.values.get(c.key)) for c in self.columns)]
            if self.baseline:
                ratio = self.ratio(row.label)
                cells.append("-" if ratio is None else f"{ratio:.2f}x")
            lines.append(cells)
        widths = [len(h) for h in headers]
        for index, cells in enumerate(lines):
            if index not in errors:
                widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
        out = [f"== {self.title}"]
        out.append(
            "  ".join(
                self._align(h, w, i) for i, (h, w) in enumerate(zip(headers, widths, strict=True))
            )
        )
        out.append("  ".join("-" * w for w in widths))
        for index, cells in enumerate(lines):
            if index in errors:
                out.append(f"{cells[0].ljust(widths[0])}  {errors[index]}")
            else:
                out.append(
                    "  ".join(
                        self._align(c, w, i)
                        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
                    )
                )
        for subject, reference in self.compare:
            ratio = self.ratio(subject, reference)
            shown = "n/a (a row is missing or failed)" if ratio is None else f"{ratio:.2f}x"
            out.append(f"{subject} / {reference}: {shown}")
        out.extend(self.notes)
        out.extend(target.status(self) for target in self.targets)
        return "\n".join(out)

    @staticmethod
    def _align(text: str, width: int, index: int) -> str:
        return text.ljust(width) if index == 0 else text.rjust(width)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratios"] = {row.label: self.ratio(row.label) for row in self.rows}
        data["comparisons"] = {
            f"{subject} / {reference}": self.ratio(subject, reference)
            for subject, reference in self.compare
        }
        data["targets"] = []
        for target in self.targets:
            value, met = target.evaluate(self)
            data["targets"].append({"text": target.text, "value": value, "met": met})
        return data


def write_json(path: Path, tables: list[Table], meta: dict[str, Any]) -> None:
    payload = {"meta": meta, "tables": [t.to_json() for t in tables]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def write_png(path: Path, tables: list[Table]) -> None:
    """One bar group per table: each row's ratio to that table's baseline."""
    import matplotlib  # lazy: only --png needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charted = [t for t in tables if t.baseline]
    if not charted:
        return
    fig, axes = plt.subplots(len(charted), 1, figsize=(8, 2.2 * len(charted)), squeeze=False)
    for ax, table in zip(axes[:, 0], charted, strict=True):
        labels = [row.label for row in table.rows]
        ratios = [table.ratio(label) or 0.0 for label in labels]
        bars = ax.barh(labels, ratios, color="#4c72b0")
        for bar, row, ratio in zip(bars, table.rows, ratios, strict=True):
            text = "error" if row.values is None else f"{ratio:.2f}x"
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {text}", va="center")
        ax.axvline(1.0, color="grey", linewidth=0.8)
        ax.set_title(f"{table.title} (ratio to {table.baseline})", fontsize=9)
        ax.invert_yaxis()
        ax.set_xlim(0, max([1.0, *ratios]) * 1.25)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
