"""Settings of the developer portal: PORTCULLIS["PORTAL"]."""

from core.conf import AppSettings

portal_settings = AppSettings(
    "PORTAL",
    {
        # django-ratelimit rates, per client address, of signup and login attempts.
        "SIGNUP_RATE": "5/h",
        "LOGIN_RATE": "10/m",
        # Bearer token that opens /metrics to a scraper; empty: staff and loopback only.
        "METRICS_TOKEN": "",
    },
)
