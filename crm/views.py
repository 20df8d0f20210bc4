"""Server-rendered pages for reps and supervisors (being built)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def _todo(request, *args, **kwargs):
    return HttpResponse("")


home = deal_list = deal_create = deal_edit = deal_close = _todo
activity_list = activity_create = activity_complete = customer_list = customer_detail = _todo
