"""pixelproof's web face: one FastAPI app (``web.app.create_app``) for ``serve`` and ``review``."""
