"""What every app's server-rendered pages are built from: the area gate, list pages with filters
and paging, forms whose data goes to a service, and htmx row actions.

A list and its row action, in any app:

    DEALS = ListPage("crm", "deal", "Deals", selectors.deal_list, DealFilterForm)

    @area_required("sales")
    def deal_list(request):
        return DEALS.render(request)

    @area_required("sales")
    @require_POST
    def deal_close(request, pk):
        return DEALS.row_action(request, pk, lambda data: services.deal_close(...), form=...)

The list template (crm/deal_list.html) extends "list.html", which brings the card layout on
phones and the bottom action bar; the row template (crm/partials/deal_row.html) is one `<tr>`
whose cells carry `data-label`. See the README, "Pages for every screen".
"""

import csv
import datetime as dt
import hashlib
import html
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce, wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Page
from django.core.validators import ProhibitNullCharactersValidator
from django.db import IntegrityError, connections
from django.db.models import F, OrderBy, Q, QuerySet
from django.forms.utils import flatatt
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django_htmx.http import HttpResponseClientRedirect

from crm.areas import can_use
from crm.errors import Conflict, from_integrity_error
from crm.ids import parse_id
from crm.pagination import DeferredJoinPaginator
from crm.periods import validate_in_range
from crm.roles import Actor
from crm.switches.selectors import area_of_module, offline_state
from crm.validators import (
    NOTHING_VISIBLE,
    MinVisibleLengthValidator,
    validate_storable_text,
    visible_length,
)

PAGE_SIZE = 50

View = Callable[..., HttpResponse]


# --- Access -----------------------------------------------------------------------------------


def area_required(area: str) -> Callable[[View], View]:
    """login_required plus crm.areas.can_use(user, area): 403 for a role that may not use it.

    An anonymous htmx request gets a client-side redirect to the login page; a plain redirect
    would be followed by the XHR and the login form swapped into a table row.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                if request.htmx:
                    back_to = request.htmx.current_url_abs_path or request.get_full_path()
                    return HttpResponseClientRedirect(redirect_to_login(back_to).url)
                return redirect_to_login(request.get_full_path())
            if not can_use(request.user, area):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.area = area  # for crm.switches (an area taken offline)
        return wrapper

    return decorator


def form_action(back: Callable[..., str]) -> Callable[[View], View]:
    """For a URL that forms post to: a GET (a reload, the back button, a link followed) goes
    to the page the form belongs to, `back(request, **url kwargs)`, never to a 405 page."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in ("GET", "HEAD"):
                return redirect(back(request, *args, **kwargs))
            if request.method != "POST":
                return HttpResponseNotAllowed(["GET", "POST"])
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- Forms ------------------------------------------------------------------------------------


def error_messages(error: ValidationError | Conflict) -> list[str]:
    return [error.message] if isinstance(error, Conflict) else error.messages


class ServiceForm(forms.Form):
    """A form whose data goes to a service, which may refuse it."""

    def add_service_error(self, error: ValidationError | Conflict) -> None:
        """Show a service's refusal on the form: field errors next to their field, the rest
        (plain messages, conflicts, fields the form does not have) at the top."""
        if isinstance(error, Conflict):
            self.add_error(None, error.message)
            return
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            target = field if field in self.fields and field != NON_FIELD_ERRORS else None
            self.add_error(target, errors)

    def all_errors(self) -> list[str]:
        return [message for errors in self.errors.values() for message in errors]


class ScopedForm(ServiceForm):
    """A form that knows the requesting user, for choice fields scoped by its role."""

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user


class TextField(forms.CharField):
    """Text a person types, as every database of the CRM can store it (crm.validators): no NUL,
    no half of a character. Required text needs a character a reader sees (twelve zero-width
    spaces are nothing), and `min_length` counts those only. Every form's text field is one
    (a test walks every form)."""

    def __init__(self, *, min_length: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        # Django's own NUL check gives way to the shared one (one message for every text).
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitNullCharactersValidator)
        ]
        self.validators.append(validate_storable_text)
        self.min_length = min_length  # the page's minlength attribute too
        if min_length is not None:
            self.validators.append(MinVisibleLengthValidator(min_length))

    def validate(self, value: Any) -> None:
        super().validate(value)
        if self.required and value and not visible_length(value):
            raise ValidationError(NOTHING_VISIBLE, code="required")


