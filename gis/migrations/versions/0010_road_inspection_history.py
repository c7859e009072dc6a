"""road inspection history from every change of a segment's condition

An import (``--upsert-key``), an edit or the demo can change a segment's condition, PCI or
inspection date without going through layers.roads.record_inspection; this trigger keeps the
history complete for those. record_inspection writes its own richer row (repair, report, note)
first, in the same transaction, and the trigger then sees it and adds nothing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

HISTORY = r"""
CREATE FUNCTION road_inspection_history() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.condition IS NULL AND NEW.pci IS NULL AND NEW.inspected_on IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.condition IS NOT DISTINCT FROM OLD.condition
       AND NEW.pci IS NOT DISTINCT FROM OLD.pci AND NEW.inspected_on IS NOT DISTINCT FROM OLD.inspected_on THEN
        RETURN NULL;
    END IF;
    -- now() is the transaction's start: a row written by record_inspection in this transaction.
    IF EXISTS (SELECT 1 FROM road_inspection WHERE segment_id = NEW.id AND created_at = now()) THEN
        RETURN NULL;
    END IF;
    INSERT INTO road_inspection (segment_id, kind, inspected_on, condition, pci, note)
    VALUES (NEW.id, 'inspection', COALESCE(NEW.inspected_on, current_date), NEW.condition, NEW.pci,
            CASE WHEN TG_OP = 'INSERT' THEN 'з даних про ділянку / from the segment data'
                 ELSE 'зміна даних ділянки / segment data changed' END);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER road_segment_inspection_history AFTER INSERT OR UPDATE ON road_segment
    FOR EACH ROW EXECUTE FUNCTION road_inspection_history();
"""


def upgrade() -> None:
    op.execute(HISTORY)
    # Segments loaded before this migration start their history with what they show now.
    op.execute("""
        INSERT INTO road_inspection (segment_id, kind, inspected_on, condition, pci, note)
        SELECT id, 'inspection', COALESCE(inspected_on, current_date), condition, pci,
               'з даних про ділянку / from the segment data'
        FROM road_segment s
        WHERE (condition IS NOT NULL OR pci IS NOT NULL OR inspected_on IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM road_inspection i WHERE i.segment_id = s.id)""")


def downgrade() -> None:
    op.execute("DROP TRIGGER road_segment_inspection_history ON road_segment")
    op.execute("DROP FUNCTION road_inspection_history()")
