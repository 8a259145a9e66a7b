"""``predict``'s optional analyst columns: ``group`` (``--group-copies``) and ``facts`` (``--facts``).

Signatures for copy grouping are computed with the batch's reading, in the background thread; groups
are assigned in input order on the main thread, so they are the same on every run of the same inputs,
including a ``--resume`` run (the pages already done are read again for their signatures, not classified).
"""

from __future__ import annotations

from .labels import NOT_ARTICLE


class Annotator:
    """Adds ``group`` and/or ``facts`` to the output rows of each batch."""

    def __init__(self, *, group_copies: bool = False, facts: bool = False):
        from .copies import CopyGrouper

        self.grouper = CopyGrouper() if group_copies else None
        self.facts = facts

    def prepare(self, batch, todo, read) -> None:
        """Background half: the copy signature of every readable record of the batch (done ones too)."""
        if self.grouper is None:
            return
        from .reading import PageReadError, read_page

        bodies = {todo[k].id: page.body for k, page in zip(read.positions, read.pages)}
        signatures = {}
        for record in batch:
            if record.error:
                continue
            body = bodies.get(record.id)
            if body is None and record.id not in {r.id for r in todo}:
                try:  # already classified by an earlier run: read again only to place it in its group
                    body = read_page(record.content, html=record.html, encoding=record.encoding).body
                except PageReadError:
                    continue
            if body is not None:
                signatures[record.id] = self.grouper.sign(body)
        read.signatures = signatures

    def annotate(self, batch, todo, rows, read) -> None:
        """Main-thread half: groups in input order, then facts for each classified article."""
        if self.grouper is not None:
            by_id = {record.id: row for record, row in zip(todo, rows)}
            for record in batch:
                if record.id in read.signatures:
                    group = self.grouper.add(record.id, signature=read.signatures[record.id])
                    if record.id in by_id:
                        by_id[record.id]["group"] = group
        if self.facts:
            for k, page in zip(read.positions, read.pages):
                row = rows[k]
                if row["error"] or row["label"] in (None, NOT_ARTICLE):
                    continue
                row["facts"] = facts_of(page, row)


def facts_of(page, row) -> dict:
    from .facts import extract_facts

    try:
        return extract_facts(page.body, row["label"], page_date=row.get("published"), page_text=page.raw_text,
                             title=page.title)
    except Exception as e:  # noqa: BLE001 - a fact bug must not cost the page its classification
        return {"error": f"{type(e).__name__}: {e}"}
