"""What an export raises when it cannot be written as asked."""
from __future__ import annotations

from ..errors import WagiNbError


class ExportError(WagiNbError):
    """An export that cannot be written as asked."""
