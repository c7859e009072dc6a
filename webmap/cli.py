"""The ``hromada`` command: every subcommand reports problems as one clear message, not a trace."""
from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from gis.api_keys_cli import api_keys_group
from gis.cli import db_group, users_group
from gis.errors import HromadaError
from gis.setup_cli import setup_group
from importers.cli import (
    communities_group,
    demo_group,
    export_command,
    import_addresses_command,
    import_command,
    synthetic_group,
)
from importers.dream_cli import import_dream_command
from layers.coverage_cli import coverage_group
from layers.heritage_cli import heritage_group, routes_group


class FriendlyGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HromadaError as exc:
            click.echo(f"Помилка: {exc.uk}\nError: {exc.en}", err=True)
            sys.exit(1)


@click.group(cls=FriendlyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool):
    """Hromada GIS: community GIS for Ukrainian hromadas."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


main.add_command(db_group)
main.add_command(users_group)
main.add_command(communities_group)
main.add_command(demo_group)
main.add_command(import_command)
main.add_command(import_addresses_command)  # hromada import-addresses FILE.osm.pbf (#17)
main.add_command(export_command)
main.add_command(synthetic_group)
main.add_command(api_keys_group)
main.add_command(coverage_group)
main.add_command(routes_group)
main.add_command(heritage_group)
main.add_command(import_dream_command)
main.add_command(setup_group)  # hromada setup export|apply (gis/setup_cli.py)


@db_group.command("backup")
@click.option("--to", "to", default=None, type=click.Path(),
              help="The archive (….tar) or a folder for a dated one (default: var/backups/).")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Then delete all but the newest KEEP dated archives in that folder.")
def db_backup(to: str | None, keep: int | None):
    """Back up the database (pg_dump, custom format) and the raster files into one .tar archive with a
    manifest of SHA-256 checksums (gis/backup.py)."""
    import os

    from gis import backup, config, db

    if to is None:
        folder = config.var_dir() / "backups"
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # the archives hold residents' personal data
        to = str(folder)
    report = backup.backup(db.database_url(start_embedded=True), to)
    click.echo(report.summary("uk"))
    click.echo(report.summary("en"))
    for name in report.manifest["missing_rasters"]:
        click.echo(f"увага: растрового файлу немає / warning: raster file missing: {name}", err=True)
    if keep is not None:
        for old in backup.prune(report.path.parent, keep):
            click.echo(f"видалено стару копію / deleted an old backup: {old.name}")


@db_group.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True,
              help="Replace what the database holds (everything in it is dropped first).")
def db_restore(path: str, force: bool):
    """Restore a backup made by `hromada db backup`: every checksum is verified first; a database that
    already holds tables is refused unless --force."""
    from gis import backup, db

    report = backup.restore(path, db.database_url(start_embedded=True), force=force)
    click.echo(report.summary("uk"))
    click.echo(report.summary("en"))


@main.command("worker")
def worker():
    """Deliver queued e-mails (the outbox) until stopped with Ctrl-C."""
    import signal
    import threading

    from gis import db, outbox
    from layers import unit_mail

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        base = unit_mail.configured_public_url()
        outbox.run_worker(db.make_engine(db.database_url()), outbox.SmtpSettings.from_env(), stop,
                          periodic=periodic_jobs(base))
    except KeyboardInterrupt:
        stop.set()


def periodic_jobs(base: str, secret: str | None = None):
    """What the outbox worker queues when due, besides delivering: the units' daily digests (#14), "is it
    fixed?", reminders and escalations (#16), the digests of followed reports and of area alerts (#18)."""
    from gis import outbox
    from layers import area_alerts, deadlines, fixed_check, followers, unit_mail

    return outbox.each(unit_mail.digest_job(base, secret), fixed_check.ask_job(base), deadlines.job(base),
                       followers.digest_job(base), area_alerts.digest_job(base))


@main.group("outbox")
def outbox_group():
    """The e-mail outbox."""


@outbox_group.command("digest")
@click.option("--public-url", default=None, help="Base of links in the mails (default: HROMADA_PUBLIC_URL).")
def outbox_digest(public_url: str | None):
    """Queue the daily digests that are due — the units', followers' and area alerts' (each digest of a
    day is queued once; the worker, `hromada worker` or `hromada serve`, does this by itself every minute)."""
    import datetime as dt

    from gis import db
    from layers import area_alerts, followers, unit_mail

    engine = db.make_engine(db.database_url())
    base, now = unit_mail.configured_public_url(public_url), dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        mailed = (unit_mail.queue_digests(conn, now, base) + followers.queue_digests(conn, now, base)
                  + area_alerts.queue_digests(conn, now, base))
    engine.dispose()
    click.echo(f"Дайджестів у черзі / digests queued: {mailed}")


