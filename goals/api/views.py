"""REST endpoints of goals (/api/goals/), built from crm.api.base: role-scoped reads, one service
per write, answers with the row the service returned."""

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api.base import ScopedModelChoiceFilter, ScopedViewSet
from crm.models import SalesRep, Team
from crm.selectors import rep_list, team_list
from goals import selectors, services
from goals.api import serializers as s
from goals.api.parameters import only_known
from goals.models import Goal


class GoalFilter(filters.FilterSet):
    rep = ScopedModelChoiceFilter(selector=rep_list, model=SalesRep)
    team = ScopedModelChoiceFilter(
        selector=lambda user: team_list(user=user),
        model=Team,
    )
    parent = ScopedModelChoiceFilter(
        selector=lambda user: selectors.goal_list(user=user), model=Goal
    )
    period_from = filters.DateFilter(field_name="period_end", lookup_expr="gte")
    period_to = filters.DateFilter(field_name="period_start", lookup_expr="lte")

    class Meta:
        model = Goal
        fields = ["owner_type", "metric", "status", "period_kind", "calculation_source", "parent"]


class GoalViewSet(ScopedViewSet):
    area = "goals"
    selector = selectors.goal_list
    output_serializer_class = s.GoalOutputSerializer
    inputs = {
        "create": s.GoalCreateInputSerializer,
        "partial_update": s.GoalUpdateInputSerializer,
        "recalculate": None,
        "manual_adjustment": s.GoalAdjustInputSerializer,
        "auto": None,
        "set_status": s.GoalStatusInputSerializer,
        "link_parent": s.GoalLinkInputSerializer,
        "unlink_parent": None,
        "recalculate_all": None,
    }
    filterset_class = GoalFilter
    search_fields = ["title", "description"]
    ordering_fields = ["period_start", "progress_percent", "title", "current_value"]
    # Ids are numbers: /api/goals/monthly/… (rep plans) is not a goal's page.
    lookup_value_regex = r"[0-9]+"

    def create(self, request):
        goal = services.goal_create(actor=request.user, **self.input())
        return self.answer(goal, code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        goal = services.goal_update(actor=request.user, goal_id=pk, **self.input(partial=True))
        return self.answer(goal)

    def destroy(self, request, pk=None):
        services.goal_delete(actor=request.user, goal_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def recalculate(self, request, pk=None):
        return self.answer(services.goal_recalculate_one(actor=request.user, goal_id=pk))

    @action(detail=True, methods=["post"], url_path="manual-adjustment")
    def manual_adjustment(self, request, pk=None):
        data = self.input()
        goal = services.goal_adjust(
            actor=request.user, goal_id=pk, value=data["value"], justification=data["justification"]
        )
        return self.answer(goal)

    @action(detail=True, methods=["post"])
    def auto(self, request, pk=None):
        """Return a manually set goal to calculation (recalculated at once)."""
        return self.answer(services.goal_return_to_auto(actor=request.user, goal_id=pk))

    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        goal = services.goal_set_status(actor=request.user, goal_id=pk, **self.input())
        return self.answer(goal)

    @action(detail=True, methods=["post"], url_path="link-parent")
    def link_parent(self, request, pk=None):
        goal = services.goal_link_parent(actor=request.user, goal_id=pk, **self.input())
        return self.answer(goal)

    @action(detail=True, methods=["post"], url_path="unlink-parent")
    def unlink_parent(self, request, pk=None):
        return self.answer(services.goal_unlink_parent(actor=request.user, goal_id=pk))

    @extend_schema(responses=s.ForecastSerializer)
    @action(detail=True, methods=["get"])
    def forecast(self, request, pk=None):
        return Response(s.ForecastSerializer(selectors.forecast(self.get_object())).data)

    @extend_schema(responses=s.RevisionSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None)
    def revisions(self, request, pk=None):
        """The goal's target revisions, oldest first (its original target is on the goal)."""
        return Response(
            s.RevisionSerializer(selectors.revisions(self.get_object()), many=True).data
        )

    @extend_schema(responses=s.HistoryPointSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, url_path="progress-history")
    def progress_history(self, request, pk=None):
        """The goal's value day by day, as its page draws it: the daily snapshots, then today
        as the goal stands now."""
        goal = self.get_object()
        history = selectors.history_points(goal, today=selectors.goal_today(goal))
        return Response(s.HistoryPointSerializer(history, many=True).data)

    @extend_schema(responses=s.HierarchySerializer)
    @action(detail=True, methods=["get"])
    def hierarchy(self, request, pk=None):
        goal = self.get_object()
        visible = selectors.goal_list(user=request.user, as_of=False).values(*s.TREE_NODE_VALUES)
        children = selectors.subtree(visible, [goal.pk])
        node = visible.get(pk=goal.pk)
        selectors.attach_freshness(
            [node, *(row for rows in children.values() for row in rows)],
            among=selectors.within(goal.pk),
        )
        return Response(
            {
                "ancestors": s.GoalOutputSerializer(
                    selectors.ancestors(goal, user=request.user), many=True
                ).data,
                "goal": s.tree_node(node, children, now=timezone.now()),
            }
        )

    @extend_schema(responses=s.GoalOutputSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None)
    def children(self, request, pk=None):
        goal = self.get_object()
        below = self.get_queryset().filter(parent_id=goal.pk).order_by("owner_type", "title")
        return Response(s.GoalOutputSerializer(below, many=True).data)

    @extend_schema(parameters=[s.AnalyticsQuerySerializer], responses=s.AnalyticsSerializer)
    @action(detail=False, methods=["get"])
    def analytics(self, request):
        only_known(request, s.AnalyticsQuerySerializer)
        query = s.AnalyticsQuerySerializer(
            data=request.query_params, context=self.get_serializer_context()
        )
        query.is_valid(raise_exception=True)
        data = query.validated_data
        figures = selectors.analytics(
            user=request.user,
            metric=data.get("metric", ""),
            owner_type=data.get("owner_type", ""),
            start_date=data.get("start_date"),
            team_id=data["team"].pk if data.get("team") else None,
            attainment=data.get("attainment", selectors.Attainment.CURRENT),
        )
        return Response(s.AnalyticsSerializer(figures).data)

    @extend_schema(responses={202: None})
    @action(detail=False, methods=["post"], url_path="recalculate-all")
    def recalculate_all(self, request):
        """Queue the recalculation of every goal (the 15-minute job, now); see its job run."""
        result = services.goals_recalculate_all_later(actor=request.user)
        return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)
