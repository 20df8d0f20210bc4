"""Forms of tracking: a tenant in Django admin (its allowed origins one a line), and what a key
rotation is asked."""

from django import forms

from crm.validators import validate_storable_text
from crm.web import ServiceForm, TextField
from tracking import origins
from tracking.models import TrackingTenant

ORIGINS_HELP = (
    "One origin a line, as the browser's address bar shows the site without its path: "
    "scheme://host[:port], e.g. https://shop.example.com or http://localhost:8000. A browser "
    "on any other origin is refused. * alone allows every origin. Servers sending without an "
    "Origin header are not concerned."
)


class OriginsField(TextField):
    """A list of origins, edited as text of one origin a line; every bad line is named."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60, "spellcheck": "false"})

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", ORIGINS_HELP)
        kwargs.setdefault("max_length", origins.MAX_ORIGINS * (origins.MAX_ORIGIN_LENGTH + 2))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        if not text:
            return []
        # The text's own validators (its length, no NUL character) before it is read.
        super().run_validators(text)
        return origins.parse_origins(text)

    def run_validators(self, value) -> None:
        pass  # (they ran on the text, in to_python)


class TenantAdminForm(forms.ModelForm):
    # Declared, not generated: Django admin builds a model's text fields as plain CharFields.
    name = TextField(max_length=100)
    identifier = forms.SlugField(max_length=60, validators=[validate_storable_text])
    allowed_origins = OriginsField()

    class Meta:
        model = TrackingTenant
        fields = [
            "name", "identifier", "allowed_origins", "ip_handling", "bot_handling", "active",
            "kill_switch", "rate_per_minute", "webhook_rate_per_minute",
        ]  # fmt: skip


class RotateKeysForm(ServiceForm):
    """What a key rotation is asked before it happens."""

    KEEP, NOW = "keep", "now"

    CHOICES = [
        (KEEP, "Keep them working for the grace period, while websites and providers move to "
               "the new ones"),
        (NOW, "Stop them now (they leaked): events sent with them are refused"),
    ]  # fmt: skip

    previous = forms.ChoiceField(
        label="The previous key and secret", choices=CHOICES, initial=KEEP,
        widget=forms.RadioSelect,
    )  # fmt: skip