@main.command("bot")
def bot():
    """The hromada's Telegram bot (#18) until Ctrl-C: TELEGRAM_BOT_TOKEN, TELEGRAM_HROMADA, TELEGRAM_API_URL."""
    from webmap.telegram_bot import run_bot

    run_bot()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int,
              help="Threads running requests (waitress's threads; granian's blocking threads).")
@click.option("--server", type=click.Choice(["granian", "waitress"]), default="granian", show_default=True,
              help="The WSGI server: granian (Rust's HTTP, one worker process) or waitress (pure Python).")
@click.option("--with-worker/--no-worker", default=True, show_default=True,
              help="Also deliver queued e-mails in this process.")
def serve(host: str, port: int, threads: int, server: str, with_worker: bool):
    """Serve the web app with a production WSGI server (granian, or waitress). Ctrl-C stops it."""
    from gis.embedded import port_is_free
    from gis.errors import HromadaError
    from webmap import create_app

    if not port_is_free(port, host):
        raise HromadaError(f"Порт {port} на {host} зайнятий; вкажіть інший: --port",
                           f"Port {port} on {host} is taken; choose another with --port")
    # granian's worker process makes its own app (webmap.wsgi); this process needs one for waitress or the
    # mail worker only (an app in memory is some 250 MB: not in each of the cluster's app processes).
    app = create_app() if server == "waitress" or with_worker else None
    stop = threading.Event()
    worker_thread = None
    if with_worker:
        from gis import outbox

        settings = outbox.SmtpSettings.from_env()
        base = app.config.get("PUBLIC_URL") or f"http://{host}:{port}"
        digests = periodic_jobs(base, app.config["SECRET_KEY"])  # the units' links signed with the app's key
        worker_thread = threading.Thread(target=outbox.run_worker, name="outbox-worker", daemon=True,
                                         args=(app.extensions["hromada_engine"], settings, stop),
                                         kwargs={"periodic": digests})
        worker_thread.start()
    click.echo(f"Hromada GIS: http://{host}:{port}/  (Ctrl-C — зупинити / to stop)")
    try:
        if server == "granian":
            serve_with_granian(host, port, threads)
        else:
            _serve_with_waitress(app, host, port, threads)
    finally:
        stop.set()
        if worker_thread is not None:
            worker_thread.join(timeout=60)  # let a mail being sent be marked sent
    click.echo("зупинено / stopped")


