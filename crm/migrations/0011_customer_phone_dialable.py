"""A customer's phone is a number a phone can dial (crm.models.validate_phone: digits with
spaces and + ( ) - ., "+" only in front, at least three digits) in the database too, as a check
constraint both PostgreSQL and SQLite run (Django's `regex` lookup). Phones that break it
(written before the rule, by an import or by hand) are cleared first, each recorded in the
audit trail with the old text, so that the constraint can be added on any data and nothing
is lost without a trace. Reversible: the constraint goes; cleared phones stay cleared."""

from django.db import migrations, models
from django.db.models import Q

# crm.models' rule when this was written.
NOT_ALLOWED = r"[^0-9 ().+-]"
PLUS_INSIDE = r".[+]"
THREE_DIGITS = r"[0-9].*[0-9].*[0-9]"


def clear_undialable_phones(apps, schema_editor):
    Customer = apps.get_model("crm", "Customer")
    AuditEntry = apps.get_model("crm", "AuditEntry")
    undialable = Customer.objects.exclude(phone="").filter(
        Q(phone__regex=NOT_ALLOWED) | Q(phone__regex=PLUS_INSIDE) | ~Q(phone__regex=THREE_DIGITS)
    )
    AuditEntry.objects.bulk_create(
        AuditEntry(
            system_actor="migration:crm.0011",
            action="customer.phone_cleared",
            target_type="crm.customer",
            target_id=str(pk),
            changes={"phone": [phone, ""]},
        )
        for pk, phone in undialable.values_list("pk", "phone")
    )
    undialable.update(phone="")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0010_route_stop_quantity_at_most_max"),
    ]

    operations = [
        migrations.RunPython(clear_undialable_phones, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.CheckConstraint(
                condition=Q(("phone", ""))
                | (
                    ~Q(("phone__regex", NOT_ALLOWED))
                    & ~Q(("phone__regex", PLUS_INSIDE))
                    & Q(("phone__regex", THREE_DIGITS))
                ),
                name="customer_phone_dialable",
                violation_error_message=(
                    "Enter a phone number: at least 3 digits, with spaces and + ( ) - . "
                    "if you like."
                ),
            ),
        ),
    ]
