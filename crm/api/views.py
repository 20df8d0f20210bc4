"""REST endpoints for core CRM data. Thin: parse with the action's input serializer, call one
service or selector, answer with the output serializer and the row the service returned.
Querysets come from role-scoped selectors, so a record outside the caller's scope is a 404.
Lists search and sort as their pages do: `?search=` and `?ordering=` go to the selector, whose
rules (crm.selectors' *_SEARCH and *_ORDERINGS, the first ordering the default) are the only
ones."""

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from crm import selectors, services
from crm.api import serializers as s
from crm.api.base import IsoDateTimeFilter, ScopedModelChoiceFilter, ScopedViewSet
from crm.models import (
    Activity,
    Customer,
    Deal,
    DealOutcome,
    Route,
    RouteStop,
    SalesRep,
    Task,
    TaskStatus,
)


def _rep_filter(**kwargs) -> ScopedModelChoiceFilter:
    return ScopedModelChoiceFilter(selector=selectors.rep_list, model=SalesRep, **kwargs)


def _customer_filter() -> ScopedModelChoiceFilter:
    return ScopedModelChoiceFilter(selector=selectors.customer_list, model=Customer)


# --- Customers --------------------------------------------------------------------------------


class CustomerFilter(filters.FilterSet):
    owner = _rep_filter()

    class Meta:
        model = Customer
        fields = ["status", "owner"]


class CustomerViewSet(ScopedViewSet):
    area = "sales"
    selector = selectors.customer_list
    output_serializer_class = s.CustomerOutputSerializer
    inputs = {
        "create": s.CustomerInputSerializer,
        "partial_update": s.CustomerUpdateInputSerializer,
        "sign_up": s.CustomerSignUpInputSerializer,
    }
    filterset_class = CustomerFilter
    search = selectors.CUSTOMER_SEARCH
    orderings = selectors.CUSTOMER_ORDERINGS

    def create(self, request):
        customer = services.customer_create(actor=request.user, **self.input())
        return self.answer(customer, code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        data = self.input(partial=True)
        return self.answer(services.customer_update(actor=request.user, customer_id=pk, **data))

    @action(detail=True, methods=["post"], url_path="sign-up")
    def sign_up(self, request, pk=None):
        customer = services.customer_sign_up(actor=request.user, customer_id=pk, **self.input())
        return self.answer(customer)


# --- Deals ------------------------------------------------------------------------------------


class DealFilter(filters.FilterSet):
    closed_after = IsoDateTimeFilter(field_name="closed_at", lookup_expr="gte")
    closed_before = IsoDateTimeFilter(field_name="closed_at", lookup_expr="lt")
    open = filters.BooleanFilter(method="filter_open", label="Only open (true) or closed (false)")
    rep = _rep_filter()
    customer = _customer_filter()

    class Meta:
        model = Deal
        fields = ["stage", "rep", "customer"]

    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset.closed()


class DealViewSet(ScopedViewSet):
    area = "sales"
    selector = selectors.deal_list
    output_serializer_class = s.DealOutputSerializer
    inputs = {
        "create": s.DealCreateInputSerializer,
        "partial_update": s.DealUpdateInputSerializer,
        "close": s.DealCloseInputSerializer,
        "reopen": None,
    }
    filterset_class = DealFilter
    search = selectors.DEAL_SEARCH
    orderings = selectors.DEAL_ORDERINGS

    def create(self, request):
        deal = services.deal_create(actor=request.user, **self.input())
        return self.answer(deal, code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        deal = services.deal_update(actor=request.user, deal_id=pk, **self.input(partial=True))
        return self.answer(deal)

    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        won = self.input()["outcome"] == DealOutcome.WON
        return self.answer(services.deal_close(actor=request.user, deal_id=pk, won=won))

    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self.answer(services.deal_reopen(actor=request.user, deal_id=pk))


# --- Activities -------------------------------------------------------------------------------


class ActivityFilter(filters.FilterSet):
    due_after = IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    rep = _rep_filter()
    customer = _customer_filter()

    class Meta:
        model = Activity
        fields = ["status", "kind", "rep", "customer"]


class ActivityViewSet(ScopedViewSet):
    area = "sales"
    selector = selectors.activity_list
    output_serializer_class = s.ActivityOutputSerializer
    inputs = {
        "create": s.ActivityInputSerializer,
        "complete": s.ActivityCompleteInputSerializer,
        "cancel": None,
        "reopen": None,
    }
    filterset_class = ActivityFilter
    search = selectors.ACTIVITY_SEARCH
    orderings = selectors.ACTIVITY_ORDERINGS

    def create(self, request):
        activity = services.activity_create(actor=request.user, **self.input())
        return self.answer(activity, code=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        data = self.input()
        return self.answer(services.activity_complete(actor=request.user, activity_id=pk, **data))

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self.answer(services.activity_cancel(actor=request.user, activity_id=pk))

    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self.answer(services.activity_reopen(actor=request.user, activity_id=pk))


# --- Tasks ------------------------------------------------------------------------------------


class TaskFilter(filters.FilterSet):
    due_after = IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    rep = _rep_filter()

    class Meta:
        model = Task
        fields = ["status", "rep"]


class TaskViewSet(ScopedViewSet):
    area = "sales"
    selector = selectors.task_list
    output_serializer_class = s.TaskOutputSerializer
    inputs = {"create": s.TaskInputSerializer, "partial_update": s.TaskStatusInputSerializer}
    filterset_class = TaskFilter
    search = selectors.TASK_SEARCH
    orderings = selectors.TASK_ORDERINGS

    def create(self, request):
        task = services.task_create(actor=request.user, **self.input())
        return self.answer(task, code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        done = self.input()["status"] == TaskStatus.DONE
        return self.answer(services.task_set_done(actor=request.user, task_id=pk, done=done))


# --- Routes -----------------------------------------------------------------------------------


class RouteFilter(filters.FilterSet):
    rep = _rep_filter()

    class Meta:
        model = Route
        fields = ["active", "rep"]


class RouteViewSet(ScopedViewSet):
    area = "sales"
    selector = selectors.route_list
    output_serializer_class = s.RouteOutputSerializer
    inputs = {"stops": s.RouteStopInputSerializer}
    filterset_class = RouteFilter
    search = selectors.ROUTE_SEARCH
    orderings = selectors.ROUTE_ORDERINGS

    def get_queryset(self):
        routes = super().get_queryset()
        if self.action == "retrieve":
            routes = routes.prefetch_related(
                Prefetch("stops", queryset=RouteStop.objects.select_related("customer"))
            )
        return routes

    @extend_schema(responses=s.RouteDetailOutputSerializer)
    def retrieve(self, request, pk=None):
        return Response(s.RouteDetailOutputSerializer(self.get_object()).data)

    @extend_schema(responses={201: s.RouteStopOutputSerializer})
    @action(detail=True, methods=["post"])
    def stops(self, request, pk=None):
        stop = services.route_stop_add(actor=request.user, route_id=pk, **self.input())
        return Response(s.RouteStopOutputSerializer(stop).data, status=status.HTTP_201_CREATED)
