"""The rep plans' API, under /api/goals/ beside the goals (a rep sees their own, a supervisor
their teams', an admin everyone's):

    GET  monthly/current        this month's plans with figures, pace and deadline status
    POST monthly/set            set a month's targets (yours, or a rep's you manage: "rep")
    POST monthly/defaults       a team's default targets for plans not set (admins)
    GET  yearly/current         this year's goals
    POST yearly/set             set a year's targets
    GET  history                past months with figures and achievements (`rep` for a manager)
    GET  pending-deadlines      this month's plans not set yet, with their deadline status
    POST reminders/{id}/acknowledge
"""

from django.db import DatabaseError
from django.utils import timezone
from django.utils.functional import lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from crm import periods
from crm import selectors as crm_selectors
from crm.api.base import IdField, ScopedPrimaryKeyRelatedField, ScopedViewSet, TextField
from crm.api.schema import ErrorSerializer
from crm.api.serializers import RepSummarySerializer
from goals import selectors as goal_selectors
from goals.api.parameters import only_known
from goals.models import MAX_TIER, Pace, RepPlan
from goals.plans import selectors, services

AMOUNT = {"max_digits": 14, "decimal_places": 2}
PERCENT = {"max_digits": 8, "decimal_places": 2}


def _bonus_tier_help() -> str:
    """The tiers with their thresholds as they are when the schema is asked for."""
    try:
        tiers = "; ".join(label for tier, label in selectors.bonus_tier_choices() if tier)
    except DatabaseError:  # a schema generated without the database (a build step)
        tiers = "each from a month's revenue kept in Django admin (Bonus tiers)"
    return f"The bonus tier aimed for: 0 (none) to {MAX_TIER}. {tiers}."


BONUS_TIER_HELP = lazy(_bonus_tier_help, str)()


# --- Shapes ---------------------------------------------------------------------------------------


class PlanOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rep = RepSummarySerializer()
    year = serializers.IntegerField()
    month = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()
    deadline = serializers.DateTimeField(allow_null=True)
    goal_set_at = serializers.DateTimeField(allow_null=True)
    set_by_deadline = serializers.BooleanField()
    deadline_status = serializers.ChoiceField(choices=list(selectors.DeadlineStatus.LABELS.items()))
    signup_goal = serializers.DecimalField(allow_null=True, **AMOUNT)
    signups = serializers.DecimalField(allow_null=True, **AMOUNT)
    signup_percent = serializers.DecimalField(allow_null=True, **PERCENT)
    revenue_goal = serializers.DecimalField(allow_null=True, **AMOUNT)
    revenue = serializers.DecimalField(allow_null=True, **AMOUNT)
    revenue_percent = serializers.DecimalField(allow_null=True, **PERCENT)
    bonus_tier_goal = serializers.DecimalField(allow_null=True, **AMOUNT)
    bonus_tier = serializers.DecimalField(allow_null=True, **AMOUNT)
    bonus_tier_percent = serializers.DecimalField(allow_null=True, **PERCENT)
    expected_percent = serializers.DecimalField(max_digits=None, decimal_places=2)
    pace = serializers.ChoiceField(
        choices=[("", "No goal set"), *Pace.choices], help_text="Blank without targets."
    )
    on_pace = serializers.BooleanField()
    days_remaining = serializers.IntegerField(allow_null=True)
    signup_original_goal = serializers.DecimalField(
        allow_null=True, help_text="The signup goal first committed to.", **AMOUNT
    )
    signup_original_percent = serializers.SerializerMethodField()
    revenue_original_goal = serializers.DecimalField(
        allow_null=True, help_text="The revenue goal first committed to.", **AMOUNT
    )
    revenue_original_percent = serializers.SerializerMethodField()
    bonus_tier_original_goal = serializers.DecimalField(allow_null=True, **AMOUNT)
    verdicts = serializers.SerializerMethodField(
        help_text="Each goal's own verdict by metric (signups, revenue, bonus_tier), the one its "
        "page gives: " + goal_selectors.VERDICT_RULE
    )
    as_of = serializers.SerializerMethodField(
        help_text="When the plan's figures were counted: the oldest of its goals' counts."
    )

    @extend_schema_field(serializers.DecimalField(allow_null=True, **PERCENT))
    def get_signup_original_percent(self, plan):
        return self._percent(selectors.original_percent(plan.signups, plan.signup_original_goal))

    @extend_schema_field(serializers.DecimalField(allow_null=True, **PERCENT))
    def get_revenue_original_percent(self, plan):
        return self._percent(selectors.original_percent(plan.revenue, plan.revenue_original_goal))

    @extend_schema_field(serializers.DictField(child=serializers.CharField(allow_null=True)))
    def get_verdicts(self, plan) -> dict:
        if plan.month is None:
            return {}
        zone = periods.zone_named(plan.rep.timezone)
        return selectors.figure_verdicts(
            plan,
            period=periods.month(plan.year, plan.month, zone),
            today=periods.local_date(timezone.now(), zone),
        )

    def _percent(self, value):
        return (
            None if value is None else serializers.DecimalField(**PERCENT).to_representation(value)
        )

    stale = serializers.SerializerMethodField(
        help_text="A figure the CRM still counts was not counted for longer than the fallback "
        "recalculation's interval plus 5 minutes."
    )

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_as_of(self, plan):
        moment = selectors.figures_as_of(plan).moment
        return serializers.DateTimeField().to_representation(moment) if moment else None

    def get_stale(self, plan) -> bool:
        return selectors.figures_as_of(plan).stale


class AchievementSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField(source="get_kind_display")
    achieved_at = serializers.DateTimeField()


class HistorySerializer(PlanOutputSerializer):
    achievements = serializers.SerializerMethodField()

    def get_achievements(self, plan) -> list[dict]:
        return AchievementSerializer(self.context["achievements"].get(plan.pk, []), many=True).data


KEPT = " Left out: the plan's current goal, or 0 on a plan without one."
REASON_HELP = (
    "Why goals already set change once the period has started (at least 10 visible "
    "characters): required then."
)


class PlanSetInputSerializer(serializers.Serializer):
    signup_goal = serializers.IntegerField(
        min_value=0, max_value=services.MAX_SIGNUP_GOAL, required=False, help_text=KEPT
    )
    revenue_goal = serializers.DecimalField(
        min_value=0, max_value=services.MAX_REVENUE_GOAL, required=False, help_text=KEPT, **AMOUNT
    )
    bonus_tier_goal = serializers.IntegerField(
        min_value=0,
        max_value=MAX_TIER,
        required=False,
        help_text=lazy(lambda: str(BONUS_TIER_HELP) + KEPT, str)(),
    )
    reason = TextField(required=False, allow_blank=True, help_text=REASON_HELP)
    rep = IdField(
        source="rep_id", required=False, help_text="A rep you manage (reps: omit, it is yours)."
    )
    year = serializers.IntegerField(min_value=1970, max_value=2099, required=False)
    month = serializers.IntegerField(
        min_value=1, max_value=12, required=False, help_text="This month by default."
    )


class YearSetInputSerializer(serializers.Serializer):
    revenue_goal = serializers.DecimalField(
        min_value=0, max_value=services.MAX_REVENUE_GOAL, required=False, help_text=KEPT, **AMOUNT
    )
    signup_goal = serializers.IntegerField(
        min_value=0, max_value=services.MAX_SIGNUP_GOAL, required=False, help_text=KEPT
    )
    reason = TextField(required=False, allow_blank=True, help_text=REASON_HELP)
    rep = IdField(
        source="rep_id", required=False, help_text="A rep you manage (reps: omit, it is yours)."
    )
    year = serializers.IntegerField(min_value=1970, max_value=2099, required=False)


class DefaultsInputSerializer(serializers.Serializer):
    team = ScopedPrimaryKeyRelatedField(selector=crm_selectors.team_list)
    year = serializers.IntegerField(min_value=1970, max_value=2099)
    month = serializers.IntegerField(min_value=1, max_value=12)
    signup_goal = serializers.IntegerField(min_value=0, max_value=services.MAX_SIGNUP_GOAL)
    revenue_goal = serializers.DecimalField(
        min_value=0, max_value=services.MAX_REVENUE_GOAL, **AMOUNT
    )
    bonus_tier_goal = serializers.IntegerField(
        min_value=0, max_value=MAX_TIER, help_text=BONUS_TIER_HELP
    )


class PlanFilterSerializer(serializers.Serializer):
    team = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    pace = serializers.ChoiceField(choices=Pace.choices, required=False)
    deadline = serializers.ChoiceField(
        choices=["not_set", *selectors.DeadlineStatus.LABELS], required=False
    )
    order = serializers.ChoiceField(choices=list(selectors.ORDERINGS), required=False)


class HistoryFilterSerializer(serializers.Serializer):
    rep = IdField(required=False, help_text="A rep you see (reps: omit, it is yours).")


