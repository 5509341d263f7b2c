"""Delivery bundles: signed PDFs of a letter and its signatories, manifests, receipts."""