class DateTimeField(forms.DateTimeField):
    """A date and time picker (the phone's own), read in the user's zone and kept within the
    CRM's range of dates (crm.periods)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    default_validators = [validate_in_range]


class DateField(forms.DateField):
    """The phone's own date picker, within the CRM's range of dates."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    default_validators = [validate_in_range]


class MonthSelect(forms.Select):
    """Months by name ("July 2026", value "2026-07"), from two years before this month to a
    year after it, and the month given if it lies outside them; with none given, this month is
    the one shown (a blank month means this one wherever a month is optional). Every browser
    shows a select the same way; `<input type=month>` reads "--------- ----" in Chromium when
    empty, and Firefox and Safari on a desktop have no such control."""

    MONTHS_BACK, MONTHS_AHEAD = 24, 12

    def format_value(self, value):
        if value in (None, ""):
            value = timezone.localdate()
        if isinstance(value, dt.date):
            return [f"{value:%Y-%m}"]
        return super().format_value(value)

    def get_context(self, name, value, attrs):
        this = timezone.localdate()
        first = this.year * 12 + this.month - 1 - self.MONTHS_BACK
        months = [
            dt.date(n // 12, n % 12 + 1, 1)
            for n in range(first, first + self.MONTHS_BACK + self.MONTHS_AHEAD + 1)
        ]
        choices = {f"{month:%Y-%m}": date_format(month, "F Y") for month in months}
        for given in self.format_value(value):  # a month further away (or not one), as sent
            try:
                choices.setdefault(given, date_format(dt.datetime.strptime(given, "%Y-%m"), "F Y"))
            except ValueError:
                choices.setdefault(given, given)
        self.choices = sorted(choices.items())
        return super().get_context(name, value, attrs)


class MonthField(forms.DateField):
    """A month, chosen by name from a list around today ("2026-07"), as its first day."""

    widget = MonthSelect
    input_formats = ["%Y-%m"]
    default_validators = [validate_in_range]


class LongSelect(forms.Select):
    """A select for long lists (every team, every rep of a large company): its options written
    in one pass, not through a template each (Django's way, about 0.1 ms an option: a second
    for a list of ten thousand). Flat choices only."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in self.format_value(value)}
        # Escaped here, once per option: format_html costs ten times more (20 ms a list of
        # a thousand, the compliance page has two).
        options = "".join(
            f'<option value="{html.escape(str(key))}"{" selected" if str(key) in chosen else ""}>'
            f"{html.escape(str(label))}</option>"
            for key, label in ((("" if k is None else k), v) for k, v in self.choices)
        )
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(final), mark_safe(options))


class LongChoiceField(forms.TypedChoiceField):
    """A choice among many (every team of a large company), in a LongSelect, its options set
    with `set_options` as (value, label) pairs taken as they are: Django normalises each
    option on assignment, 10 ms for a thousand."""

    widget = LongSelect

    def set_options(self, pairs: list[tuple[Any, str]]) -> None:
        self._choices = self.widget.choices = pairs


class AmountField(forms.DecimalField):
    """A money amount: a decimal keypad on phones, never negative."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", 0)
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        # A text input with a decimal keypad: type=number would drop "1.250,50" silently.
        return {**super().widget_attrs(widget), "inputmode": "decimal", "type": "text"}


class OrderingField(forms.ChoiceField):
    """How a list is sorted: one of its selector's whitelisted orderings ({key: Ordering},
    e.g. crm.selectors.DEAL_ORDERINGS), the first when none is asked for. On a phone it is a
    select among the filters; on a desktop the column headers link to the same keys
    (`{% sort_header %}`, crm/templatetags/lists.py)."""

    def __init__(self, orderings: dict[str, Any], **kwargs) -> None:
        kwargs.setdefault("label", "Sort by")
        kwargs.setdefault("required", False)
        choices = [(key, ordering.label) for key, ordering in orderings.items()]
        super().__init__(choices=choices, **kwargs)
        self.default = choices[0][0]

    def clean(self, value: Any) -> str:
        return super().clean(value) or self.default

    def has_changed(self, initial: Any, data: Any) -> bool:
        # The default, asked for or not, is no filter in use.
        return (data or self.default) != (initial or self.default)


