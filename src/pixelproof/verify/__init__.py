"""Check extracted values against the pixels and against the document's own arithmetic.

Each value is looked up among the words the local OCR engine reads from the same image:
numbers by exact value, read with the rest of their cell (a changed, swapped or dropped digit,
sign or decimal point never passes; "(12.00)", "12.00-", "- 12.00" and "12.00 DR" are
negative), dates in any common format read the page's way round (day first when a printed
date says so), text loosely but with exact digits. A table row is found on the printed line
that holds most of its values (each line stands for one row); a value missing there is
compared with its cell, located by that line and the column's x range learnt from the other
rows. A labelled field is looked for next to its label. Each value ends ``verified`` (with
the box and text that support it), ``unverified`` (nothing supports it) or ``contradicted``
(its place on the page reads differently). Line totals, sums, subtotal + tax, running balances
(opening to closing) and total rows are checked as well; ``vote`` compares several answers.

Modules: ``page`` (reading the page), ``ground`` (values against it), ``document`` (all of
a document's pages), ``totals`` (the amount payable), ``look`` (the second look), ``sums``
(arithmetic), ``claims`` (free-text answers), ``votes``, ``report`` (the result types),
``walk`` (data by path), ``files`` (data from a file), ``overlay``.
"""

from .document import check_document, verify
from .files import load_data
from .ground import check
from .overlay import draw_overlay, overlay_ready
from .report import Arithmetic, Check, Report, Status, Vote, is_clean
from .sums import arithmetic
from .votes import vote

__all__ = ["Arithmetic", "Check", "Report", "Status", "Vote", "arithmetic", "check",
           "check_document", "draw_overlay", "is_clean", "load_data", "overlay_ready", "verify",
           "vote"]
