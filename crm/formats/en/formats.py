"""How dates and times print where a page does not choose (Django admin's lists and read-only
fields, a datetime rendered as `{{ value }}`): with the zone, like every time the CRM shows
(crm.periods.format_moment)."""

DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
