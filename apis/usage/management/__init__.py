"""Management commands of usage accounting."""
