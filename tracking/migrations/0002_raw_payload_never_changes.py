"""The raw layer is append-only: a trigger refuses any UPDATE that changes a raw event's
payload (processing writes only the status columns). Reversible: the trigger is dropped."""

from django.db import migrations

from crm.triggers import InstallTriggers, Trigger

POSTGRES_UP = """
CREATE FUNCTION tracking_raw_payload_kept() RETURNS trigger AS $$
BEGIN
    IF NEW.payload IS DISTINCT FROM OLD.payload THEN
        RAISE EXCEPTION 'a raw event''s payload is never changed (raw event %)', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER tracking_raw_payload_kept BEFORE UPDATE OF payload ON tracking_rawevent
    FOR EACH ROW EXECUTE FUNCTION tracking_raw_payload_kept();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS tracking_raw_payload_kept ON tracking_rawevent;
DROP FUNCTION IF EXISTS tracking_raw_payload_kept();
"""
SQLITE_UP = """
CREATE TRIGGER tracking_raw_payload_kept BEFORE UPDATE OF payload ON tracking_rawevent
FOR EACH ROW WHEN NEW.payload IS NOT OLD.payload
BEGIN SELECT RAISE(ABORT, 'a raw event''s payload is never changed'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS tracking_raw_payload_kept;"

PAYLOAD_KEPT = Trigger(
    name="tracking_raw_payload_kept",
    table="tracking_rawevent",
    create={"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP},
    drop={"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN},
)


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_tracking")]

    operations = [InstallTriggers(PAYLOAD_KEPT)]
