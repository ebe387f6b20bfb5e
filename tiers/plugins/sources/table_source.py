"""The shared shape of the built-in sources: read raw rows, then check them the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from tiers.core.errors import Problem, did_you_mean
from tiers.core.interfaces import Source
from tiers.plugins.sources.options import REQUIRED, TableOptions
from tiers.plugins.sources.quality import LoadReport, RowCheck, check_rows

if TYPE_CHECKING:
    import ibis.expr.types as ir


def backend_name(con: Any) -> str:
    return str(getattr(con, "name", "duckdb"))


class TableSource(Source):
    """A source whose rows go through :func:`check_rows` (parsing, rejects, duplicates).

    Subclasses implement :meth:`raw`, returning the data columns plus ``_tiers_file`` and
    ``_tiers_line``, and may implement :meth:`columns_available` for early mapping checks.
    """

    Config: ClassVar[type[TableOptions]] = TableOptions
    #: the run's as-of, when the caller knows it (else the ruleset's `as_of`); only used to
    #: tell future-dated rows, which are later than both it and the real clock
    as_of: dt.datetime | None = None
    report: LoadReport | None = None
    #: keep the parsed rows as a table (text formats); False reads the source again per query
    stored: ClassVar[bool] = True

    @property
    def role(self) -> str:
        return str(self.context.loc[-1])

    @property
    def label(self) -> str:
        return f"sources.{self.role} ({self.describe()})"

    def describe(self) -> str:
        """Short name of where the data comes from, for messages."""
        return self.name

    def origins(self) -> list[str]:
        return [self.describe()]

    def raw(self, con: Any) -> ir.Table:
        raise NotImplementedError

    def columns_available(self) -> list[str] | None:
        """Column names, when they can be known cheaply before loading (None otherwise)."""
        return None

    def mapping_problems(self, columns: list[str], where: str) -> list[Problem]:
        ctx = self.context
        problems = []
        for fld, column in self.config.columns.items():
            if column not in columns:
                problems.append(ctx.problem(
                    f"column {column!r} (for {fld}) is not in {where}", "columns", fld,
                    hint=f"{did_you_mean(column, columns)}columns: {', '.join(columns)}"))
        for fld in REQUIRED.get(self.role, ()):
            if fld not in columns and fld not in self.config.columns:
                problems.append(ctx.problem(
                    f"the {self.role} table needs a `{fld}` column; {where} has none",
                    "columns",
                    hint=f"map it: `columns: {{{fld}: <column in the data>}}`; "
                         f"columns: {', '.join(columns)}"))
        return problems

    def row_check(self, con: Any, only: Sequence[str] | None = None) -> RowCheck:
        return RowCheck(self.config, self.role, self.label, self.context, self.origins(),
                        backend=backend_name(con), con=con, only=only, stored=self.stored)

    def load_only(self, con: Any, customer_ids: Sequence[str]) -> ir.Table:
        return self._load(con, customer_ids)

    def load(self, con: Any) -> ir.Table:
        return self._load(con, None)

    def _load(self, con: Any, only: Sequence[str] | None) -> ir.Table:
        from tiers import widen

        # same integer and float widths on every backend (see tiers.engine.readers)
        raw = widen(self.raw(con))
        as_of = self.as_of
        if as_of is None and self.context.ruleset.as_of is not None:
            d = self.context.ruleset.as_of
            as_of = dt.datetime(d.year, d.month, d.day)
        check = self.row_check(con, only)
        check.defer_ids = self.defer_id_check and only is None
        table, report = check_rows(raw, check, as_of)
        if only is None:
            self.report = report
        return table

    def confirm_ids(self, con: Any, ids: ir.Table) -> bool:
        if self.report is None or not self.report.ids_unconfirmed:
            return True
        from tiers.plugins.sources.quality import ids_need_work

        if ids_need_work(con, ids.customer_id, backend_name(con)):
            return False
        self.report.ids_unconfirmed = False
        return True
