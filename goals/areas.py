"""The goals' area (crm.areas): every role follows goals, its own and others'."""

from crm.areas import Link, register_area
from crm.roles import Role

register_area(
    "goals",
    label="Goals",
    order=20,
    roles={Role.ADMIN, Role.SUPERVISOR, Role.REP},
    links=[Link("Goals", "goals:index")],
)
