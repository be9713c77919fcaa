"""Django's command line for the test project."""

import os
import sys

from django.core.management import execute_from_command_line

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_shop.settings")
execute_from_command_line(sys.argv)
