"""Each area registers its own jobs with the runner, which imports none of them: an app
built by create_app knows every kind of job the areas queue, and their periodic work."""
from __future__ import annotations

from petition.bundles import jobs as bundle_jobs
from petition.jobs import runner
from petition.letters import milestones
from petition.signing import publication


def test_the_app_knows_every_areas_jobs(app):
    assert {"bundle.build", "updates.send", "milestones.send", "deliveries.notify"} <= set(runner.HANDLERS)
    periodic = {func for _seconds, func in runner.PERIODIC}
    assert publication._publication_job in periodic
    assert any(func.__module__ == milestones.__name__ for func in periodic)
    assert bundle_jobs.remove_abandoned_spools in runner.AT_START
