"""Response headers, client keys for rate limits, and the limits themselves."""
