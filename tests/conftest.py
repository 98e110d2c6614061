import pytest


@pytest.fixture(autouse=True)
def _own_store(tmp_path, monkeypatch):
    """Every test (and every CLI it runs) gets its own cache and run store."""
    monkeypatch.setenv("PIXELPROOF_HOME", str(tmp_path / "home"))
