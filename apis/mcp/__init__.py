"""Model Context Protocol: the caller's subscribed APIs as tools, over Streamable HTTP."""
