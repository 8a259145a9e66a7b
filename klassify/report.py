"""``klassify report``: one self-contained HTML page (and ``summary.csv``, PNGs) from ``predict`` output.

Counts are of *initiatives*, not pages: pages that ``predict --group-copies`` put in one copy group are
counted once, under the group's label (the most common label of its pages), month and institution.
A page's month is its ``published`` date when the predictions have one, else its ``event_date`` fact
(``predict --facts``); its institution is the ``institution`` fact. Every number links to the list of
the pages behind it, further down the same page. Nothing is loaded from the network: styles are inline
and the charts are embedded PNGs (also written beside the page).
"""

from __future__ import annotations

import base64
import csv
import html
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .labels import INITIATIVES, LABELS

UNKNOWN_MONTH = "unknown"
UNKNOWN_INSTITUTION = "(institution not found)"


class ReportError(ValueError):
    """Predictions that cannot be read or report output that cannot be written."""


@dataclass
class Group:
    """One initiative as counted: a copy group (or a single page)."""

    key: str
    rows: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return Counter(r["label"] for r in self.rows).most_common(1)[0][0]

    @property
    def month(self) -> str:
        months = sorted(m for m in (month_of(r) for r in self.rows) if m != UNKNOWN_MONTH)
        return months[0] if months else UNKNOWN_MONTH

    @property
    def institution(self) -> str:
        names = Counter(n for n in (institution_of(r) for r in self.rows) if n)
        return names.most_common(1)[0][0] if names else UNKNOWN_INSTITUTION


# --- reading predictions -------------------------------------------------------------------------

def read_predictions(paths) -> list[dict]:
    """Rows of ``klassify predict`` output: JSONL, CSV, or Parquet (a file, or a folder as spark-predict writes)."""
    rows = []
    for path in map(Path, paths):
        if not path.exists():
            raise ReportError(f"{path}: no such file")
        try:
            rows.extend(_reader_of(path)(path))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise ReportError(f"cannot read {path}: {e}") from e
    if not rows:
        raise ReportError("the predictions hold no rows")
    return rows


def _reader_of(path: Path):
    if path.is_dir() or path.suffix.lower() == ".parquet":
        return _read_parquet
    return _read_csv if path.suffix.lower() == ".csv" else _read_jsonl


def _read_parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ReportError(f"{path}: reading Parquet needs pyarrow: pip install 'klassify[crawl]'") from None
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError... for a file that is not Parquet
        raise ReportError(f"cannot read {path} as Parquet: {e}") from e
    if not {"id", "label"} <= set(table.column_names):
        raise ReportError(f"{path}: Parquet without id/label columns; is this `klassify predict` output?")
    for row in table.to_pylist():
        if isinstance(row.get("facts"), str):
            row["facts"] = json.loads(row["facts"])
        if isinstance(row.get("scores"), list):  # a map column (spark-predict) reads as key/value pairs
            row["scores"] = dict(row["scores"])
        row["secondary"] = row.get("secondary") or []
        yield row


def _read_jsonl(path: Path):
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise ReportError(f"{path}:{n} is not JSON ({e}); is this `klassify predict` output?") from e
            if not isinstance(row, dict) or "id" not in row or "label" not in row:
                raise ReportError(f"{path}:{n} has no id/label; is this `klassify predict` output?")
            yield row


def _read_csv(path: Path):
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"id", "label"} <= set(reader.fieldnames):
            raise ReportError(f"{path}: CSV without id/label columns; is this `klassify predict` output?")
        for row in reader:
            yield {k: _csv_value(k, v) for k, v in row.items()}


def _csv_value(key: str, value: str | None):
    if value in (None, ""):
        return [] if key == "secondary" else None
    if key in ("scores", "facts"):
        return json.loads(value)
    if key in ("score", "article_score"):
        return float(value)
    if key == "is_article":
        return value == "True"
    if key == "secondary":
        return value.split(";")
    return value


