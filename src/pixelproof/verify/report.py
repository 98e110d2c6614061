"""What verification finds: a Check per value, the sums, the votes, and the Report of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..types import Image

Status = Literal["verified", "unverified", "contradicted"]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Check:
    path: str
    value: Any
    status: Status
    box: Box | None = None
    ocr_text: str | None = None
    note: str = ""
    page: int | None = None  # the document's page that holds ``box`` (None: a single image)


@dataclass(frozen=True)
class Arithmetic:
    name: str
    ok: bool
    expected: str
    found: str
    paths: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Vote:
    path: str
    agreement: float
    answers: tuple[Any, ...]


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    arithmetic: tuple[Arithmetic, ...] = ()
    votes: tuple[Vote, ...] = field(default=())
    notes: tuple[str, ...] = ()  # sums that could not be set up, and why
    reads: tuple[str, ...] = ()  # how each page was read: "ocr" or "text layer"
    image: Image | None = field(default=None, repr=False, compare=False)  # what was checked

    def _repr_html_(self) -> str:
        from ..view import report_html
        return report_html(self, self.image)

    def count(self, status: Status) -> int:
        return sum(c.status == status for c in self.checks)

    @property
    def counts(self) -> dict[str, int]:
        return {s: self.count(s) for s in ("verified", "unverified", "contradicted")}

    @property
    def flagged(self) -> list[Check]:
        return [c for c in self.checks if c.status != "verified"]

    @property
    def ok(self) -> bool:
        return not self.flagged and all(a.ok for a in self.arithmetic) and all(
            v.agreement == 1 for v in self.votes)

    def summary(self) -> str:
        sums = ("totals check: none found" if not self.arithmetic else
                "totals check: passed" if all(a.ok for a in self.arithmetic) else
                f"totals check: failed ({sum(not a.ok for a in self.arithmetic)} of "
                f"{len(self.arithmetic)})") + (f" ({'; '.join(self.notes)})" if self.notes
                                               else "")
        text = (f"{len(self.checks)} values: {self.count('verified')} verified, "
                f"{self.count('unverified')} unverified, {self.count('contradicted')} "
                f"contradicted; {sums}")
        split = sum(v.agreement < 1 for v in self.votes)
        return text + (f"; votes split on {split} of {len(self.votes)} fields" if self.votes
                       else "")

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), **self.counts,
                "checks": [{k: v for k, v in asdict(c).items() if k != "page" or v}
                           for c in self.checks],
                "arithmetic": [asdict(a) for a in self.arithmetic],
                "votes": [asdict(v) for v in self.votes], "notes": list(self.notes),
                "read": list(self.reads)}


def is_clean(report: dict[str, Any]) -> bool:
    """A report (as ``to_dict()``) with nothing unverified, contradicted, failed or split."""
    return not report["unverified"] and not report["contradicted"] and all(
        a["ok"] for a in report["arithmetic"]) and all(v["agreement"] == 1
                                                       for v in report["votes"])
