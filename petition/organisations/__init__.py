"""Organisations co-signing letters: form, confirmation, approval by a campaign lead."""
