"""Names and fields (lĩnh vực) of the simulated province's procedures: the shipped catalogue.

The simulator draws procedure codes and processing days from `producers.profile`; the
government's periodic report (CONTRACT §6) groups them by field. This module gives each of
those procedures a Vietnamese name and a field, as the national procedure database would,
and writes the rows of `iocmon/data/procedures-an-giang.csv` (a unit test keeps the file
equal to what this produces). The most popular procedures of each tier get the names that
dominate real volumes (certified copies and birth registration at communes, land and
household businesses at districts, criminal records and driving licences at the province).
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

from iocmon.producers.profile import PROFILE_SEED, Procedure, procedure_tables


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    name: str
    procedures: tuple[str, ...]
    """Names of real procedures of the field, the most common first."""


FIELDS: dict[str, Field] = {
    f.key: f
    for f in (
        Field("civil_status", "Hộ tịch", (
            "Đăng ký khai sinh", "Đăng ký khai tử", "Đăng ký kết hôn",
            "Cấp bản sao trích lục hộ tịch", "Xác nhận tình trạng hôn nhân",
            "Đăng ký nhận cha, mẹ, con", "Đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch",
            "Đăng ký giám hộ", "Đăng ký lại khai sinh", "Đăng ký khai sinh có yếu tố nước ngoài",
            "Đăng ký kết hôn có yếu tố nước ngoài", "Đăng ký chấm dứt giám hộ",
        )),
        Field("certification", "Chứng thực", (
            "Chứng thực bản sao từ bản chính", "Chứng thực chữ ký trong các giấy tờ, văn bản",
            "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản",
            "Chứng thực di chúc", "Chứng thực văn bản thỏa thuận phân chia di sản",
            "Chứng thực việc sửa đổi, bổ sung, hủy bỏ hợp đồng, giao dịch",
            "Chứng thực chữ ký người dịch",
        )),
        Field("social_protection", "Bảo trợ xã hội", (
            "Trợ cấp xã hội hằng tháng đối với đối tượng bảo trợ xã hội",
            "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội",
            "Xác định, xác định lại mức độ khuyết tật và cấp Giấy xác nhận khuyết tật",
            "Trợ giúp xã hội khẩn cấp về hỗ trợ làm nhà ở",
            "Đăng ký hoạt động đối với cơ sở trợ giúp xã hội dưới 10 đối tượng",
        )),
        Field("meritorious_people", "Người có công", (
            "Giải quyết chế độ trợ cấp thờ cúng liệt sĩ",
            "Cấp giấy xác nhận thân nhân của người có công",
            "Hỗ trợ người có công với cách mạng cải thiện nhà ở",
            "Giải quyết chế độ mai táng phí đối với cựu chiến binh",
        )),
        Field("land", "Đất đai", (
            "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
            "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất lần đầu",
            "Chuyển mục đích sử dụng đất", "Tách thửa hoặc hợp thửa đất",
            "Cấp đổi Giấy chứng nhận quyền sử dụng đất", "Đăng ký thế chấp quyền sử dụng đất",
            "Cấp lại Giấy chứng nhận quyền sử dụng đất do bị mất", "Giao đất, cho thuê đất",
            "Gia hạn sử dụng đất", "Xóa đăng ký thế chấp quyền sử dụng đất",
        )),
        Field("grassroots_culture", "Văn hóa cơ sở", (
            "Công nhận danh hiệu Gia đình văn hóa", "Thông báo tổ chức lễ hội",
            "Công nhận Khu dân cư văn hóa", "Đăng ký hoạt động thư viện cơ sở",
        )),
        Field("agriculture", "Nông nghiệp", (
            "Hỗ trợ khôi phục sản xuất vùng bị thiệt hại do thiên tai",
            "Xác nhận nguồn gốc lâm sản",
            "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm nông lâm thủy sản",
            "Cấp giấy chứng nhận kiểm dịch động vật vận chuyển ra khỏi địa bàn tỉnh",
        )),
        Field("emulation_rewards", "Thi đua, khen thưởng", (
            "Tặng Giấy khen của Chủ tịch Ủy ban nhân dân về thành tích thực hiện nhiệm vụ",
            "Tặng danh hiệu Lao động tiên tiến", "Tặng Giấy khen về thành tích đột xuất",
        )),
        Field("mediation", "Hòa giải ở cơ sở", (
            "Công nhận hòa giải viên", "Thôi làm hòa giải viên",
            "Thanh toán thù lao cho hòa giải viên",
        )),
        Field("construction", "Xây dựng", (
            "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Cấp giấy phép sửa chữa, cải tạo công trình",
            "Điều chỉnh giấy phép xây dựng", "Gia hạn giấy phép xây dựng",
            "Cấp lại giấy phép xây dựng", "Cấp giấy phép di dời công trình",
            "Thẩm định báo cáo kinh tế - kỹ thuật đầu tư xây dựng",
            "Cấp giấy phép xây dựng công trình không theo tuyến",
            "Cấp chứng chỉ hành nghề hoạt động xây dựng",
        )),
        Field("household_business", "Thành lập và hoạt động của hộ kinh doanh", (
            "Đăng ký thành lập hộ kinh doanh",
            "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh",
            "Tạm ngừng kinh doanh của hộ kinh doanh", "Chấm dứt hoạt động hộ kinh doanh",
            "Cấp lại Giấy chứng nhận đăng ký hộ kinh doanh",
        )),
        Field("environment", "Môi trường", (
            "Đăng ký môi trường", "Cấp giấy phép môi trường",
            "Cấp giấy phép khai thác nước dưới đất", "Cấp giấy phép xả nước thải vào nguồn nước",
        )),
        Field("education", "Giáo dục và Đào tạo", (
            "Chuyển trường đối với học sinh trung học cơ sở",
            "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc",
            "Xét, duyệt chính sách hỗ trợ đối với học sinh bán trú",
            "Thành lập trường mầm non tư thục", "Công nhận trường đạt chuẩn quốc gia",
            "Cho phép trung tâm ngoại ngữ, tin học hoạt động giáo dục",
        )),
        Field("labour_social_affairs", "Lao động, Thương binh và Xã hội", (
            "Giải quyết hưởng trợ cấp thất nghiệp",
            "Cấp giấy phép lao động cho người lao động nước ngoài", "Đăng ký nội quy lao động",
            "Cấp giấy phép hoạt động dịch vụ việc làm",
            "Đăng ký hợp đồng nhận lao động thực tập",
        )),
        Field("industry_trade", "Công Thương", (
            "Cấp giấy phép bán lẻ sản phẩm rượu", "Cấp giấy phép bán lẻ sản phẩm thuốc lá",
            "Cấp giấy chứng nhận đủ điều kiện cửa hàng bán lẻ xăng dầu",
            "Cấp giấy xác nhận đăng ký tổ chức hội chợ, triển lãm thương mại",
            "Cấp giấy phép kinh doanh bán buôn sản phẩm rượu",
        )),
        Field("health", "Y tế", (
            "Cấp chứng chỉ hành nghề dược",
            "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
            "Cấp giấy phép hoạt động đối với phòng khám chuyên khoa",
            "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh",
            "Cấp giấy chứng nhận đủ điều kiện kinh doanh dược",
            "Cấp giấy xác nhận nội dung quảng cáo thực phẩm",
        )),
        Field("enterprise_registration", "Thành lập và hoạt động của doanh nghiệp", (
            "Đăng ký thay đổi nội dung đăng ký doanh nghiệp",
            "Đăng ký thành lập công ty trách nhiệm hữu hạn",
            "Đăng ký thành lập doanh nghiệp tư nhân", "Đăng ký thành lập công ty cổ phần",
            "Thông báo tạm ngừng kinh doanh", "Giải thể doanh nghiệp",
            "Đăng ký hoạt động chi nhánh, văn phòng đại diện",
            "Cấp lại Giấy chứng nhận đăng ký doanh nghiệp",
        )),
        Field("investment", "Đầu tư", (
            "Cấp Giấy chứng nhận đăng ký đầu tư", "Quyết định chủ trương đầu tư",
            "Điều chỉnh Giấy chứng nhận đăng ký đầu tư", "Giãn tiến độ đầu tư",
            "Chấm dứt hoạt động dự án đầu tư",
        )),
        Field("road_transport", "Đường bộ", (
            "Cấp đổi giấy phép lái xe", "Cấp lại giấy phép lái xe",
            "Cấp phù hiệu xe ô tô kinh doanh vận tải",
            "Cấp giấy phép kinh doanh vận tải bằng xe ô tô",
            "Đăng ký khai thác tuyến vận tải hành khách cố định",
            "Cấp giấy phép lưu hành xe quá tải trọng, xe quá khổ giới hạn",
        )),
        Field("justice", "Tư pháp", (
            "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
            "Cấp Phiếu lý lịch tư pháp cho người nước ngoài", "Đăng ký hành nghề công chứng",
            "Thành lập Văn phòng công chứng", "Cấp thẻ đấu giá viên",
            "Đăng ký hoạt động của tổ chức hành nghề luật sư",
        )),
        Field("culture_tourism", "Văn hóa, Thể thao và Du lịch", (
            "Cấp giấy phép kinh doanh dịch vụ karaoke",
            "Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa",
            "Công nhận hạng cơ sở lưu trú du lịch", "Cấp thẻ hướng dẫn viên du lịch",
            "Cấp giấy phép tổ chức biểu diễn nghệ thuật",
        )),
    )
}  # fmt: skip

_TIER_FIELDS: dict[str, tuple[tuple[str, float], ...]] = {
    "commune": (("certification", 0.22), ("civil_status", 0.25), ("social_protection", 0.12),
                ("meritorious_people", 0.08), ("land", 0.08), ("grassroots_culture", 0.06),
                ("agriculture", 0.07), ("emulation_rewards", 0.06), ("mediation", 0.06)),
    "district": (("land", 0.22), ("household_business", 0.12), ("construction", 0.14),
                 ("civil_status", 0.08), ("certification", 0.06), ("environment", 0.06),
                 ("education", 0.08), ("labour_social_affairs", 0.08),
                 ("industry_trade", 0.08), ("health", 0.08)),
    "province": (("justice", 0.08), ("road_transport", 0.12), ("enterprise_registration", 0.14),
                 ("land", 0.10), ("investment", 0.07), ("construction", 0.08), ("health", 0.09),
                 ("education", 0.06), ("industry_trade", 0.06), ("environment", 0.05),
                 ("labour_social_affairs", 0.06), ("culture_tourism", 0.05),
                 ("agriculture", 0.04)),
}  # fmt: skip
"""Each tier's fields, the field of its most popular procedure first, with their shares."""

