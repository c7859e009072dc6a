"""Outbox delivery: real SMTP, retries with back-off, and restarts of the worker and the database."""
import threading
import time

import pytest
import sqlalchemy as sa

from gis import db, outbox
from gis.outbox import SmtpSettings
from layers.categories import sync_categories


def queue(engine, n: int, start: int = 0) -> None:
    with engine.begin() as conn:
        for i in range(start, start + n):
            outbox.enqueue(conn, to_addr=f"r{i}@example.org", subject=f"Звернення {i}", body=f"тіло {i}",
                           key=f"test-{i}")


def statuses(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT status, count(*) FROM outbox GROUP BY status")).all())


def wait_for(predicate, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_enqueue_is_transactional_and_unique(clean_db):
    with pytest.raises(RuntimeError), clean_db.begin() as conn:
        outbox.enqueue(conn, to_addr="a@example.org", subject="s", body="b", key="k1")
        raise RuntimeError("the change fails")
    assert statuses(clean_db) == {}
    queue(clean_db, 1)
    queue(clean_db, 1)  # the same key again: still one message
    assert statuses(clean_db) == {"pending": 1}


def test_delivered_over_real_smtp_once(clean_db, smtp_server):
    settings, store = smtp_server
    queue(clean_db, 3)
    assert outbox.deliver_due(clean_db, settings) == 3
    assert outbox.deliver_due(clean_db, settings) == 0
    assert sorted(m["subject"] for m in store.messages) == ["Звернення 0", "Звернення 1", "Звернення 2"]
    assert store.messages[0]["message_id"] == "<test-0@hromada-gis.local>"
    assert statuses(clean_db) == {"sent": 3}


def test_failed_send_is_retried_with_back_off(clean_db, smtp_server):
    settings, store = smtp_server
    queue(clean_db, 1)
    from gis.embedded import free_port

    down = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)  # nobody listens there
    assert outbox.deliver_due(clean_db, down) == 1
    with clean_db.connect() as conn:
        row = conn.execute(sa.text("SELECT status, attempts, last_error, next_attempt_at - now() AS wait "
                                   "FROM outbox")).one()
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert 25 < row.wait.total_seconds() <= 30  # first back-off: 30 s
    assert outbox.deliver_due(clean_db, settings) == 0  # not due yet
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE outbox SET next_attempt_at = now()"))
    assert outbox.deliver_due(clean_db, settings) == 1
    assert len(store.messages) == 1 and statuses(clean_db) == {"sent": 1}
    assert outbox.backoff(2).total_seconds() == 60 and outbox.backoff(30).total_seconds() == 6 * 3600


def test_gives_up_after_max_attempts(clean_db):
    from gis.embedded import free_port

    queue(clean_db, 1)
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE outbox SET attempts = :n"), {"n": outbox.MAX_ATTEMPTS - 1})
    outbox.deliver_due(clean_db, SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))
    assert statuses(clean_db) == {"failed": 1}


def test_a_worker_that_died_after_claiming_is_taken_over_when_its_lease_ends(clean_db, smtp_server):
    settings, store = smtp_server
    queue(clean_db, 1)
    assert outbox.claim_one(clean_db) is not None  # ...and the worker dies here
    assert outbox.deliver_due(clean_db, settings) == 0  # leased: nobody else takes it
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE outbox SET locked_until = now() - interval '1 second'"))
    assert outbox.deliver_due(clean_db, settings) == 1
    assert len(store.messages) == 1


