"""The web face of pixelproof: one FastAPI app (``app.create_app``) for ``pixelproof review``.
Needs the ``web`` extra: pip install 'pixelproof[web]'."""
