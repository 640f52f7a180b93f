"""Settings for the test suite: production settings, served over plain HTTP (the test
client and the live server speak HTTP; `check --deploy` is tested with HTTPS on)."""

import os

os.environ.setdefault("RXDESK_HTTPS", "0")

from rxdesk.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
