"""Pass one of a build: stream the included signatures from the database in batches into
temporary spool files, counting as we go.

What the spool holds is what the database holds (names and affiliations stay Fernet
tokens), so a temporary file is no new copy of anyone's name in the clear. Memory stays
one batch whatever the number of signatures: the receipts, which the manifest lists in
sorted order, are written as sorted runs and merged from disk (sorted() over a million
receipts in memory cost ~150 MB).
"""
from __future__ import annotations

import heapq
import os
import pickle
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from petition import disclosure
from petition.paper.models import PaperSignature
from petition.signing.models import Signature

BATCH = 5000
# Every build spools into ROOT/bundle-<pid of its worker>-<random>: a worker killed in
# the middle of a build leaves its folder behind, and the next worker to start removes
# the folders of workers that are no longer running (remove_abandoned).
SPOOL_FOLDER = re.compile(r"^bundle-(\d+)-[A-Za-z0-9_]+$")


def root() -> str:
    """The spool root: petition-spool in the system's temporary folder (TMPDIR)."""
    return os.path.join(tempfile.gettempdir(), "petition-spool")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_abandoned() -> int:
    """Remove the spool folders of workers that are not running any more. Returns how
    many were removed. Called when a job worker starts."""
    base = root()
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return 0
    removed = 0
    for name in names:
        match = SPOOL_FOLDER.match(name)
        if match and int(match.group(1)) != os.getpid() and not _running(int(match.group(1))):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            removed += 1
    return removed


RECEIPT_RUN = 50_000  # receipts sorted in memory at a time (~6 MB)


class _SpoolFile:
    """A temporary file written as pickled lists: appended values wait in memory until
    `buffered` of them are there, then flush() writes them."""

    def __init__(self, directory: str, name: str, buffered: int):
        self.path = os.path.join(directory, name)
        self._handle = open(self.path, "wb")
        self._buffer: list = []
        self._buffered = buffered
        self.count = 0

    def append(self, value) -> None:
        self._buffer.append(value)
        self.count += 1
        if len(self._buffer) >= self._buffered:
            self.flush()

    def flush(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.flush()
        self._handle.close()


class _Records(_SpoolFile):
    """An append-only temporary file of pickled lists, read back in order once."""

    def __init__(self, directory: str, name: str):
        super().__init__(directory, name, BATCH)

    def flush(self) -> None:
        if self._buffer:
            pickle.dump(self._buffer, self._handle, protocol=pickle.HIGHEST_PROTOCOL)
            self._buffer = []

    def __iter__(self) -> Iterator:
        with open(self.path, "rb") as handle:
            while True:
                try:
                    batch = pickle.load(handle)
                except EOFError:
                    return
                yield from batch


class _SortedRuns(_SpoolFile):
    """Strings appended in any order, read back sorted and without repeats: sorted runs
    of RECEIPT_RUN in one file, merged lazily (one open handle per run)."""

    def __init__(self, directory: str, name: str):
        super().__init__(directory, name, RECEIPT_RUN)
        self._offsets: list[int] = []

    def flush(self) -> None:
        if self._buffer:
            self._buffer.sort()
            self._offsets.append(self._handle.tell())
            for start in range(0, len(self._buffer), BATCH):
                pickle.dump(self._buffer[start:start + BATCH], self._handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(None, self._handle)  # end of the run
            self._buffer = []

    def _run(self, offset: int) -> Iterator[str]:
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            while (batch := pickle.load(handle)) is not None:
                yield from batch

    def __iter__(self) -> Iterator[str]:
        previous = None
        for value in heapq.merge(*(self._run(offset) for offset in self._offsets)):
            if value != previous:
                yield value
                previous = value


@dataclass
class Spool:
    directory: str
    named: _Records
    receipts: _SortedRuns
    paper: _Records
    countries: Counter = field(default_factory=Counter)
    included: int = 0  # online signatures
    paper_included: int = 0

    @property
    def counted_only(self) -> int:
        return self.included - self.named.count

    @property
    def paper_counted_only(self) -> int:
        return self.paper_included - self.paper.count

    @property
    def country_total(self) -> int:
        return len([code for code, n in self.countries.items() if n and code != "ZZ"])


def included_signatures(letter_id: int):
    """Confirmed, not hidden: what the public count counts. Withdrawn ones are deleted."""
    return (Signature.letter_id == letter_id, Signature.counted)


def collect(session: Session, letter_id: int, *, progress: Callable[[int], None] | None = None,
            batch: int = BATCH) -> Spool:
    """One streaming query on a connection of its own, in signing order (the index on
    letter, status and confirmation time serves it without a sort). Its own connection,
    so that the job runner's progress commits on the session do not end the cursor; on
    SQLite (WAL) and PostgreSQL alike a reader does not hold up people signing."""
    os.makedirs(root(), mode=0o700, exist_ok=True)
    directory = tempfile.mkdtemp(prefix=f"bundle-{os.getpid()}-", dir=root())
    spool = Spool(directory, _Records(directory, "named"), _SortedRuns(directory, "receipts"),
                  _Records(directory, "paper"))
    columns = (Signature.bundle_visibility, Signature.public_visibility, Signature.name_enc,
               Signature.affiliation_enc, Signature.country, Signature.confirmed_at, Signature.receipt_hash)
    query = (select(*columns).where(*included_signatures(letter_id))
             .order_by(Signature.confirmed_at, Signature.id))
    with session.get_bind().connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch).execute(query)
        for rows in result.partitions(batch):
            for bundle_visibility, public_visibility, name_enc, affiliation_enc, country, confirmed_at, receipt in rows:
                spool.included += 1
                spool.countries[country or "ZZ"] += 1
                if receipt:
                    spool.receipts.append(receipt)
                if disclosure.named_in_bundle(bundle_visibility) and name_enc:
                    day = confirmed_at.date().isoformat() if confirmed_at else ""
                    # An affiliation the bundle will not print is not even spooled.
                    affiliation = affiliation_enc if disclosure.shows_affiliation(public_visibility) else None
                    spool.named.append((name_enc, affiliation, public_visibility, country or "ZZ", day))
            if progress:
                progress(len(rows))
        result.close()
        _collect_paper(connection, spool, letter_id, batch)
    spool.named.close()
    spool.receipts.close()
    spool.paper.close()
    return spool


def _collect_paper(connection, spool: Spool, letter_id: int, batch: int) -> None:
    """The paper signatures, in import order: (name token, country, day, place) for
    those to be named; all of them counted, by country too."""
    query = (select(PaperSignature.bundle_visibility, PaperSignature.name_enc, PaperSignature.country,
                    PaperSignature.collected_on, PaperSignature.place)
             .where(PaperSignature.letter_id == letter_id).order_by(PaperSignature.id))
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(query)
    for rows in result.partitions(batch):
        for bundle_visibility, name_enc, country, collected_on, place in rows:
            spool.paper_included += 1
            spool.countries[country or "ZZ"] += 1
            if disclosure.named_in_bundle(bundle_visibility) and name_enc:  # no name left after a purge
                spool.paper.append((name_enc, country or "ZZ", collected_on.isoformat(), place))
    result.close()


def remove(spool: Spool) -> None:
    for records in (spool.named, spool.receipts, spool.paper):
        try:
            records.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            os.unlink(records.path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(spool.directory)
    except OSError:
        pass
