from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.web import area_required


@area_required("goals")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "goals/index.html")
