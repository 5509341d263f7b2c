"""Receipts are sorted on disk in runs and streamed into the manifest: the delivered
manifest is valid JSON with every receipt once, in order, whatever the run size."""
from __future__ import annotations

import json

from petition.bundles import services, spool as spooling
from petition.extensions import db
from petition.letters import services as letters
from petition.signing.services import receipt_hash
from tests.bundles.conftest import add_signature


def test_sorted_runs_merge_without_repeats(tmp_path, monkeypatch):
    monkeypatch.setattr(spooling, "RECEIPT_RUN", 3)
    runs = spooling._SortedRuns(str(tmp_path), "receipts")
    values = ["d", "a", "c", "b", "a", "f", "e", "c", "g", "h"]
    for value in values:
        runs.append(value)
    runs.close()
    assert list(runs) == sorted(set(values))


def test_manifest_lists_every_receipt_sorted_across_runs(bundle_app, monkeypatch):
    monkeypatch.setattr(spooling, "RECEIPT_RUN", 2)
    signers = [add_signature(f"Person {i}", bundle="named" if i % 2 else "counted") for i in range(7)]
    built = services.build(db.session, letters.letter_row("secure-our-socials"), "en")
    db.session.commit()
    chunks = list(services.manifest_chunks(db.session, built.bundle, batch=3))
    assert len(chunks) > 3  # streamed in pieces
    manifest = json.loads("".join(chunks))
    expected = sorted(receipt_hash(s.code) for s in signers)
    assert manifest["receipts"] == expected
    assert '"receipts"' not in built.bundle.manifest  # stored once, in bundle_receipts
