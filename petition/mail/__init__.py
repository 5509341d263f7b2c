"""Mail: an outbox written in the caller's transaction, and senders that drain it."""