# --- what each row contributes -------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def month_of(row: dict) -> str:
    for value in (row.get("published"), _fact_value(row, "event_date")):
        m = _MONTH.match(str(value or ""))
        if m and 1 <= int(m.group(2)) <= 12:
            return f"{m.group(1)}-{m.group(2)}"
    return UNKNOWN_MONTH


def institution_of(row: dict) -> str | None:
    return _fact_value(row, "institution")


def _fact_value(row: dict, name: str):
    facts = row.get("facts")
    fact = facts.get(name) if isinstance(facts, dict) else None
    return fact.get("value") if isinstance(fact, dict) else None


def group_rows(rows) -> list[Group]:
    """Copy groups of the classified rows, in order of first appearance; a row without a group is its own."""
    groups: dict[str, Group] = {}
    for row in rows:
        key = str(row.get("group") or row["id"])
        groups.setdefault(key, Group(key)).rows.append(row)
    return list(groups.values())


# --- the report ----------------------------------------------------------------------------------

@dataclass
class Tables:
    by_month: dict  # (label, month) -> [Group]
    by_institution: dict  # (institution, label) -> [Group]
    uncertain: list  # rows
    errors: list  # rows
    groups: list
    rows: list


def build_tables(rows, uncertain_below: float = 0.6) -> Tables:
    errors, ok = [], []
    for r in rows:
        (errors if r.get("error") or r.get("label") not in LABELS else ok).append(r)
    groups = group_rows(ok)
    by_month, by_institution = defaultdict(list), defaultdict(list)
    for g in groups:
        by_month[(g.label, g.month)].append(g)
        if g.label in INITIATIVES:
            by_institution[(g.institution, g.label)].append(g)
    uncertain = sorted((r for r in ok if r.get("score") is not None and float(r["score"]) < uncertain_below),
                       key=lambda r: float(r["score"]))
    return Tables(dict(by_month), dict(by_institution), uncertain, errors, groups, ok)


def write_report(paths, out_dir, *, uncertain_below: float = 0.6) -> Path:
    """Write ``report.html``, ``summary.csv`` and the PNGs into ``out_dir``; return the HTML's path."""
    rows = read_predictions(paths)
    tables = build_tables(rows, uncertain_below)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_summary(tables, out / "summary.csv")
        charts = write_charts(tables, out)
        page = out / "report.html"
        page.write_text(render(tables, charts, paths, uncertain_below), encoding="utf-8")
    except OSError as e:
        raise ReportError(f"cannot write the report into {out}: {e}") from e
    return page


def write_summary(t: Tables, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["table", "label", "month", "institution", "initiatives", "pages"])
        for (label, month), groups in sorted(t.by_month.items()):
            w.writerow(["label_by_month", label, month, "", len(groups), sum(len(g.rows) for g in groups)])
        for (institution, label), groups in sorted(t.by_institution.items()):
            w.writerow(["institution_by_label", label, "", institution, len(groups), sum(len(g.rows) for g in groups)])


def months(t: Tables) -> list[str]:
    known = sorted({m for _, m in t.by_month if m != UNKNOWN_MONTH})
    return known + ([UNKNOWN_MONTH] if any(m == UNKNOWN_MONTH for _, m in t.by_month) else [])


