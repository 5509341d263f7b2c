from __future__ import annotations

import click
from flask.cli import with_appcontext

from petition import workers
from petition.database import require_schema
from petition.jobs import runner


@click.group("jobs", help="Background jobs (bundle builds, update mailings).")
def jobs_cli() -> None:
    pass


@jobs_cli.command("work")
@with_appcontext
def work() -> None:
    """Run jobs until SIGTERM/SIGINT. Several workers may run at once."""
    require_schema()
    stop = workers.stop_on_signals()
    click.echo("job worker running")
    runner.work(stop)


@jobs_cli.command("run-pending")
@with_appcontext
def run_pending() -> None:
    """Run every queued job, then exit."""
    require_schema()
    runner.run_periodic({})  # the milestone sweep first: it may queue mailings
    count = 0
    while (job := runner.run_one()) is not None:
        count += 1
        click.echo(f"job {job.id} {job.kind}: {job.status}{' - ' + job.message if job.message else ''}")
    click.echo(f"{count} job(s) run")
