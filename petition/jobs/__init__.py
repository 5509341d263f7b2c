"""Background jobs: long work (bundle builds, update mailings) queued by a request and
run by a worker, never inside the request."""
