"""pixelproof's web face (the ``web`` extra: pip install 'pixelproof[web]'): the FastAPI apps
of ``serve`` (``app.create_app``) and ``review`` (``app.review_app``)."""
