from django import forms

from crm.web import DateTimeField, ServiceForm, TextField


class SwitchForm(ServiceForm):
    jobs_paused = forms.BooleanField(label="Pause its jobs", required=False)
    offline = forms.BooleanField(label="Take its pages and API offline", required=False)
    reason = TextField(
        label="Why", max_length=300, required=False,
        help_text="Shown to the people who open it, and kept in the audit.",
    )  # fmt: skip
    back_at = DateTimeField(label="Expected back (optional)", required=False)


class RateLimitResetForm(ServiceForm):
    reason = TextField(label="Why", max_length=300)


class DeadLetterActionForm(ServiceForm):
    task_name = TextField(max_length=200)
    action = forms.ChoiceField(choices=[("retry", "Send again"), ("discard", "Discard")])
