"""Who the caller is: applications, their secrets, the token keys and the OAuth endpoints."""
