"""Deliveries: one record per addressee, a public hash-chained log, the company's side."""
