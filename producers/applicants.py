"""Fake applicant data, put on `received` events the way real one-stop systems send it.

Real sources attach the applicant's name, citizen ID and phone number to their records. The
contract says the worker must drop such fields before anything is stored or logged, so the
simulator sends them by default: a leak would show up in Redis, logs or alerts as a
Vietnamese name or a 12-digit number. Nothing here is a real person's data.
"""

from __future__ import annotations

import random

_FAMILY = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng", "Bùi",
    "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Trương", "Châu", "Thạch",
)  # fmt: skip
_MIDDLE = ("Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hữu", "Kim", "Quốc", "Hoàng", "Thị Kim")
_GIVEN = (
    "An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Hùng", "Lan", "Linh", "Mai", "Nam",
    "Phúc", "Quang", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Sơn", "Khánh", "Nhi", "Phước",
)  # fmt: skip
_MOBILE_PREFIXES = ("090", "091", "093", "094", "096", "097", "098", "032", "035", "039",
                    "070", "076", "077", "081", "083", "085", "088")  # fmt: skip
AN_GIANG_CITIZEN_ID_PREFIX = "089"


def fake_applicant(rng: random.Random) -> dict[str, str]:
    """`applicant_name`, `citizen_id` (12 digits, An Giang-born) and `phone` (10 digits)."""
    name = f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"
    born = rng.randint(1950, 2005)
    century_sex = (0 if born < 2000 else 2) + rng.randint(0, 1)
    citizen_id = (
        f"{AN_GIANG_CITIZEN_ID_PREFIX}{century_sex}{born % 100:02d}{rng.randrange(10**6):06d}"
    )
    phone = f"{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
    return {"applicant_name": name, "citizen_id": citizen_id, "phone": phone}
