"""Errors of the import adapter. None of their messages ever carries a value from the export:
values may be applicant data (names, citizen ID numbers, phone numbers), so messages name the
field and the rule instead.
"""

from __future__ import annotations

from iocmon.errors import IocmonError


class RowRejected(IocmonError):
    """One dossier of the export cannot become contract events.

    `field` is the source field at fault (`NgayTiepNhan`, `DanhSachHoSoBoSung[2].NgayHenTraMoi`),
    `reason` says which rule it breaks. `dossier_id` is set once MaHoSo itself was found valid.
    """

    def __init__(self, field: str, reason: str, dossier_id: str | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.dossier_id = dossier_id


class ExportError(IocmonError):
    """The export as a whole cannot be read (unknown format, broken JSON, not UTF-8)."""
