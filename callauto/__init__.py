"""The project: settings, the one URL configuration, HMAC authentication, the ACS error
shape and the SSRF-guarded outbound client. May import tenants; it composes the other apps
only in its URLs, API router and demo seeding.
"""