_LEVEL_OF_TIER = {"commune": "cấp xã", "district": "cấp huyện", "province": "cấp tỉnh"}
_QUALIFIERS = ("", " (cấp lại)", " (điều chỉnh)", " (gia hạn)", " (trường hợp đặc biệt)")
ONLINE_LEVELS = (("full", 0.48), ("partial", 0.30), ("none", 0.22))
HEADER = ("code", "name", "field", "field_name", "online_level", "processing_days")


Row = tuple[str, str, str, str, str, int]
_PREAMBLE = """\
# Procedure catalogue of the simulated An Giang province: every procedure the simulator uses.
# Columns: code (the MaTTHC events carry), name, field (a short key: rows of the report by
# field), field_name (what people read), online_level (full, partial or none) and
# processing_days (regulated, in working days). Rows starting with # and blank rows are
# ignored; a value containing a comma goes in double quotes. Generated by
# producers/procedure_names.py; replace the whole file with IOCMON_PROCEDURES_FILE.
"""


def catalogue_csv() -> str:
    """The text of `iocmon/data/procedures-an-giang.csv`:

    .venv/bin/python -m iocmon.producers.procedure_names > iocmon/data/procedures-an-giang.csv
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    out.write(_PREAMBLE)
    writer.writerows(catalogue_rows())
    return out.getvalue()


def catalogue_rows() -> list[Row]:
    """The shipped catalogue's rows: every procedure of every tier, tiers in order."""
    rng = random.Random(f"{PROFILE_SEED}/catalogue")
    rows: list[Row] = []
    names: set[str] = set()
    for tier, procedures in procedure_tables().items():
        for code, name, field, field_name, online_level, days in _tier_rows(rng, tier, procedures):
            # The same procedure at another level of government has its own code.
            unique = name if name not in names else f"{name} ({_LEVEL_OF_TIER[tier]})"
            names.add(unique)
            rows.append((code, unique, field, field_name, online_level, days))
    return rows


