"""Read-only JSON API. Never returns personal data."""
