"""Individual signatures: the form, email verification, withdrawal, counts, public list."""
