"""Settings of the developer portal: PORTCULLIS["PORTAL"]."""

from core.conf import AppSettings

portal_settings = AppSettings(
    "PORTAL",
    {
        # django-ratelimit rate of signups per client address.
        "SIGNUP_RATE": "5/h",
        # Failed passwords at every password endpoint (portal.password_guard): per client
        # address and per account from clients without the account's device cookie, and per
        # device cookie.
        "LOGIN_RATE": "10/m",
        "LOGIN_ACCOUNT_RATE": "10/15m",
        "LOGIN_DEVICE_RATE": "10/15m",
        # How long a device cookie, handed out at a successful sign-in, vouches for its client.
        "DEVICE_COOKIE_AGE": 90 * 24 * 3600,
        # Bearer token that opens /metrics to a scraper; empty: staff and loopback only.
        "METRICS_TOKEN": "",
        # Wrong metrics tokens per client address before 429.
        "METRICS_TOKEN_RATE": "10/m",
    },
)
