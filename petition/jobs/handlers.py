"""Importing this module registers every area's job handlers with the runner."""
