"""WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""

import sys

from tokenaudit import create_app
from tokenaudit.config import InvalidSetting
from tokenaudit.external_links import InvalidExternalUrl

# Exit status of a setting that has to be fixed first: gunicorn's "worker failed to boot", on
# which its master stops rather than boot workers that fail alike, again and again; the mail
# sender's systemd unit does not restart on it either (RestartPreventExitStatus).
BAD_SETTING_STATUS = 3

try:
    app = create_app()
except (InvalidSetting, InvalidExternalUrl) as error:
    # One line naming the variable rather than a traceback that buries it.
    print(f"TokenAudit cannot start: {error}", file=sys.stderr)
    raise SystemExit(BAD_SETTING_STATUS) from None