def codes_of_field(key: str) -> frozenset[str]:
    """The codes of the catalogue's procedures of the field `key` (e.g. "land")."""
    return frozenset(code for code, _, field, *_ in catalogue_rows() if field == key)


def _tier_rows(rng: random.Random, tier: str, procedures: tuple[Procedure, ...]) -> list[Row]:
    keys = [key for key, _ in _TIER_FIELDS[tier]]
    shares = [share for _, share in _TIER_FIELDS[tier]]
    used: dict[str, int] = {}
    rows = []
    for rank, procedure in enumerate(procedures):
        # The first ranks take each field's most common procedure, in the tier's order.
        key = keys[rank] if rank < len(keys) else rng.choices(keys, weights=shares)[0]
        field = FIELDS[key]
        n = used.get(key, 0)
        used[key] = n + 1
        base = field.procedures[n % len(field.procedures)]
        name = base + _QUALIFIERS[(n // len(field.procedures)) % len(_QUALIFIERS)]
        if n >= len(field.procedures) * len(_QUALIFIERS):
            name += f" {n // (len(field.procedures) * len(_QUALIFIERS)) + 1}"
        level = rng.choices([lv for lv, _ in ONLINE_LEVELS], [w for _, w in ONLINE_LEVELS])[0]
        rows.append((procedure.code, name, field.key, field.name, level, procedure.processing_days))
    return rows


if __name__ == "__main__":
    print(catalogue_csv(), end="")