def write_charts(t: Tables, out: Path) -> dict[str, bytes]:
    """PNG charts (English labels only: no CJK font is needed): initiatives per month (per year when the
    predictions span more than two years), stacked by label."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ReportError("the report draws its charts with matplotlib: pip install 'klassify[report]'") from e
    import io

    charts = {}
    cols = months(t)
    by_year = len(cols) > 24  # a long crawl: one bar per year keeps the chart readable
    if by_year:
        cols = sorted({c[:4] for c in cols if c != UNKNOWN_MONTH}) + ([UNKNOWN_MONTH] if UNKNOWN_MONTH in cols else [])
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(cols) + 3), 4))
    bottom = [0] * len(cols)
    for label in INITIATIVES:
        counts = [sum(len(g) for (l, m), g in t.by_month.items() if l == label and (m[:4] if by_year and m != UNKNOWN_MONTH
                                                                                  else m) == c) for c in cols]
        ax.bar(cols, counts, bottom=bottom, label=label)
        bottom = [b + c for b, c in zip(bottom, counts)]
    ax.set_ylabel("initiatives (copy groups counted once)")
    ax.set_title("Initiatives per year" if by_year else "Initiatives per month")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=60, labelsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    charts["initiatives_by_period.png"] = buf.getvalue()
    for name, data in charts.items():
        (out / name).write_bytes(data)
    return charts


# --- HTML ----------------------------------------------------------------------------------------

STYLE = """
body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#eef}td.name,th.name{text-align:left}a{color:#1a4fa0}
.bar{display:inline-block;height:10px;background:#6a8fd0;vertical-align:middle;margin-right:6px}
section.list{border-top:1px solid #ddd;margin-top:1em}section.list li{margin:2px 0}
.muted{color:#777}.note{background:#fff8e0;padding:6px 10px;border:1px solid #eed}
"""


class Lists:
    """The page lists numbers link to; each list is written once, with a stable anchor."""

    def __init__(self):
        self.sections: dict[str, tuple[str, list]] = {}

    def link(self, title: str, groups: list, count: int | None = None) -> str:
        count = len(groups) if count is None else count
        if not groups:
            return "0"
        anchor = f"list-{len(self.sections) + 1}"
        self.sections[anchor] = (title, groups)
        return f'<a href="#{anchor}">{count}</a>'

    def html(self) -> str:
        parts = []
        for anchor, (title, groups) in self.sections.items():
            items = "".join(group_item(g) for g in groups)
            parts.append(f'<section class="list" id="{anchor}"><h4>{esc(title)}</h4><ol>{items}</ol></section>')
        return "".join(parts)


def group_item(g: Group) -> str:
    pages = "; ".join(page_ref(r) for r in g.rows)
    copies = f' <span class="muted">({len(g.rows)} copies)</span>' if len(g.rows) > 1 else ""
    return f"<li>{pages}{copies}</li>"


def page_ref(row: dict) -> str:
    text = esc(row.get("title") or row["id"])
    url = row.get("url")
    if url and re.match(r"https?://", str(url)):
        return f'<a href="{esc(url)}" title="{esc(row["id"])}">{text}</a>'
    return f'<span title="{esc(row["id"])}">{text}</span> <span class="muted">[{esc(row["id"])}]</span>'


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def render(t: Tables, charts: dict, paths, uncertain_below: float) -> str:
    lists = Lists()
    grouped = any(r.get("group") for r in t.rows)
    with_facts = any(isinstance(r.get("facts"), dict) for r in t.rows)
    notes = []
    if not grouped:
        notes.append("The predictions carry no copy groups (run <code>klassify predict --group-copies</code>): "
                     "every page is counted as its own initiative.")
    if not with_facts:
        notes.append("The predictions carry no facts (run <code>klassify predict --facts</code>): institutions "
                     "are unknown and months come only from a <code>published</code> column.")
    initiatives = [g for g in t.groups if g.label in INITIATIVES]
    head = (f"<h1>klassify report</h1><p>{len(t.rows) + len(t.errors)} pages from "
            f"{esc(', '.join(str(p) for p in paths))}: {len(t.rows)} classified, "
            f"{lists.link('Pages that could not be classified', [Group(r['id'], [r]) for r in t.errors])} with errors; "
            f"{lists.link('All initiatives', initiatives)} initiatives "
            f"({sum(len(g.rows) for g in initiatives)} pages, copies counted once).</p>")
    body = [head, *(f'<p class="note">{n}</p>' for n in notes),
            chart_html(charts), month_table(t, lists), top_institutions(t, lists), institution_table(t, lists),
            uncertain_table(t, lists, uncertain_below), "<h2>Pages behind the numbers</h2>", lists.html()]
    return ("<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>klassify report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")


def month_table(t: Tables, lists: Lists) -> str:
    labels = [l for l in LABELS if any(k[0] == l for k in t.by_month)]
    header = "".join(f"<th>{esc(l)}</th>" for l in labels)
    rows = []
    for m in months(t):
        cells = "".join(f"<td>{lists.link(f'{label}, {m}', t.by_month.get((label, m), []))}</td>" for label in labels)
        rows.append(f'<tr><td class="name">{esc(m)}</td>{cells}</tr>')
    return (f"<h2>Initiatives per label and month</h2><table><tr><th class=\"name\">month</th>{header}</tr>"
            f"{''.join(rows)}</table>")


def chart_html(charts: dict) -> str:
    imgs = "".join(f'<img alt="{esc(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
                   for name, data in charts.items())
    return f"<div>{imgs}</div>"


def institution_table(t: Tables, lists: Lists) -> str:
    totals = Counter()
    for (inst, _), groups in t.by_institution.items():
        totals[inst] += len(groups)
    header = "".join(f"<th>{esc(l)}</th>" for l in INITIATIVES)
    rows = []
    for inst, total in sorted(totals.items(), key=lambda x: (-x[1], x[0])):
        cells = "".join(f"<td>{lists.link(f'{inst}: {label}', t.by_institution.get((inst, label), []))}</td>"
                        for label in INITIATIVES)
        every = [g for label in INITIATIVES for g in t.by_institution.get((inst, label), [])]
        rows.append(f'<tr><td class="name">{esc(inst)}</td>{cells}<td>{lists.link(f"{inst}: all", every)}</td></tr>')
    return (f"<h2>Institutions × initiative</h2><table><tr><th class=\"name\">institution</th>{header}<th>total</th></tr>"
            f"{''.join(rows)}</table>")


def top_institutions(t: Tables, lists: Lists, n: int = 10) -> str:
    parts = ["<h2>Top institutions per initiative</h2>"]
    for label in INITIATIVES:
        ranked = sorted(((inst, groups) for (inst, l), groups in t.by_institution.items() if l == label),
                        key=lambda x: (-len(x[1]), x[0]))[:n]
        if not ranked:
            continue
        most = len(ranked[0][1])
        rows = "".join(f'<tr><td class="name">{esc(inst)}</td><td class="name"><span class="bar" '
                       f'style="width:{int(120 * len(groups) / most)}px"></span>{lists.link(f"{inst}: {label}", groups)}</td></tr>'
                       for inst, groups in ranked)
        parts.append(f"<h3>{esc(label)}</h3><table>{rows}</table>")
    return "".join(parts)


def uncertain_table(t: Tables, lists: Lists, below: float) -> str:
    rows = []
    for r in t.uncertain:
        scores = r.get("scores") or {}
        runner = sorted(((s, l) for l, s in scores.items() if l != r["label"]), reverse=True)[:1]
        second = f"{esc(runner[0][1])} {runner[0][0]:.2f}" if runner else ""
        rows.append(f'<tr><td class="name">{page_ref(r)}</td><td class="name">{esc(r["label"])}</td>'
                    f"<td>{float(r['score']):.2f}</td><td class=\"name\">{second}</td></tr>")
    table = (f"<table><tr><th class=\"name\">page</th><th class=\"name\">label</th><th>score</th>"
             f"<th class=\"name\">runner-up</th></tr>{''.join(rows)}</table>") if rows else "<p>None.</p>"
    return (f"<h2>Uncertain pages, for review</h2><p>{len(t.uncertain)} pages whose label score is below "
            f"{below:.2f}, least certain first.</p>{table}")
