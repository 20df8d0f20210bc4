"""REST endpoints for core CRM data. Thin: parse with an input serializer, call one service or
selector, answer with an output serializer. Querysets come from role-scoped selectors, so a
record outside the caller's scope is a 404."""

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm import selectors, services
from crm.api import serializers as s
from crm.api.permissions import HasCrmRole, ManagesRoutes
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


class ScopedViewSet(viewsets.GenericViewSet):
    """list + retrieve over a role-scoped selector, with writes answered by output serializers."""

    selector = None
    output_serializer_class = None

    def get_queryset(self):
        return type(self).selector(user=self.request.user)

    def get_serializer_class(self):
        return self.output_serializer_class

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.output_serializer_class(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.output_serializer_class(self.get_object()).data)

    def _input(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _answer(self, instance, *, code=status.HTTP_200_OK) -> Response:
        # Re-read through the selector so the answer has the same joins and scope as a GET.
        instance = self.get_queryset().get(pk=instance.pk)
        return Response(self.output_serializer_class(instance).data, status=code)


def _visible(selector, model):
    """A filter's choices, scoped like the list: an id outside the caller's scope is refused
    exactly like an id that does not exist, so a filter cannot probe for records."""

    def queryset(request):
        if request is None or not request.user.is_authenticated:
            return model.objects.none()
        return selector(user=request.user)

    return queryset


def _rep_filter(**kwargs) -> filters.ModelChoiceFilter:
    return filters.ModelChoiceFilter(queryset=_visible(selectors.rep_list, SalesRep), **kwargs)


def _customer_filter() -> filters.ModelChoiceFilter:
    return filters.ModelChoiceFilter(queryset=_visible(selectors.customer_list, Customer))


# --- Customers --------------------------------------------------------------------------------


class CustomerFilter(filters.FilterSet):
    owner = _rep_filter()

    class Meta:
        model = Customer
        fields = ["status", "owner"]


class CustomerViewSet(ScopedViewSet):
    selector = selectors.customer_list
    output_serializer_class = s.CustomerOutputSerializer
    filterset_class = CustomerFilter
    search_fields = ["name", "code", "address"]
    ordering_fields = ["name", "code", "signed_up_at", "created_at"]

    @extend_schema(request=s.CustomerInputSerializer, responses={201: s.CustomerOutputSerializer})
    def create(self, request):
        customer = services.customer_create(
            actor=request.user, **self._input(s.CustomerInputSerializer)
        )
        return self._answer(customer, code=status.HTTP_201_CREATED)

    @extend_schema(request=s.CustomerSignUpInputSerializer, responses=s.CustomerOutputSerializer)
    @action(detail=True, methods=["post"], url_path="sign-up")
    def sign_up(self, request, pk=None):
        customer = services.customer_sign_up(
            actor=request.user,
            customer=self.get_object(),
            **self._input(s.CustomerSignUpInputSerializer),
        )
        return self._answer(customer)


# --- Deals ------------------------------------------------------------------------------------


class DealFilter(filters.FilterSet):
    closed_after = filters.IsoDateTimeFilter(field_name="closed_at", lookup_expr="gte")
    closed_before = filters.IsoDateTimeFilter(field_name="closed_at", lookup_expr="lt")
    open = filters.BooleanFilter(method="filter_open", label="Only open (true) or closed (false)")
    rep = _rep_filter()
    customer = _customer_filter()

    class Meta:
        model = Deal
        fields = ["stage", "rep", "customer"]

    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset.closed()


class DealViewSet(ScopedViewSet):
    selector = selectors.deal_list
    output_serializer_class = s.DealOutputSerializer
    filterset_class = DealFilter
    search_fields = ["title", "customer__name"]
    ordering_fields = ["created_at", "amount", "closed_at", "title"]

    @extend_schema(request=s.DealCreateInputSerializer, responses={201: s.DealOutputSerializer})
    def create(self, request):
        deal = services.deal_create(actor=request.user, **self._input(s.DealCreateInputSerializer))
        return self._answer(deal, code=status.HTTP_201_CREATED)

    @extend_schema(request=s.DealUpdateInputSerializer, responses=s.DealOutputSerializer)
    def partial_update(self, request, pk=None):
        data = self._input(s.DealUpdateInputSerializer, partial=True)
        deal = services.deal_update(actor=request.user, deal=self.get_object(), **data)
        return self._answer(deal)

    @extend_schema(request=s.DealCloseInputSerializer, responses=s.DealOutputSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        outcome = self._input(s.DealCloseInputSerializer)["outcome"]
        deal = services.deal_close(
            actor=request.user, deal=self.get_object(), won=outcome == DealOutcome.WON
        )
        return self._answer(deal)

    @extend_schema(request=None, responses=s.DealOutputSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        deal = services.deal_reopen(actor=request.user, deal=self.get_object())
        return self._answer(deal)


# --- Activities -------------------------------------------------------------------------------


class ActivityFilter(filters.FilterSet):
    due_after = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    rep = _rep_filter()
    customer = _customer_filter()

    class Meta:
        model = Activity
        fields = ["status", "kind", "rep", "customer"]


class ActivityViewSet(ScopedViewSet):
    selector = selectors.activity_list
    output_serializer_class = s.ActivityOutputSerializer
    filterset_class = ActivityFilter
    search_fields = ["subject", "customer__name"]
    ordering_fields = ["due_at", "completed_at", "created_at"]

    @extend_schema(request=s.ActivityInputSerializer, responses={201: s.ActivityOutputSerializer})
    def create(self, request):
        activity = services.activity_create(
            actor=request.user, **self._input(s.ActivityInputSerializer)
        )
        return self._answer(activity, code=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.ActivityOutputSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        activity = services.activity_complete(actor=request.user, activity=self.get_object())
        return self._answer(activity)

    @extend_schema(request=None, responses=s.ActivityOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        activity = services.activity_cancel(actor=request.user, activity=self.get_object())
        return self._answer(activity)


# --- Tasks ------------------------------------------------------------------------------------


class TaskFilter(filters.FilterSet):
    rep = _rep_filter()

    class Meta:
        model = Task
        fields = ["status", "rep"]


class TaskViewSet(ScopedViewSet):
    selector = selectors.task_list
    output_serializer_class = s.TaskOutputSerializer
    filterset_class = TaskFilter
    search_fields = ["title"]
    ordering_fields = ["due_at", "created_at"]

    @extend_schema(request=s.TaskInputSerializer, responses={201: s.TaskOutputSerializer})
    def create(self, request):
        task = services.task_create(actor=request.user, **self._input(s.TaskInputSerializer))
        return self._answer(task, code=status.HTTP_201_CREATED)

    @extend_schema(request=s.TaskStatusInputSerializer, responses=s.TaskOutputSerializer)
    def partial_update(self, request, pk=None):
        new_status = self._input(s.TaskStatusInputSerializer)["status"]
        task = services.task_set_done(
            actor=request.user, task=self.get_object(), done=new_status == TaskStatus.DONE
        )
        return self._answer(task)


# --- Routes -----------------------------------------------------------------------------------


class RouteFilter(filters.FilterSet):
    rep = _rep_filter()

    class Meta:
        model = Route
        fields = ["active", "rep"]


class RouteViewSet(ScopedViewSet):
    selector = selectors.route_list
    output_serializer_class = s.RouteOutputSerializer
    permission_classes = [permissions.IsAuthenticated, HasCrmRole, ManagesRoutes]
    filterset_class = RouteFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]

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

    @extend_schema(request=s.RouteStopInputSerializer, responses={201: s.RouteStopOutputSerializer})
    @action(detail=True, methods=["post"])
    def stops(self, request, pk=None):
        stop = services.route_stop_add(
            actor=request.user, route=self.get_object(), **self._input(s.RouteStopInputSerializer)
        )
        return Response(s.RouteStopOutputSerializer(stop).data, status=status.HTTP_201_CREATED)
