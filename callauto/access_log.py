"""Gunicorn's access log without the portal's polling (a live page asks every second or
two, which buried `make run`'s banner within a minute). Errors are still logged.

Used by the Procfile: `--logger-class callauto.access_log.QuietPollingLogger`."""

import re
from typing import Any

from gunicorn.glogging import Logger

# The portal's polled endpoints: call timelines, softphone state, live lists (?live=1).
POLLING = re.compile(r"/portal/t/[^/]+/(calls/\d+/timeline/|softphone/state/)|[?&]live=1(&|$)")


def is_polling(path: str, query: str, status: int) -> bool:
    return status < 400 and bool(POLLING.search(f"{path}?{query}" if query else path))


class QuietPollingLogger(Logger):
    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        status = int(str(getattr(resp, "status", "200")).split()[0])
        if is_polling(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), status):
            return
        super().access(resp, req, environ, request_time)
