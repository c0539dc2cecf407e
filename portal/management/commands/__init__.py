"""The portal's management commands."""
