"""Pinterest API v5: the connector (`connector.py`), its partner-request calls
(`sharing.py`), names and links (`terms.py`) and manual steps (`steps.py`)."""

from __future__ import annotations

from .connector import PinterestConnector

__all__ = ["PinterestConnector"]