def call_service(form: ServiceForm, service: Callable[..., Any]) -> Any | None:
    """Call `service` with the form's cleaned data; None when the form or the service refused
    it, with the reasons added to the form."""
    if not form.is_valid():
        return None
    try:
        return service(**form.cleaned_data)
    except IntegrityError as error:  # a race another writer won: say what collided
        form.add_service_error(from_integrity_error(error))
    except (ValidationError, Conflict) as error:
        form.add_service_error(error)
    return None


def post_data(request: HttpRequest) -> Any:
    # Not `request.POST or None`: an empty POST must still be a bound (and invalid) form.
    return request.POST if request.method == "POST" else None


def form_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Render a form page: a submitted form that comes back here was refused, so 400."""
    return render(request, template, context, status=400 if request.method == "POST" else 200)


# --- Lists ------------------------------------------------------------------------------------


def paginate(
    request: HttpRequest, queryset: QuerySet, per_page: int = PAGE_SIZE, *, number: Any = None
) -> Page:
    """The page `number` of `queryset`, else the one the query string asks for (`?page=`)."""
    return DeferredJoinPaginator(queryset, per_page).get_page(number or request.GET.get("page"))


@dataclass(frozen=True)
class _SortKey:
    """One column of a list's ordering, as the database sorts it."""

    expression: Any
    descending: bool
    nulls_first: bool  # where NULL sorts in this list, explicitly or by the database's default


def _sort_keys(rows: QuerySet) -> list[_SortKey]:
    """The ordering of `rows` as sort keys, the primary key last (a unique key pins a row)."""
    query = rows.query
    ordering = query.order_by or (rows.model._meta.ordering if query.default_ordering else ())
    # PostgreSQL sorts NULL as the largest value, SQLite as the smallest.
    nulls_largest = connections[rows.db].features.nulls_order_largest
    keys = []
    for item in ordering:
        if isinstance(item, str):
            item = F(item[1:]).desc() if item.startswith("-") else F(item).asc()
        elif not isinstance(item, OrderBy):
            item = item.asc()
        nulls_first = item.nulls_first or (not item.nulls_last and nulls_largest == item.descending)
        keys.append(_SortKey(item.expression, item.descending, bool(nulls_first)))
    primary = {"pk", rows.model._meta.pk.name}
    if not any(isinstance(key.expression, F) and key.expression.name in primary for key in keys):
        keys.append(_SortKey(F("pk"), False, False))
    return keys


def _sorts_before(name: str, key: _SortKey, value: Any) -> Q | None:
    """Rows whose `name` (the key, aliased) sorts before `value`; None: no row does."""
    if value is None:
        return None if key.nulls_first else Q(**{f"{name}__isnull": False})
    before = Q(**{f"{name}__{'gt' if key.descending else 'lt'}": value})
    return before | Q(**{f"{name}__isnull": True}) if key.nulls_first else before


def page_of(rows: QuerySet, pk: int, per_page: int = PAGE_SIZE) -> int | None:
    """The number of the page of `rows`, in their order, that holds row `pk` (None if it is
    not one of them), in two queries that sort nothing: the row's sort keys, then a count of
    the rows that sort before it by those keys (a keyset COUNT; where an index serves the
    ordering, as the deals' newest first, it reads only those rows, none or few for a new
    one). Never a numbering of every row in scope."""
    keys = _sort_keys(rows)
    names = [f"sort_key_{index}" for index in range(len(keys))]
    aliases = {name: key.expression for name, key in zip(names, keys, strict=True)}
    found = list(rows.filter(pk=pk).order_by().annotate(**aliases).values_list(*names)[:1])
    if not found:
        return None
    earlier, same_so_far = [], Q()
    for name, key, value in zip(names, keys, found[0], strict=True):
        before = _sorts_before(name, key, value)
        if before is not None:
            earlier.append(same_so_far & before)
        same_so_far &= Q(**{f"{name}__isnull": True} if value is None else {name: value})
    if not earlier:
        return 1
    position = rows.order_by().alias(**aliases).filter(reduce(operator.or_, earlier)).count()
    return position // per_page + 1


def version_of(*values: Any) -> str:
    """A short digest of what a block of a page shows, for its polling (`?since=`): equal
    digests, nothing new to show (204)."""
    return hashlib.sha256(repr(values).encode()).hexdigest()[:16]


