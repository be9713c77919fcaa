"""A minimal Django project, served over WSGI by gunicorn (``shop_django.wsgi:create_app()``)."""