def test_restarting_worker_and_database_loses_and_duplicates_nothing(scratch_cluster, smtp_server):
    """Outbox rows written, the database restarted before delivery, the worker restarted mid-way."""
    settings, store = smtp_server
    scratch_cluster.start()
    engine = db.make_engine(scratch_cluster.url())
    db.upgrade(engine)
    with engine.begin() as conn:
        sync_categories(conn)
    queue(engine, 10)

    scratch_cluster.stop()  # the database goes down before anything is delivered
    stop = threading.Event()
    worker = threading.Thread(target=outbox.run_worker, args=(engine, settings, stop, 0.1))
    worker.start()
    time.sleep(1.0)  # the worker meets a dead database and keeps trying
    assert store.messages == []
    scratch_cluster.start()
    wait_for(lambda: len(store.messages) >= 4)
    stop.set()  # the first worker is stopped part-way
    worker.join(timeout=20)
    queue(engine, 5, start=10)  # more mail arrives while no worker runs

    scratch_cluster.stop()
    scratch_cluster.start()
    stop2 = threading.Event()
    worker2 = threading.Thread(target=outbox.run_worker, args=(engine, settings, stop2, 0.1))
    worker2.start()
    wait_for(lambda: statuses(engine) == {"sent": 15})
    stop2.set()
    worker2.join(timeout=20)
    ids = [m["message_id"] for m in store.messages]
    assert len(ids) == 15 and len(set(ids)) == 15
    engine.dispose()


def test_worker_outlives_a_message_that_cannot_be_built(clean_db, smtp_server, monkeypatch):
    settings, store = smtp_server
    queue(clean_db, 2)
    real = outbox._message
    calls = {"n": 0}

    def flaky(row, s):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("broken header")
        return real(row, s)

    monkeypatch.setattr(outbox, "_message", flaky)
    stop = threading.Event()
    worker = threading.Thread(target=outbox.run_worker, args=(clean_db, settings, stop, 0.1))
    worker.start()
    wait_for(lambda: len(store.messages) == 1)
    assert worker.is_alive()
    with clean_db.begin() as conn:  # the failed one is due again after its back-off; hurry it
        conn.execute(sa.text("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'"))
    wait_for(lambda: len(store.messages) == 2)
    stop.set()
    worker.join(timeout=10)
    assert statuses(clean_db) == {"sent": 2}


def test_mail_printed_to_the_console_is_readable(clean_db, caplog):
    """Without an SMTP host (`make run`) a mail goes to the log as its header fields and text — not
    the base64 of its transfer encoding, which nobody can read."""
    with clean_db.begin() as conn:
        outbox.enqueue(conn, to_addr="r@example.org", subject="Звернення ЯК-2026-000001 отримано",
                       body="Ваше звернення отримано. Код: ЯК-2026-000001", key="console-1",
                       headers={"List-Unsubscribe": "<http://localhost/mail/unsubscribe/x>"})
    with caplog.at_level("INFO", logger="gis.outbox"):
        assert outbox.deliver_due(clean_db, SmtpSettings(host=None)) == 1
    logged = caplog.text
    assert "Ваше звернення отримано. Код: ЯК-2026-000001" in logged
    assert "Subject: Звернення ЯК-2026-000001 отримано" in logged
    assert "List-Unsubscribe: <http://localhost/mail/unsubscribe/x>" in logged


def test_several_workers_share_the_outbox_and_send_each_message_once(clean_db, smtp_server, monkeypatch):
    """Workers on several machines (here: four, each with its own connection pool) claim with SKIP
    LOCKED: every message goes out exactly once, and every worker takes its share."""
    settings, store = smtp_server
    sent_by: dict[str, int] = {}
    real_send = outbox._send

    def counted(msg, s):
        real_send(msg, s)
        name = threading.current_thread().name
        sent_by[name] = sent_by.get(name, 0) + 1

    monkeypatch.setattr(outbox, "_send", counted)
    engines = [db.make_engine(clean_db.url.render_as_string(hide_password=False)) for _ in range(4)]
    stop = threading.Event()
    workers = [threading.Thread(target=outbox.run_worker, args=(e, settings, stop, 0.05), name=f"worker-{i}")
               for i, e in enumerate(engines)]
    for worker in workers:
        worker.start()
    try:
        queue(clean_db, 120)
        wait_for(lambda: statuses(clean_db) == {"sent": 120}, seconds=60)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=20)
        for engine in engines:
            engine.dispose()
    ids = [m["message_id"] for m in store.messages]
    assert len(ids) == 120 and len(set(ids)) == 120  # none lost, none twice
    assert sorted(sent_by) == [f"worker-{i}" for i in range(4)] and sum(sent_by.values()) == 120, sent_by
