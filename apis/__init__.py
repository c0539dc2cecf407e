"""The API catalog: APIs, plans, subscriptions, and the gateway that serves them."""
