"""Query parameters of the goals' report endpoints (analytics, the plans' lists): a name the
endpoint does not know is a 400 naming the ones it accepts, never a silent unfiltered answer
(`type=` for `metric=`, `startDate=` for `start_date=`)."""

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

UNKNOWN_PARAMETER = "Unknown parameter. Accepted: {accepted}."
# What every endpoint takes besides its own filters: DRF's format, the pages of a list.
ALWAYS = ("format",)
PAGED = ("page", "page_size")


def only_known(
    request: Request, query: type[serializers.Serializer] | None = None, *, paged: bool = False
) -> None:
    """Refuse (400, each unknown name a field) a query naming a parameter neither `query`'s
    fields nor the endpoint's paging know."""
    accepted = [*(query().fields if query is not None else ()), *(PAGED if paged else ())]
    unknown = sorted(set(request.query_params) - {*accepted, *ALWAYS})
    if unknown:
        message = UNKNOWN_PARAMETER.format(accepted=", ".join(accepted) or "none")
        raise ValidationError({name: [message] for name in unknown})
