"""The gateway: a pipeline of steps from a client's request to an upstream's answer."""
