"""A raw event's tenant is checked once per statement, not once per row.

A declared foreign key checks (and KEY SHARE-locks) the tenant for every row inserted: a fifth
of a batch's ingestion, and of a plain COPY too. The same rule, enforced by triggers:

- after an INSERT, one look at the statement's rows (a transition table): every tenant they
  name exists, and is locked KEY SHARE until the transaction ends, as a foreign key would, so
  it cannot be deleted under them;
- a tenant (or its id) cannot go while it has raw events: its delete (or id change) first
  takes the row lock, which waits for the inserts holding it, then looks with a fresh snapshot;
- a raw event's tenant never changes (the raw layer is append-only).

Violations are foreign_key_violation (SQLSTATE 23503), an IntegrityError to Django, as before.
SQLite (the embedded default, one writer at a time) gets row triggers with the same rules.

Reversible: backwards, the triggers go and the foreign key comes back."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

from crm.triggers import InstallTriggers, Trigger

payload_kept_again = import_module(
    "tracking.migrations.0004_claims_held_by_the_batch"
).payload_kept_again

TENANT_EXISTS = Trigger(
    name="tracking_raw_tenant_exists",
    table="tracking_rawevent",
    create={
        "postgresql": """
CREATE FUNCTION tracking_raw_tenant_exists() RETURNS trigger AS $$
DECLARE
    wanted bigint;
    held bigint;
BEGIN
    SELECT count(DISTINCT tenant_id) INTO wanted FROM new_rows;
    SELECT count(*) INTO held FROM (
        SELECT 1 FROM tracking_trackingtenant
        WHERE id IN (SELECT tenant_id FROM new_rows) FOR KEY SHARE) AS locked;
    IF held < wanted THEN
        RAISE EXCEPTION 'a raw event names a tracking tenant that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER tracking_raw_tenant_exists AFTER INSERT ON tracking_rawevent
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION tracking_raw_tenant_exists();
""",
        "sqlite": """CREATE TRIGGER tracking_raw_tenant_exists BEFORE INSERT ON tracking_rawevent
    FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM tracking_trackingtenant WHERE id = NEW.tenant_id)
    BEGIN SELECT RAISE(ABORT, 'a raw event names a tracking tenant that does not exist'); END""",
    },
    drop={
        "postgresql": """
DROP TRIGGER IF EXISTS tracking_raw_tenant_exists ON tracking_rawevent;
DROP FUNCTION IF EXISTS tracking_raw_tenant_exists();
""",
        "sqlite": "DROP TRIGGER IF EXISTS tracking_raw_tenant_exists",
    },
)
TENANT_KEEPS_ITS_RAW_EVENTS = Trigger(
    name="tracking_tenant_keeps_its_raw_events",
    table="tracking_trackingtenant",
    create={
        "postgresql": """
CREATE FUNCTION tracking_tenant_keeps_its_raw_events() RETURNS trigger AS $$
BEGIN
    -- Wait for the inserts that hold this tenant to end; then look again (a new snapshot).
    PERFORM 1 FROM tracking_trackingtenant WHERE id = OLD.id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM tracking_rawevent WHERE tenant_id = OLD.id) THEN
        RAISE EXCEPTION 'tracking tenant % still has raw events', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER tracking_tenant_keeps_its_raw_events BEFORE DELETE ON tracking_trackingtenant
    FOR EACH ROW EXECUTE FUNCTION tracking_tenant_keeps_its_raw_events();
""",
        "sqlite": """CREATE TRIGGER tracking_tenant_keeps_its_raw_events BEFORE DELETE ON tracking_trackingtenant
    FOR EACH ROW WHEN EXISTS (SELECT 1 FROM tracking_rawevent WHERE tenant_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'the tracking tenant still has raw events'); END""",
    },
    drop={
        "postgresql": """
DROP TRIGGER IF EXISTS tracking_tenant_keeps_its_raw_events ON tracking_trackingtenant;
DROP FUNCTION IF EXISTS tracking_tenant_keeps_its_raw_events();
""",
        "sqlite": "DROP TRIGGER IF EXISTS tracking_tenant_keeps_its_raw_events",
    },
)
# The same function as the one above (installed before it, dropped after it).
TENANT_KEEPS_ITS_ID = Trigger(
    name="tracking_tenant_keeps_its_id",
    table="tracking_trackingtenant",
    create={
        "postgresql": """
CREATE TRIGGER tracking_tenant_keeps_its_id BEFORE UPDATE OF id ON tracking_trackingtenant
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION tracking_tenant_keeps_its_raw_events();
""",
        "sqlite": """CREATE TRIGGER tracking_tenant_keeps_its_id BEFORE UPDATE OF id ON tracking_trackingtenant
    FOR EACH ROW WHEN OLD.id IS NOT NEW.id
        AND EXISTS (SELECT 1 FROM tracking_rawevent WHERE tenant_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'the tracking tenant still has raw events'); END""",
    },
    drop={
        "postgresql": "DROP TRIGGER IF EXISTS tracking_tenant_keeps_its_id ON tracking_trackingtenant;",
        "sqlite": "DROP TRIGGER IF EXISTS tracking_tenant_keeps_its_id",
    },
)
TENANT_KEPT = Trigger(
    name="tracking_raw_tenant_kept",
    table="tracking_rawevent",
    create={
        "postgresql": """
CREATE FUNCTION tracking_raw_tenant_kept() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a raw event''s tenant is never changed (raw event %)', OLD.id
        USING ERRCODE = 'check_violation';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER tracking_raw_tenant_kept BEFORE UPDATE OF tenant_id ON tracking_rawevent
    FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
    EXECUTE FUNCTION tracking_raw_tenant_kept();
""",
        "sqlite": """CREATE TRIGGER tracking_raw_tenant_kept BEFORE UPDATE OF tenant_id ON tracking_rawevent
    FOR EACH ROW WHEN OLD.tenant_id IS NOT NEW.tenant_id
    BEGIN SELECT RAISE(ABORT, 'a raw event''s tenant is never changed'); END""",
    },
    drop={
        "postgresql": """
DROP TRIGGER IF EXISTS tracking_raw_tenant_kept ON tracking_rawevent;
DROP FUNCTION IF EXISTS tracking_raw_tenant_kept();
""",
        "sqlite": "DROP TRIGGER IF EXISTS tracking_raw_tenant_kept",
    },
)
TRIGGERS = (TENANT_EXISTS, TENANT_KEEPS_ITS_RAW_EVENTS, TENANT_KEEPS_ITS_ID, TENANT_KEPT)
# The SQLite statements, for the later migrations that rebuild these tables (tracking.0006).
SQLITE_UP = [trigger.create["sqlite"] for trigger in TRIGGERS]
SQLITE_DOWN = [trigger.drop["sqlite"] for trigger in TRIGGERS]


def payload_kept_on_sqlite(apps, schema_editor):
    # (the table was rebuilt without its triggers)
    if schema_editor.connection.vendor == "sqlite":
        payload_kept_again(apps, schema_editor)
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0004_claims_held_by_the_batch"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, payload_kept_again),
        migrations.AlterField(
            model_name="rawevent",
            name="tenant",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tracking.trackingtenant",
            ),
        ),
        migrations.RunPython(payload_kept_on_sqlite, migrations.RunPython.noop),
        InstallTriggers(*TRIGGERS),
    ]
