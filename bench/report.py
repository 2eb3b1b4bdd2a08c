"""The results table (printed, Markdown, JSON) and its chart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

TARGETS = {"E1": 0.7, "E2": 0.7, "E3": 0.5, "E4": 0.6, "E5": 0.5, "E6": 0.7}
RSS_LIMIT_MB = 200.0


@dataclass
class Row:
    """One case measured on one stack."""

    case: str
    stack: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    sql_per_request: str
    peak_rss_mb: float
    cpu_us: float = 0.0  # worker CPU (user + system) per request, all workers together
    ratio: float | None = None
    note: str = ""


@dataclass
class Report:
    """Everything one run measured."""

    settings: dict[str, object]
    rows: list[Row] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    sql_texts: dict[str, list[str]] = field(default_factory=dict)
    soak: dict[str, object] | None = None

    def add_ratios(self, floor_stack: str) -> None:
        """Set each row's ratio to the floor's requests/s on the same case."""
        floor = {r.case: r.rps for r in self.rows if r.stack == floor_stack}
        for row in self.rows:
            base = floor.get(row.case)
            row.ratio = row.rps / base if base else None

    def table(self) -> str:
        """Return the results as a Markdown table."""
        lines = [
            "| case | stack | req/s | p50 ms | p99 ms | errors | SQL/req | peak RSS/worker MB "
            "| worker CPU us/req | vs floor | target |",
            "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|",
        ]
        for r in self.rows:
            ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
            target = TARGETS.get(r.case)
            verdict = ""
            if r.stack.startswith("pgbe") and r.stack.endswith("2w") and target and r.ratio is not None:
                verdict = f"{'ok' if r.ratio >= target else 'MISS'} (>= {target})"
            lines.append(
                f"| {r.case} | {r.stack} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} "
                f"| {r.sql_per_request} | {r.peak_rss_mb:.0f} | {r.cpu_us:.0f} | {ratio} | {verdict} |"
            )
        for case, reason in self.skipped.items():
            lines.append(f"| {case} | skipped | {reason} | | | | | | | | |")
        return "\n".join(lines)

    def markdown(self) -> str:
        """Return the whole report as Markdown."""
        parts = ["# pgbe benchmark", "", self.table(), ""]
        parts += ["## Settings", ""] + [f"- {k}: {v}" for k, v in self.settings.items()] + [""]
        if self.soak:
            parts += ["## Memory over a long run", ""] + [f"- {k}: {v}" for k, v in self.soak.items()] + [""]
        if self.sql_texts:
            parts += ["## SQL sent per request (pgbe, one request of each case)", ""]
            for key, texts in self.sql_texts.items():
                parts += [f"### {key}", "", "```sql", *(t.strip() + ";" for t in texts), "```", ""]
        return "\n".join(parts)

    def write(self, folder: Path) -> list[Path]:
        """Write latest.md, latest.json and latest.png into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        md, js, png = folder / "latest.md", folder / "latest.json", folder / "latest.png"
        md.write_text(self.markdown())
        js.write_text(json.dumps(asdict(self), indent=2))
        draw(self, png)
        return [md, js, png]


def draw(report: Report, path: Path) -> None:
    """Draw requests/s per case and stack as grouped bars, each pgbe bar labelled with its ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(r.case for r in report.rows))
    stacks = list(dict.fromkeys(r.stack for r in report.rows))
    by_key = {(r.case, r.stack): r for r in report.rows}
    width = 0.8 / max(1, len(stacks))
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    colors = ["#8fb4d9", "#2f6fae", "#9a9a9a", "#d98f8f", "#6aa84f"]
    for i, stack in enumerate(stacks):
        xs, ys = [], []
        for j, case in enumerate(cases):
            row = by_key.get((case, stack))
            if row is None:
                continue
            xs.append(j + (i - (len(stacks) - 1) / 2) * width)
            ys.append(row.rps)
            if row.ratio is not None and not stack.startswith("floor"):
                ax.annotate(f"{row.ratio:.2f}", (xs[-1], row.rps), ha="center", va="bottom", fontsize=8)
        ax.bar(xs, ys, width=width, label=stack, color=colors[i % len(colors)])
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([f"{c}" for c in cases])
    ax.set_ylabel("requests / second (higher is better)")
    ax.set_title("pgbe generated endpoints vs a hand-written floor (labels: ratio to the floor)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
