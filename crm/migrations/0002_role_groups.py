"""Create the three role groups with their model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CRM_MODELS = [
    "team",
    "salesrep",
    "customer",
    "product",
    "deal",
    "activity",
    "task",
    "route",
    "routestop",
    "auditentry",
    "jobrun",
    "joblock",
    "deadletter",
    "heartbeat",
]

REP = {
    "deal": ["view", "add", "change"],
    "activity": ["view", "add", "change"],
    "task": ["view", "add", "change"],
    "customer": ["view", "add"],
    "product": ["view"],
    "route": ["view"],
    "routestop": ["view"],
}
SUPERVISOR = {
    **REP,
    "customer": ["view", "add", "change"],
    "route": ["view", "change"],
    "routestop": ["view", "add", "change", "delete"],
    "salesrep": ["view"],
    "team": ["view"],
}
ADMIN = {model: ["view", "add", "change", "delete"] for model in CRM_MODELS}

GROUPS = {"rep": REP, "supervisor": SUPERVISOR, "admin": ADMIN}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, grants in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        codenames = [f"{verb}_{model}" for model, verbs in grants.items() for verb in verbs]
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="crm", codename__in=codenames)
        )


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
