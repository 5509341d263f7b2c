"""Signatures collected on paper or offline, imported by a campaign lead from a CSV file."""
