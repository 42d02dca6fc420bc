"""Pusher with an atomic push to a filesystem destination (component.py, executor.py)."""
