"""Migration 0032: lamp_status_change and venue_history become read-only archives beside
feature_version, with what they held kept and read (layers.lighting, layers.venue_proposals)."""
import sqlalchemy as sa

from gis import db
from layers import lighting, venue_proposals
from tests.helpers import scalar


def test_the_old_histories_are_kept_and_read_across_the_switch(demo_db):
    engine = demo_db
    lamp_id = scalar(engine, "SELECT id FROM street_lamp WHERE ref = '301'")
    try:
        db.downgrade(engine, "0031")
        with engine.begin() as conn:  # written as before the switch: by hand and by the trigger of 0011
            conn.execute(sa.text("UPDATE street_lamp SET status = 'faulty' WHERE id = :l"), {"l": lamp_id})
            conn.execute(sa.text("INSERT INTO lamp_status_change (lamp_id, from_status, to_status) "
                                 "VALUES (:l, 'working', 'faulty')"), {"l": lamp_id})
            venue = conn.execute(sa.text("""
                INSERT INTO venue (hromada_id, name, category, geom, entrance_steps)
                VALUES ((SELECT id FROM hromada LIMIT 1), 'Клуб', 'culture',
                        ST_SetSRID(ST_MakePoint(27.1, 49.1), 4326), 2)
                RETURNING id""")).scalar_one()
            proposal = conn.execute(sa.text("INSERT INTO venue_proposal (venue_id, hromada_id, facts) "
                                            "VALUES (:v, (SELECT id FROM hromada LIMIT 1), '{}') RETURNING id"),
                                    {"v": venue}).scalar_one()
            conn.execute(sa.text("SELECT set_config('hromada.proposal_id', :p, true)"), {"p": str(proposal)})
            conn.execute(sa.text("UPDATE venue SET entrance_steps = 0 WHERE id = :v"), {"v": venue})
        assert scalar(engine, "SELECT count(*) FROM venue_history WHERE venue_id = :v", v=venue) == 2
        db.upgrade(engine)
        assert scalar(engine, "SELECT count(*) FROM history_archive") == 2
        with engine.begin() as conn:  # after the switch: only feature_version
            conn.execute(sa.text("UPDATE venue SET ramp = 'fixed' WHERE id = :v"), {"v": venue})
        assert scalar(engine, "SELECT count(*) FROM venue_history WHERE venue_id = :v", v=venue) == 2
        assert scalar(engine, "SELECT count(*) FROM feature_version WHERE layer = 'venues' "
                              "AND feature_id = :v", v=venue) == 3  # both recorded the two before the switch
        with engine.connect() as conn:
            history = venue_proposals.history(conn, venue)
        # Each change once: the two before the switch from the archive (one by the proposal), then the new one.
        assert [(h["operation"], h["proposal_id"]) for h in history] == [
            ("update", None), ("update", proposal), ("insert", None)]
        assert [(c["field"], c["before"], c["after"]) for c in history[0]["changes"]] == [("ramp", None, "fixed")]
        assert [(c["field"], c["before"], c["after"]) for c in history[1]["changes"]] == [("entrance_steps", 2, 0)]
        # The archive outlives the lamp now (no cascade), and going back removes what it would have.
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM street_lamp WHERE id = :l"), {"l": lamp_id})
        assert scalar(engine, "SELECT count(*) FROM lamp_status_change WHERE lamp_id = :l", l=lamp_id) == 1
        db.downgrade(engine, "0031")
        assert scalar(engine, "SELECT count(*) FROM lamp_status_change WHERE lamp_id = :l", l=lamp_id) == 0
        assert scalar(engine, "SELECT count(*) FROM venue_history WHERE venue_id = :v", v=venue) == 2
    finally:
        db.upgrade(engine)
    with engine.connect() as conn:
        assert lighting.status_before_report(conn, lamp_id, 1) is None
