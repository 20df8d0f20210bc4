from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.web import area_required


@area_required("supervision")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "supervision/index.html")