def page_version(page: Page, row_version: Callable[[Any], Any] | None = None) -> str:
    """A digest of the page's rows as last changed: `row_version(row)` where the list gives
    one (what a row shows may move without `updated_at`: a goal counted again says so), else
    the row's own `version` where its model has one, else its `updated_at`."""
    if row_version is None:
        return version_of(
            *((row.pk, getattr(row, "version", getattr(row, "updated_at", ""))) for row in page)
        )
    return version_of(*((row.pk, row_version(row)) for row in page))


def _without(url: str, parameter: str) -> str:
    path, _, query = url.partition("?")
    params = QueryDict(query, mutable=True)
    params.pop(parameter, None)
    return f"{path}?{params.urlencode()}" if params else path


# --- CSV ----------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet: text that would start a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]):
    """Stream rows as a CSV download (UTF-8 with a byte-order mark, for spreadsheets)."""

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def return_to(request: HttpRequest, default: str) -> str:
    """Where an action sends the user back: the page its form was on (`next`, posted or in the
    query string of a form's page, if it is one of ours), else `default` (a URL name, or a
    path)."""
    url = request.POST.get("next") or request.GET.get("next", "")
    # A path of ours, never a bare word: redirect() would take "a b" for a view's name.
    if url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default if default.startswith("/") else reverse(default)


