"""The tracking area (crm.areas): tenants, their keys and what their websites send are the
administrators' business."""

from crm.areas import Link, register_area
from crm.roles import Role

register_area(
    "tracking",
    label="Tracking",
    order=40,
    roles={Role.ADMIN},
    links=[Link("Tracking", "tracking:index")],
)