def serve_with_granian(host: str, port: int, threads: int, target: str = "webmap.wsgi:app") -> None:
    """granian: HTTP in Rust, the app in one worker process of its own (``webmap.wsgi``), ``threads``
    threads running requests. Measured on a small read (README, Benchmarks): 0.14 ms of server CPU a
    request against waitress's 0.47 ms. It stops its worker on SIGTERM or Ctrl-C; the worker is in this
    process's group, which ``hromada cluster`` stops as a whole."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(target, address=host, port=port, interface=Interfaces.WSGI, workers=1,
            blocking_threads=threads, respawn_failed_workers=True, log_level="warning").serve()


def _serve_with_waitress(app, host: str, port: int, threads: int) -> None:
    import waitress

    def _stop_on_term(*_):
        raise KeyboardInterrupt  # a service manager's SIGTERM stops as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, _stop_on_term)
    try:
        # Waitress drops X-Forwarded-* itself unless told otherwise; with HROMADA_PROXY_HOPS they are the
        # proxy's to set and ProxyFix's (create_app) to trust, as many hops as configured.
        waitress.serve(app, host=host, port=port, threads=threads,
                       clear_untrusted_proxy_headers=not app.config.get("PROXY_HOPS"))
    except KeyboardInterrupt:
        pass


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def run(ctx: click.Context, host: str, port: int):
    """Start the database, migrate, load (or bring up to date) the demo if the database is empty or
    holds it, analyse its coverage once, and serve."""
    from gis import config, db
    from gis.hromadas import find_hromada_id
    from importers.demo import load_demo
    from layers import coverage_analysis
    from layers.admin_areas import any_hromada
    from layers.categories import sync_categories
    from layers.plans import sync_zone_classes
    from layers.registry import LAYERS

    if not config.database_url_from_env():
        cluster = db.embedded_cluster()
        click.echo(f"База даних / database: {cluster.data_dir} (127.0.0.1:{cluster.port})")
    engine = db.make_engine(db.database_url(start_embedded=True))
    db.upgrade(engine)
    with engine.begin() as conn:
        sync_categories(conn)
        sync_zone_classes(conn)
        demo_id = find_hromada_id(conn, config.DEMO_KATOTTG)
        empty = not any_hromada(conn)
    if empty or demo_id is not None:
        # Idempotent: a database from an older version gets the demo layers added since.
        click.echo("Демо-громада / the demo community…")
        for report in load_demo(engine):
            click.echo(report.summary("uk"))
        with engine.begin() as conn:
            demo_id = find_hromada_id(conn, config.DEMO_KATOTTG)
            if coverage_analysis.latest_run(conn, demo_id) is None:
                click.echo("Аналіз інтернет-покриття / analysing internet coverage…")
                coverage_analysis.analyse(conn, demo_id,
                                          address_layer=coverage_analysis.address_layer_in(LAYERS))
        from importers.demo_accounts import describe, ensure_demo_accounts

        click.echo(describe(ensure_demo_accounts(engine), f"http://{host}:{port}/staff/login"))
    engine.dispose()
    from webmap.telegram_bot import start_in_background

    start_in_background()  # #18: the Telegram bot in a thread beside the web app, when TELEGRAM_BOT_TOKEN is set
    ctx.invoke(serve, host=host, port=port)


# -- hromada cluster up|down|status: nginx, several app processes, memcached, the database (webmap/cluster.py)
@main.group("cluster")
def cluster_group():
    """The deployment shape on this machine: nginx in front of several app processes sharing memcached."""


_cluster_folder = click.option("--folder", type=click.Path(file_okay=False), default=None,
                               help="Its files: nginx.conf, pid files, logs, tile cache (default: var/cluster).")


@cluster_group.command("up")
@_cluster_folder
@click.option("--host", default="127.0.0.1", show_default=True, help="nginx listens here (0.0.0.0: everyone).")
@click.option("--port", default=8080, show_default=True, type=int, help="nginx's port.")
@click.option("--apps", default=2, show_default=True, type=int, help="App processes (hromada serve: granian).")
@click.option("--workers", default=1, show_default=True, type=int, help="Outbox worker processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads of each app process.")
@click.option("--replica", is_flag=True,
              help="Also a streaming read replica of the embedded database (port HROMADA_PGPORT+1 or "
                   "HROMADA_REPLICA_PGPORT); public reads go to it (README \"Running several processes\").")
def cluster_up(folder, host: str, port: int, apps: int, workers: int, threads: int, replica: bool):
    """Start the database (embedded, or DATABASE_URL's), memcached, the app processes, the outbox worker
    and nginx in front of them; they keep running until `hromada cluster down`."""
    from webmap.cluster import LocalCluster

    cluster = LocalCluster(folder)
    cluster.up(port=port, host=host, apps=apps, workers=workers, threads=threads, replica=replica)
    for part in cluster.status():
        click.echo(part.describe())
    click.echo(f"Hromada GIS: http://{host}:{port}/  (hromada cluster down — зупинити / to stop)")


@cluster_group.command("status")
@_cluster_folder
def cluster_status(folder):
    """Each part, its pid and address, and whether it answers (exit status 1 when any does not)."""
    from webmap.cluster import LocalCluster

    parts = LocalCluster(folder).status()
    if not parts:
        click.echo("Кластер не запущено / the cluster is not up")
        sys.exit(1)
    for part in parts:
        click.echo(part.describe())
    sys.exit(0 if all(part.answers for part in parts) else 1)


@cluster_group.command("down")
@_cluster_folder
@click.option("--keep-database", is_flag=True, help="Leave the embedded PostGIS running.")
def cluster_down(folder, keep_database: bool):
    """Stop every part: nginx first, then the apps, the workers, memcached and the embedded database."""
    from webmap.cluster import LocalCluster

    stopped = LocalCluster(folder).down(stop_database=not keep_database)
    click.echo(f"Зупинено / stopped: {', '.join(stopped) or '—'}")


# -- hromada tiles rebuild-clusters: the low-zoom clusters counted afresh (layers/tile_cells.py)
@main.group("tiles")
def tiles_group():
    """Vector tiles."""


@tiles_group.command("rebuild-clusters")
@click.option("--layer", "name", default=None, help="Only this layer (default: every clustered layer).")
def tiles_rebuild_clusters(name: str | None):
    """Count the clusters the low-zoom tiles show afresh from the layers' features — for repair, or after
    a load that switched the layers' triggers off. Each layer in a transaction of its own, writes to
    it held off meanwhile."""
    from gis import db
    from gis.errors import InvalidInput
    from layers import tile_cells
    from layers.registry import get_layer

    layers = tile_cells.cell_layers()
    if name is not None:
        layer = get_layer(name)
        if layer not in layers:
            raise InvalidInput(f"Шар {name!r} не має кластерів у тайлах",
                               f"Layer {name!r} has no clusters in its tiles")
        layers = [layer]
    engine = db.make_engine(db.database_url())
    try:
        for layer in layers:
            with engine.begin() as conn:
                cells = tile_cells.rebuild(conn, layer)
            click.echo(f"{layer.name}: {cells} клітинок / cells")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