class DefaultsAnswerSerializer(serializers.Serializer):
    plans = serializers.IntegerField(help_text="Plans not set that took the defaults.")


# --- Endpoints ------------------------------------------------------------------------------------


class PlanViewSet(ScopedViewSet):
    area = "goals"
    selector = selectors.plan_list
    output_serializer_class = PlanOutputSerializer
    inputs = {
        "monthly_set": PlanSetInputSerializer,
        "yearly_set": YearSetInputSerializer,
        "monthly_defaults": DefaultsInputSerializer,
        "acknowledge": None,
    }

    def get_queryset(self):
        # The plan lists read the reps' time zones when they are built: the schema's dry run
        # (drf-spectacular) gets the model without a database.
        if getattr(self, "swagger_fake_view", False):
            return RepPlan.objects.none()
        return super().get_queryset()

    def _query(self, serializer_class) -> dict:
        only_known(self.request, serializer_class, paged=True)
        query = serializer_class(
            data=self.request.query_params, context=self.get_serializer_context()
        )
        query.is_valid(raise_exception=True)
        return query.validated_data

    def _page(self, plans) -> Response:
        page = self.paginate_queryset(plans)
        return self.get_paginated_response(PlanOutputSerializer(page, many=True).data)

    @extend_schema(parameters=[PlanFilterSerializer], responses=PlanOutputSerializer(many=True))
    def monthly_current(self, request):
        """This month's plans of the reps you see (a rep: their own)."""
        return self._page(
            selectors.this_months_plans(user=request.user, **self._query(PlanFilterSerializer))
        )

    @extend_schema(
        request=PlanSetInputSerializer,
        responses={200: PlanOutputSerializer, 404: ErrorSerializer},
        description="A rep outside your scope (or none) answers 404, like one that does not exist.",
    )
    def monthly_set(self, request):
        """Set a month's signup, revenue and bonus tier goals (this month's by default)."""
        plan = services.plan_set(actor=request.user, **self.input())
        return self._one(plan)

    @extend_schema(request=DefaultsInputSerializer, responses=DefaultsAnswerSerializer)
    def monthly_defaults(self, request):
        """Give a team's plans of a month that are not set yet these targets (admins)."""
        data = self.input()
        team = data.pop("team")
        given = services.plans_set_defaults(actor=request.user, team_id=team.pk, **data)
        return Response({"plans": given})

    @extend_schema(responses=PlanOutputSerializer(many=True))
    def yearly_current(self, request):
        """This year's goals of the reps you see (a rep: their own, their year in their zone)."""
        only_known(request, paged=True)
        return self._page(selectors.this_years_plans(user=request.user))

    @extend_schema(
        request=YearSetInputSerializer, responses={200: PlanOutputSerializer, 404: ErrorSerializer}
    )
    def yearly_set(self, request):
        """Set a year's revenue and signup goals (this year's by default)."""
        plan = services.plan_set_year(actor=request.user, **self.input())
        return self._one(plan)

    @extend_schema(
        parameters=[HistoryFilterSerializer],
        responses={200: HistorySerializer(many=True), 404: ErrorSerializer},
    )
    def history(self, request):
        """A rep's past months, newest first, with their figures and achievements."""
        named = self._query(HistoryFilterSerializer).get("rep")
        rep = selectors.plan_rep(user=request.user, rep_id=named)
        if rep is None:
            raise NotFound("Name a rep: ?rep=" if named is None else "No such rep here.")
        page = self.paginate_queryset(selectors.past_plans(user=request.user, rep=rep))
        won = selectors.achievements_by_plan(user=request.user, plans=page)
        data = HistorySerializer(page, many=True, context={"achievements": won}).data
        return self.get_paginated_response(data)

    @extend_schema(parameters=[PlanFilterSerializer], responses=PlanOutputSerializer(many=True))
    def pending_deadlines(self, request):
        """This month's plans not set yet (a rep: their own), with their deadline status."""
        criteria = {**self._query(PlanFilterSerializer), "deadline": "not_set"}
        return self._page(selectors.this_months_plans(user=request.user, **criteria))

    @extend_schema(request=None, responses={204: None})
    def acknowledge(self, request, pk=None):
        """Acknowledge a deadline reminder (yours)."""
        services.reminder_acknowledge(actor=request.user, reminder_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _one(self, plan) -> Response:
        fresh = selectors.plan_list(user=self.request.user, yearly=plan.month is None).get(
            pk=plan.pk
        )
        return Response(PlanOutputSerializer(fresh).data)
