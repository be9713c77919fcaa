"""A Django project configured in its settings: what `manage.py runserver` loads twice."""