@dataclass(frozen=True)
class ListPage:
    """A paged, filtered list of a selector's rows whose actions swap one row in place.

    `selector(user=…, **filters)` returns the role-scoped rows; `filters` is a form over the
    query string whose fields are the selector's keyword arguments (an invalid filter filters
    nothing). By convention the page is `<app>/<name>_list.html`, a row `<app>/partials/
    <name>_row.html` rendered as `<name>`, and the list's URL is named `<name>-list` (in the
    app's namespace, if it has one).
    """

    app: str
    name: str
    title: str
    selector: Callable[..., QuerySet]
    filters: type[forms.Form]
    namespace: str = ""
    # Live lists refresh their rows by themselves (htmx polling; an unchanged page answers 204).
    live: bool = False
    # What the rows show depending on who reads them (request → template context, decided by
    # crm.roles' policies, e.g. {"shows_reps": …}): given to the page, to a row an action
    # swaps in and to a live list's fresh rows alike.
    reader: Callable[[HttpRequest], dict[str, Any]] | None = None
    # What a row's version is, when more than its `updated_at` moves what it shows (page_version).
    row_version: Callable[[Any], Any] | None = None

    def reader_context(self, request: HttpRequest) -> dict[str, Any]:
        return self.reader(request) if self.reader is not None else {}

    @property
    def template(self) -> str:
        return f"{self.app}/{self.name}_list.html"

    @property
    def row_template(self) -> str:
        return f"{self.app}/partials/{self.name}_row.html"

    @property
    def url_name(self) -> str:
        return f"{self.namespace}:{self.name}-list" if self.namespace else f"{self.name}-list"

    def rows(self, user, **filters) -> QuerySet:
        return self.selector(user=user, **filters)

    def row_link(self, pk: int) -> str:
        """The list, at row `pk`: where a row action's URL sends someone who opens it (a
        reload, the back button) instead of a 405."""
        return f"{reverse(self.url_name)}#{self.name}-{pk}"

    def created_link(self, pk: int) -> str:
        """Where a create form lands: the list, on the page that holds the new row, marked."""
        return f"{reverse(self.url_name)}?created={pk}#{self.name}-{pk}"

    def filter_form(self, request: HttpRequest) -> forms.Form:
        """The filters, over the query string (a ScopedForm also gets the user, for choices
        limited to what they may see)."""
        if issubclass(self.filters, ScopedForm):
            return self.filters(request.GET, user=request.user)
        return self.filters(request.GET)

    def render(
        self,
        request: HttpRequest,
        *,
        status: int = 200,
        extra: dict[str, Any] | None = None,
        filters: forms.Form | None = None,
    ) -> HttpResponse:
        """The page; `extra` adds to the template's context (what the page shows besides
        the list); `filters`, the filter form when the view built it (its choices shared with
        another form of the page), else `filter_form`'s."""
        filters = filters if filters is not None else self.filter_form(request)
        criteria = filters.cleaned_data if filters.is_valid() else {}
        rows = self.rows(request.user, **criteria)
        # `?created=<id>`, where a create form lands: the page that holds the new row, marked.
        created = parse_id(request.GET.get("created"))
        number = None
        if created is not None and "page" not in request.GET:
            number = page_of(rows, created)
        page = paginate(request, rows, number=number)
        version = page_version(page, self.row_version)
        if self.live and request.htmx and "since" in request.GET:
            return self._fresh_rows(request, page, version)
        # A failed POST re-renders the list at the action's URL: row forms return to the list.
        back = request.get_full_path() if request.method == "GET" else reverse(self.url_name)
        context = {
            "listing": self,
            "filters": filters,
            "page_obj": page,
            "page_version": version,
            "return_to": back,
            "refresh_seconds": settings.LIVE_REFRESH_SECONDS,
            "created": created,
            **self.reader_context(request),
            **(extra or {}),
        }
        return render(request, self.template, context, status=status)

    def _fresh_rows(self, request: HttpRequest, page: Page, version: str) -> HttpResponse:
        """A live list's poll: nothing (204) if the page's rows did not change since `since`,
        else its rows again (with the new version to ask about next)."""
        if request.GET["since"] == version:
            return HttpResponse(status=204)
        back = request.htmx.current_url_abs_path or reverse(self.url_name)
        shared = {"return_to": back, **self.reader_context(request)}
        rows = [
            render_to_string(self.row_template, {self.name: row, **shared}, request=request)
            for row in page
        ]
        context = {
            "rows": mark_safe("".join(rows)),  # each rendered (and escaped) by its template
            "poll_url": _without(request.get_full_path(), "since"),
            "page_version": version,
            "refresh_seconds": settings.LIVE_REFRESH_SECONDS,
        }
        return render(request, "partials/live_tbody.html", context)

    def row_action(
        self,
        request: HttpRequest,
        pk: int,
        act: Callable[[dict], Any],
        *,
        form: ServiceForm | None = None,
    ) -> HttpResponse:
        """Run `act(cleaned data)` (a service call that returns the row with the list's joins)
        and answer: htmx gets the row (with the errors, 400); a plain POST goes back to the
        page it came from, or sees the list again with the errors (400)."""
        errors: list[str] = []
        row = None
        if form is not None and not form.is_valid():
            errors = form.all_errors()
        else:
            try:
                row = act(form.cleaned_data if form is not None else {})
            except IntegrityError as error:  # a race another writer won: say what collided
                errors = error_messages(from_integrity_error(error))
            except (ValidationError, Conflict) as error:
                errors = error_messages(error)
        back = return_to(request, self.url_name)
        if request.htmx:
            if row is None:  # refused: show the row as it is now, with the reason
                row = get_object_or_404(self.rows(request.user), pk=pk)
            context = {
                self.name: row,
                "return_to": back,
                "errors": errors,
                **self.reader_context(request),
            }
            return render(request, self.row_template, context, status=400 if errors else 200)
        if errors:
            for error in errors:
                messages.error(request, error)
            return self.render(request, status=400)
        return redirect(back)


# --- Home panels ---------------------------------------------------------------------------------

HomePanel = Callable[[HttpRequest], str | None]
_home_panels: list[tuple[Callable[[Actor], bool], HomePanel]] = []


def home_panel(shown_to: Callable[[Actor], bool]) -> Callable[[HomePanel], HomePanel]:
    """Decorator: a feature app's block on the home page of the users a crm.roles policy admits
    (`@home_panel(keeps_own_plan)`), in its `panels.py` (found at start-up): a function of the
    request returning the block's HTML, or None to show nothing. The core's home page shows them
    without knowing the apps."""

    def decorator(panel: HomePanel) -> HomePanel:
        if (shown_to, panel) not in _home_panels:
            _home_panels.append((shown_to, panel))
        return panel

    return decorator


def home_panels(request: HttpRequest) -> list[str]:
    """The blocks the user's home page shows; none of an area taken offline (crm.switches)."""
    return [
        html
        for shown_to, panel in _home_panels
        if shown_to(request.user)
        and offline_state(area_of_module(panel.__module__)) is None
        and (html := panel(request))
    ]
