"""The goals area's own links (templates/goals/partials/areanav.html), as the reader's role
offers them: decided by crm.roles' policies, never by a template."""

from django import template

from crm.roles import keeps_own_plan, may_correct_plans

register = template.Library()


@register.simple_tag(takes_context=True)
def plan_links(context: template.Context) -> dict[str, bool]:
    """`{% plan_links as offers %}`: `offers.own_plan` (a rep: "My goals") and
    `offers.compliance` (the people who follow and correct reps' plans: "Compliance")."""
    user = context["request"].user
    return {"own_plan": keeps_own_plan(user), "compliance": may_correct_plans(user)}
