"""What a person trying callauto needs to start: the demo tenant's portal, logins and
connection string. Printed by `seed_demo` and `demo_info`, shown on the login page under
DEBUG (the passwords are random per checkout and kept in var/, mode 0600)."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tenants.models import AccessKey, Tenant

DEMO_SLUG = "demo"
DEMO_USER = "demo"
OPERATOR_USER = "operator"


def kept_password(name: str) -> str:
    """A random password made once and kept under var/, so re-seeding keeps the login."""
    path: Path = settings.VAR_DIR / f"{name}_password"
    if not path.exists():
        settings.VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class DemoInfo:
    portal: str
    portal_tls: str
    login: str
    password: str
    operator: str
    operator_password: str
    connection_string: str
    ca: str


def demo_info() -> DemoInfo | None:
    """The demo's facts, or None when `seed_demo` has not run."""
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is None:
        return None
    primary = AccessKey.objects.for_tenant(tenant).get(name=AccessKey.Name.PRIMARY)
    http_port = os.environ.get("HTTP_PORT", "8000")  # as the Procfile binds it
    return DemoInfo(
        portal=f"http://127.0.0.1:{http_port}/portal/",
        portal_tls=f"{settings.PUBLIC_BASE_URL}/portal/",
        login=DEMO_USER,
        password=kept_password("demo"),
        operator=OPERATOR_USER,
        operator_password=kept_password("operator"),
        connection_string=tenant.connection_string(primary),
        ca=str(settings.VAR_DIR / "tls" / "ca.pem"),
    )


def banner(info: DemoInfo, *extra: str) -> str:
    return "\n".join(
        [
            "",
            "callauto demo tenant is ready.",
            f"  Portal:            {info.portal}  (or {info.portal_tls})",
            f"  Login:             {info.login} / {info.password}",
            f"  Platform operator: {info.operator} / {info.operator_password}"
            "  (/admin/ and the all-tenant usage report)",
            f"  Connection string: {info.connection_string}",
            f"  Trust the TLS CA:  export REQUESTS_CA_BUNDLE={info.ca}",
            *extra,
            "  Print this again:  .venv/bin/python manage.py demo_info",
            "",
        ]
    )
