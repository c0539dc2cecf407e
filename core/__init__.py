"""Shared foundation of every Portcullis app: the error family, problem+json and settings."""
