"""The supervision area (crm.areas): supervisors review their teams' routes, admins any."""

from crm.areas import Link, register_area
from crm.roles import Role

register_area(
    "supervision",
    label="Supervision",
    order=30,
    roles={Role.ADMIN, Role.SUPERVISOR},
    links=[Link("Supervision", "supervision:index")],
)
