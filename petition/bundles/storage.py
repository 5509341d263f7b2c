"""Stored bundles, encrypted at rest.

A bundle names signers who chose to be named to the addressee but not on the public
page, so a copy of the database must not hold it in the clear. The PDF is sealed in
chunks of about 1 MB (petition.crypto's streaming AEAD) under a key of its own, wrapped
by DATA_KEYS, and stored as BundleChunk rows: writing and reading hold one chunk in
memory, whatever the bundle's size. Bundle.sha256 stays the hash of the plain PDF, the
one the addressee verifies.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from petition import crypto
from petition.bundles.models import Bundle, BundleChunk


def _pieces(source: BinaryIO) -> Iterator[bytes]:
    while piece := source.read(crypto.STREAM_CHUNK):
        yield piece


def store(session: Session, bundle: Bundle, source: BinaryIO) -> None:
    """Add the new bundle and its PDF, read from source and sealed chunk by chunk, in
    the caller's transaction."""
    key, bundle.pdf_key = crypto.new_stream_key()
    session.add(bundle)
    session.flush()
    for seq, sealed in enumerate(crypto.seal_stream(key, _pieces(source), bundle.id.encode())):
        session.execute(insert(BundleChunk).values(bundle_id=bundle.id, seq=seq, data=sealed))


def _sealed_chunks(session: Session, bundle_id: str) -> Iterator[bytes]:
    # One chunk a query, by primary key: never the whole PDF in memory.
    seq = 0
    while (data := session.scalar(select(BundleChunk.data).where(BundleChunk.bundle_id == bundle_id,
                                                                   BundleChunk.seq == seq))) is not None:
        yield data
        seq += 1


def pdf_chunks(session: Session, bundle: Bundle) -> Iterator[bytes]:
    """The plain PDF, chunk by chunk (raises crypto.StreamDamaged on tampering)."""
    key = crypto.unwrap_stream_key(bundle.pdf_key)
    return crypto.open_stream(key, _sealed_chunks(session, bundle.id), bundle.id.encode())
