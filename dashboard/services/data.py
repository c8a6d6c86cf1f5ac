"""The Data page's queries: the source, the quality report, features and assumptions, and
the linked tables behind the behaviour features."""

from __future__ import annotations

from dashboard.services import core

# A table's role in plain words.
ROLE_WORDS = {"events": "events", "tickets": "support tickets", "history": "history",
              "outcome": "written after leaving — never a feature"}


class DataService(core.PageService):

    def evaluation(self) -> dict | None:
        """The model's out-of-fold metrics and data-quality report (for the Data page)."""
        a = self.core.analysis
        if a is None:
            return None
        result = a.evaluation()
        result["quality"] = a.quality
        result["train_rows"] = a.train_rows
        result["settings"] = a.settings.as_dict()
        result["hazard"] = a.hazard
        result["features"] = {"categorical": a.categorical, "numeric": a.numeric}
        result["extraction_date"] = a.extraction_date
        result["dataset"] = self.core.source_name()
        result["scoring"] = a.scored_out_of_fold()
        result["linked"] = self.linked_tables()
        return result

    def linked_tables(self) -> dict | None:
        """The linked tables (None without): each with its file, role in words, rows and
        how it links; the as-of, outcome-window and scored-at dates; the customers trained
        on, the warnings and the behaviour check."""
        a = self.core.analysis
        b = getattr(a, "behaviour", None) if a is not None else None
        if b is None:
            return None
        config = getattr(a, "config", None)
        configs = {t.name: t for t in getattr(config, "tables", ())}
        word = self.core.words()["customer"]
        tables = []
        for t in b.tables:
            c = configs.get(t.name)
            key = (c.key if c is not None and c.key else None) or getattr(
                config, "id_column", None) or "the id"
            link = (f"{key} → {c.links_to} → {word}" if c is not None and c.links_to
                    else f"{key} → {word}")
            tables.append({"name": t.name, "file": t.source or t.name, "role": t.role,
                           "role_text": ROLE_WORDS.get(t.role, t.role),
                           "rows": int(t.rows), "link": link,
                           "feature": bool(t.is_feature_source)})
        used = set(a.features)
        return {"tables": tables, "as_of": b.as_of, "now": b.now,
                "horizon_days": b.horizon_days, "trained_on": int(a.train_rows),
                "customer_word": word, "features_used": sum(f in used for f in b.features),
                "features": len(b.features), "warnings": list(b.warnings),
                "lift": dict(b.lift) if b.lift else None,
                "lift_pending": "behaviour_check" in a.pending}


def current() -> DataService:
    return core.current().data
