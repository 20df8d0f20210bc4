from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination

from crm.pagination import DeferredJoinPaginator


class StandardPagination(PageNumberPagination):
    django_paginator_class = DeferredJoinPaginator
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class StableOrderingFilter(OrderingFilter):
    """`?ordering=amount` plus the primary key as a tie-breaker, so that rows with equal
    amounts neither repeat nor vanish between pages."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering = [*ordering, "-pk"]
        return ordering
