"""The API lifecycle: states, the one transition table, history and the transition service."""
