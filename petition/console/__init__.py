"""The campaign leads' console: login with TOTP, per-letter dashboards, moderation, audit."""
