"""A job worker killed with SIGKILL in the middle of a bundle build: its render processes
die with it, its job is taken over within a minute and completes, its spool folder is
removed by the next worker to start. (Before: the job stayed "running" for 30 minutes,
the render processes lived on with parent 1 for over 17 minutes, the spool stayed in /tmp.)"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from petition.bundles import spool
from petition.bundles.models import Bundle
from petition.extensions import db
from petition.jobs import runner
from petition.jobs.models import Job
from petition.letters import services as letters
from tests.production.servers import BIN, ROOT, app_env


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_render_processes_die_with_their_parent(tmp_path):
    """The pool on its own: a process holding a Pool is SIGKILLed; its workers follow."""
    script = textwrap.dedent("""
        import os, sys, time
        from petition.bundles.pdf.pool import Pool
        with Pool(2) as pool:
            futures = [pool.submit(time.sleep, 60) for _ in range(2)]
            time.sleep(3)
            print("ready", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        workers = {pid for pid in children_of(proc.pid) if "multiprocessing" in Path(f"/proc/{pid}/cmdline").read_text()}
        assert len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: not any(alive(pid) for pid in workers), 10, "the render workers to die")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_abandoned_spool_folders_are_removed_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    root = Path(spool.root())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / f"bundle-{dead.pid}-abc123").mkdir(parents=True)
    (root / f"bundle-{dead.pid}-abc123" / "named").write_bytes(b"tokens")
    (root / f"bundle-{os.getpid()}-mine").mkdir()  # a running worker's: kept
    (root / "unrelated").mkdir()  # not ours: kept
    assert spool.remove_abandoned() == 1
    assert sorted(p.name for p in root.iterdir()) == [f"bundle-{os.getpid()}-mine", "unrelated"]


@pytest.mark.slow
def test_a_worker_killed_mid_build_is_taken_over_and_leaves_nothing_behind(make_app, tmp_path):
    from petition.bundles import signing_keys
    from petition.signing.synthetic import fake

    key_path = tmp_path / "keys" / "signing.p12"
    app = make_app(BUNDLE_PKCS12_PATH=str(key_path))
    spool_tmp = tmp_path / "tmp"
    spool_tmp.mkdir()
    with app.app_context():
        signing_keys.init_keys(app.config["PETITION"], "Test campaign signer", "Test campaign")
        row = letters.letter_row("secure-our-socials")
        fake(db.session, row, 30_000, seed=7)
        job = runner.enqueue(db.session, "bundle.build", {"slug": row.slug, "lang": "en"}, letter_id=row.id,
                             coalesce_key=f"bundle.build:{row.id}:en")
        db.session.commit()
        job_id = job.id
        db.session.remove()

        env = app_env(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, BUNDLE_PKCS12_PATH=str(key_path),
                      BUNDLE_WORKERS="2", TMPDIR=str(spool_tmp))
        env["DATA_KEYS"] = ",".join(app.config["PETITION"].DATA_KEYS)
        spool_root = spool_tmp / "petition-spool"

        def start(name):
            log = open(tmp_path / f"{name}.log", "wb")
            return subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "jobs", "work"], cwd=ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)

        def job_row():
            db.session.remove()
            return db.session.get(Job, job_id)

        first = start("worker-1")
        try:
            wait_for(lambda: job_row().progress >= 27, 240, "the first worker to start rendering")
            renderers = wait_for(lambda: children_of(first.pid), 30, "render processes")
            left = list(spool_root.glob(f"bundle-{first.pid}-*"))
            assert left, "the build spools into the known root"
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            killed_at = time.monotonic()
            assert job_row().status == "running"
            wait_for(lambda: not any(alive(pid) for pid in renderers), 10, "orphaned render processes to die")
        finally:
            if first.poll() is None:
                first.kill()

        second = start("worker-2")
        try:
            # Started: the dead worker's spool folder goes at once.
            wait_for(lambda: not any(p.exists() for p in left), 30, "the abandoned spool folder to be removed")
            taken = wait_for(lambda: job_row().attempts >= 2 and job_row(), 90, "the takeover")
            assert time.monotonic() - killed_at <= runner.LEASE.total_seconds() + 15
            done = wait_for(lambda: job_row().status in ("done", "failed") and job_row(), 300, "the job to finish")
            assert done.status == "done", (done.message, (tmp_path / "worker-2.log").read_text())
            assert taken.attempts == 2 and done.attempts == 2
            assert db.session.scalar(select(func.count()).select_from(Bundle)) == 1
            assert list(spool_root.iterdir()) == []
            renderers_2 = children_of(second.pid)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(60)
            except subprocess.TimeoutExpired:
                second.kill()
        wait_for(lambda: not any(alive(pid) for pid in renderers_2), 10, "the second worker's children to end")
        db.session.remove()
