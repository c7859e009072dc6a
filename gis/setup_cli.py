"""``hromada setup export|apply``: a hromada's whole set-up as one YAML file (gis.setup_file)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from gis import audit, db


@click.group("setup")
def setup_group():
    """A hromada's set-up (units, districts, who handles what, categories, staff) as a YAML file."""


@setup_group.command("export")
@click.argument("katottg")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of the screen.")
def export_command(katottg: str, output: str | None):
    """Write the set-up of the hromada KATOTTG (e.g. UA05020310000080026) as YAML."""
    from gis.setup_file import export_setup

    engine = db.make_engine(db.database_url())
    try:
        with engine.connect() as conn:
            text = export_setup(conn, katottg)
    finally:
        engine.dispose()
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"записано / written: {output}", err=True)


@setup_group.command("apply")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--public-url", envvar="HROMADA_PUBLIC_URL", default="http://127.0.0.1:5000", show_default=True,
              help="The site's address, for links in staff invitations (HROMADA_PUBLIC_URL).")
def apply_command(path: str, dry_run: bool, public_url: str):
    """Make a hromada's set-up what the YAML file PATH says (all of it, or nothing)."""
    from gis.setup_file import SetupFileInvalid, apply_setup

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"Помилка: не вдалося прочитати {path}: {exc}\nError: cannot read {path}: {exc}", err=True)
        sys.exit(1)
    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            diff = apply_setup(conn, text, by=audit.By(f"cli: {Path(path).name}"), dry_run=dry_run,
                               public_url=public_url)
    except SetupFileInvalid as exc:
        click.echo(f"Файл {path} не прийнято, нічого не змінено. Проблем: {len(exc.problems)}\n"
                   f"The file {path} was refused, nothing changed. Problems: {len(exc.problems)}", err=True)
        for p in exc.problems:
            where = f"{path}:{p['line']}" if p["line"] else path
            click.echo(f"  {where}: {p['uk']}\n  {' ' * len(where)}  {p['en']}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    if not diff:
        click.echo(f"{diff.katottg}: змін немає / nothing to change")
        return
    click.echo(diff.text())
    if dry_run:
        click.echo(f"{diff.katottg}: змін — {len(diff.lines)}; це пробний запуск, нічого не змінено / "
                   f"{len(diff.lines)} change(s); a dry run, nothing changed")
    else:
        click.echo(f"{diff.katottg}: змін застосовано — {len(diff.lines)} / {len(diff.lines)} change(s) applied")
