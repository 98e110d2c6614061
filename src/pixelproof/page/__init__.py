"""Reading structure from OCR words: a receipt's or an invoice's issuer and address
(``issuer``) and its total (``totals``). Tables and labelled values are in ``tables``."""
